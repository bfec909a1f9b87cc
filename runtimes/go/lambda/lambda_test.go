package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI serves one invocation from `next`, then 500s (which ends the loop), and
// records what the runtime posted.
type fakeAPI struct {
	mu       sync.Mutex
	served   bool
	deadline time.Time
	posts    []post
}

type post struct {
	path, errorType string
	body            []byte
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/2018-06-01/runtime/invocation/next":
		if f.served {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		f.served = true
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "req-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(f.deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:f")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-abc")
		_, _ = w.Write([]byte(`{"n":41}`))
	case r.Method == http.MethodPost:
		body, _ := io.ReadAll(r.Body)
		f.posts = append(f.posts, post{r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type"), body})
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func run(t *testing.T, h Handler) (*fakeAPI, int) {
	t.Helper()
	api := &fakeAPI{deadline: time.Now().Add(time.Minute)}
	srv := httptest.NewServer(api)
	defer srv.Close()
	t.Setenv("AWS_LAMBDA_RUNTIME_API", strings.TrimPrefix(srv.URL, "http://"))
	c, err := newClientFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	status := c.loop(h)
	return api, status
}

func TestResponseRoundTripCarriesContext(t *testing.T) {
	api, status := run(t, func(ctx context.Context, event json.RawMessage) (any, error) {
		ic, ok := FromContext(ctx)
		if !ok {
			return nil, errors.New("no invocation context")
		}
		deadline, _ := ctx.Deadline()
		var in struct{ N int }
		if err := json.Unmarshal(event, &in); err != nil {
			return nil, err
		}
		return map[string]any{"n": in.N + 1, "id": ic.AwsRequestID, "arn": ic.InvokedFunctionArn,
			"deadline_ms": deadline.UnixMilli()}, nil
	})
	if status != 1 || len(api.posts) != 1 {
		t.Fatalf("status %d, posts %+v", status, api.posts)
	}
	p := api.posts[0]
	if p.path != "/2018-06-01/runtime/invocation/req-1/response" {
		t.Fatalf("posted to %s", p.path)
	}
	var got map[string]any
	if err := json.Unmarshal(p.body, &got); err != nil {
		t.Fatal(err)
	}
	if got["n"] != float64(42) || got["id"] != "req-1" || got["arn"] != "arn:aws:lambda:us-east-1:000000000000:function:f" ||
		got["deadline_ms"] != float64(api.deadline.UnixMilli()) {
		t.Fatalf("response %s", p.body)
	}
}

type customError struct{ why string }

func (e *customError) Error() string { return e.why }

func TestReturnedErrorIsNamedByItsGoType(t *testing.T) {
	api, _ := run(t, func(context.Context, json.RawMessage) (any, error) {
		return nil, &customError{"it broke"}
	})
	p := api.posts[0]
	if p.path != "/2018-06-01/runtime/invocation/req-1/error" || p.errorType != "customError" {
		t.Fatalf("post %+v", p)
	}
	var got map[string]any
	_ = json.Unmarshal(p.body, &got)
	if got["errorMessage"] != "it broke" || got["errorType"] != "customError" || got["stackTrace"] != nil {
		t.Fatalf("error body %s", p.body)
	}
}

func TestPanicIsReportedWithStackAndEndsTheLoop(t *testing.T) {
	api, status := run(t, func(context.Context, json.RawMessage) (any, error) {
		panic("kaboom")
	})
	if status != 1 || len(api.posts) != 1 {
		t.Fatalf("status %d posts %+v", status, api.posts)
	}
	var got errorPayload
	if err := json.Unmarshal(api.posts[0].body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Message != "kaboom" || got.Type != "string" || len(got.StackTrace) == 0 {
		t.Fatalf("panic body %s", api.posts[0].body)
	}
	if !strings.Contains(got.StackTrace[0].Label, "TestPanicIsReportedWithStackAndEndsTheLoop") {
		t.Fatalf("first frame %+v is not the panicking function", got.StackTrace[0])
	}
}

func TestTypedHandlerDecodesAndEncodes(t *testing.T) {
	type in struct{ N int }
	type out struct {
		Double int `json:"double"`
	}
	api, _ := run(t, Typed(func(_ context.Context, e in) (out, error) { return out{e.N * 2}, nil }))
	if string(api.posts[0].body) != `{"double":82}` {
		t.Fatalf("typed response %s", api.posts[0].body)
	}
}

func TestInitPanicAndErrorBecomePayloads(t *testing.T) {
	p := runInit(func(context.Context) error { panic(errors.New("no config")) })
	if p == nil || p.Message != "no config" || p.Type != "errorString" {
		t.Fatalf("init panic payload %+v", p)
	}
	p = runInit(func(context.Context) error { return &customError{"bad env"} })
	if p == nil || p.Type != "customError" || p.StackTrace != nil {
		t.Fatalf("init error payload %+v", p)
	}
	if runInit(func(context.Context) error { return nil }) != nil {
		t.Fatal("a successful init produced a payload")
	}
}
