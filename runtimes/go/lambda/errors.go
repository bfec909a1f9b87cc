package lambda

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
)

// errorPayload is the error document posted to the Runtime API, shaped like
// aws-lambda-go's (errorMessage, errorType, and stackTrace for panics).
type errorPayload struct {
	Message    string       `json:"errorMessage"`
	Type       string       `json:"errorType"`
	StackTrace []stackFrame `json:"stackTrace,omitempty"`
}

// stackFrame is one frame of a panic's stack trace.
type stackFrame struct {
	Path  string `json:"path"`
	Line  int    `json:"line"`
	Label string `json:"label"`
}

// errorType names the dynamic type of v the way aws-lambda-go does: the type's name,
// dereferencing one pointer (errors.New → "errorString", a *MyError → "MyError").
func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Ptr {
		return t.Elem().Name()
	}
	return t.Name()
}

// panicPayload describes a recovered panic value, with the stack of the panicking
// goroutine (called from the deferred recover).
func panicPayload(v any) errorPayload {
	return errorPayload{
		Message:    fmt.Sprintf("%v", v),
		Type:       errorType(v),
		StackTrace: panicStack(),
	}
}

// panicStack returns the frames between the panic and the package's own invoke/init
// wrapper: the user's code (and runtime frames below gopanic are skipped too).
func panicStack() []stackFrame {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	var out []stackFrame
	seenPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			seenPanic = true
		case f.Function == "cove.invalid/lambda.invoke" || f.Function == "cove.invalid/lambda.runInit":
			return out
		case seenPanic && !strings.HasPrefix(f.Function, "runtime."):
			label := f.Function
			if i := strings.LastIndex(label, "/"); i >= 0 {
				label = label[i+1:]
			}
			out = append(out, stackFrame{Path: f.File, Line: f.Line, Label: label})
		}
		if !more {
			return out
		}
	}
}
