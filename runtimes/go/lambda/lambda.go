// Package lambda runs a Go function under cove (or AWS Lambda's `provided` runtimes)
// by speaking the Lambda Runtime API: it fetches the next invocation, calls the
// handler with a context that carries the deadline and the request id, and posts the
// handler's response or error.
//
// It uses only the standard library (Go 1.19), so it builds offline:
//
//	// go.mod of the function
//	module example.com/hello
//	go 1.19
//	require cove.invalid/lambda v0.0.0
//	replace cove.invalid/lambda => /var/lib/cove/runtimes/go/lambda
//
//	// main.go
//	func main() {
//		lambda.Start(func(ctx context.Context, event json.RawMessage) (any, error) {
//			return map[string]string{"hello": "world"}, nil
//		})
//	}
//
//	$ GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 go build -o bootstrap .
//
// Error shapes follow aws-lambda-go: a returned error becomes
// {"errorMessage": err.Error(), "errorType": <Go type name of err>}; a panic becomes
// the same plus "stackTrace", is reported as the invocation's error, and then the
// process exits (the environment is not reused after a panic).
package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
)

// Handler is the untyped handler form: the raw event in, any JSON-marshalable value out.
type Handler func(ctx context.Context, event json.RawMessage) (any, error)

// Start runs the Runtime API loop with handler. It only returns by exiting the
// process (when the Runtime API goes away or after a handler panic).
func Start(handler Handler) {
	StartWithInit(nil, handler)
}

// StartWithInit runs init once (its error or panic is reported through
// /runtime/init/error and the process exits with status 1), then the loop with handler.
func StartWithInit(init func(ctx context.Context) error, handler Handler) {
	client, err := newClientFromEnv()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cove lambda: %v\n", err)
		os.Exit(1)
	}
	if handler == nil {
		client.reportInitError(errorPayload{Message: "handler is nil", Type: "Runtime.InvalidHandler"})
		os.Exit(1)
	}
	if init != nil {
		if p := runInit(init); p != nil {
			client.reportInitError(*p)
			os.Exit(1)
		}
	}
	os.Exit(client.loop(handler))
}

// StartTyped runs a handler with a typed event and result: the event is decoded from
// JSON into In (a decoding failure is the invocation's error, errorType
// "UnmarshalTypeError" or "SyntaxError" as encoding/json names them) and Out is
// encoded to JSON.
func StartTyped[In any, Out any](handler func(ctx context.Context, event In) (Out, error)) {
	Start(Typed(handler))
}

// Typed adapts a typed handler to a Handler (see StartTyped).
func Typed[In any, Out any](handler func(ctx context.Context, event In) (Out, error)) Handler {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var event In
		if err := json.Unmarshal(raw, &event); err != nil {
			return nil, err
		}
		return handler(ctx, event)
	}
}

// ReportInitError reports err as this environment's initialization error through
// /runtime/init/error and exits with status 1. Call it when setup in main fails
// before Start.
func ReportInitError(err error) {
	client, cerr := newClientFromEnv()
	if cerr != nil {
		fmt.Fprintf(os.Stderr, "cove lambda: %v (init error: %v)\n", cerr, err)
		os.Exit(1)
	}
	client.reportInitError(errorPayload{Message: err.Error(), Type: errorType(err)})
	os.Exit(1)
}

// runInit calls init, turning an error or a panic into an error payload.
func runInit(init func(ctx context.Context) error) (p *errorPayload) {
	defer func() {
		if v := recover(); v != nil {
			pp := panicPayload(v)
			p = &pp
		}
	}()
	if err := init(context.Background()); err != nil {
		return &errorPayload{Message: err.Error(), Type: errorType(err)}
	}
	return nil
}
