package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

const apiVersion = "2018-06-01"

// maxErrorBody bounds how much of an unexpected Runtime API answer is quoted.
const maxErrorBody = 1024

// client talks to the Runtime API at AWS_LAMBDA_RUNTIME_API.
type client struct {
	base string
	http *http.Client
}

func newClientFromEnv() (*client, error) {
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		return nil, errors.New("AWS_LAMBDA_RUNTIME_API is not set: run this bootstrap inside a Lambda (or cove) execution environment")
	}
	return &client{
		base: "http://" + api + "/" + apiVersion + "/runtime",
		// No timeout: `next` long-polls. No proxy: the endpoint is local, and a
		// function's HTTP_PROXY must not redirect the runtime's own traffic.
		http: &http.Client{Transport: &http.Transport{Proxy: nil}},
	}, nil
}

// loop serves invocations until the Runtime API fails or a handler panics; it
// returns the process exit status.
func (c *client) loop(handler Handler) int {
	for {
		inv, err := c.next()
		if err != nil {
			fmt.Fprintf(os.Stderr, "cove lambda: fetching the next invocation: %v\n", err)
			return 1
		}
		body, payload, panicked := invoke(handler, inv)
		if payload != nil {
			err = c.post("/invocation/"+inv.ctx.AwsRequestID+"/error", payload, payload.Type)
		} else {
			err = c.postRaw("/invocation/"+inv.ctx.AwsRequestID+"/response", body, "")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cove lambda: posting the result of %s: %v\n", inv.ctx.AwsRequestID, err)
			return 1
		}
		if panicked {
			fmt.Fprintf(os.Stderr, "cove lambda: the handler panicked (%s: %s); exiting\n", payload.Type, payload.Message)
			return 1
		}
	}
}

// invocation is one `next` answer.
type invocation struct {
	ctx   InvocationContext
	event json.RawMessage
}

func (c *client) next() (*invocation, error) {
	resp, err := c.http.Get(c.base + "/invocation/next")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the event: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, truncate(body))
	}
	h := resp.Header
	inv := &invocation{event: body, ctx: InvocationContext{
		AwsRequestID:       h.Get("Lambda-Runtime-Aws-Request-Id"),
		InvokedFunctionArn: h.Get("Lambda-Runtime-Invoked-Function-Arn"),
		TraceID:            h.Get("Lambda-Runtime-Trace-Id"),
		ClientContext:      h.Get("Lambda-Runtime-Client-Context"),
		CognitoIdentity:    h.Get("Lambda-Runtime-Cognito-Identity"),
	}}
	if inv.ctx.AwsRequestID == "" {
		return nil, errors.New("the answer has no Lambda-Runtime-Aws-Request-Id header")
	}
	ms, err := strconv.ParseInt(h.Get("Lambda-Runtime-Deadline-Ms"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("Lambda-Runtime-Deadline-Ms %q is not a number of milliseconds", h.Get("Lambda-Runtime-Deadline-Ms"))
	}
	inv.ctx.Deadline = time.UnixMilli(ms)
	return inv, nil
}

// invoke calls handler for inv and returns either the response body or an error
// payload, and whether the handler panicked.
func invoke(handler Handler, inv *invocation) (body []byte, payload *errorPayload, panicked bool) {
	if inv.ctx.TraceID != "" {
		os.Setenv("_X_AMZN_TRACE_ID", inv.ctx.TraceID)
	} else {
		os.Unsetenv("_X_AMZN_TRACE_ID")
	}
	ctx, cancel := context.WithDeadline(NewContext(context.Background(), &inv.ctx), inv.ctx.Deadline)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			p := panicPayload(v)
			body, payload, panicked = nil, &p, true
		}
	}()
	result, err := handler(ctx, inv.event)
	if err != nil {
		return nil, &errorPayload{Message: err.Error(), Type: errorType(err)}, false
	}
	body, err = json.Marshal(result)
	if err != nil {
		return nil, &errorPayload{Message: err.Error(), Type: errorType(err)}, false
	}
	return body, nil, false
}

func (c *client) reportInitError(p errorPayload) {
	if err := c.post("/init/error", &p, p.Type); err != nil {
		fmt.Fprintf(os.Stderr, "cove lambda: reporting the init error (%s: %s): %v\n", p.Type, p.Message, err)
	}
}

func (c *client) post(path string, p *errorPayload, errorType string) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.postRaw(path, body, errorType)
}

func (c *client) postRaw(path string, body []byte, errorType string) error {
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if errorType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errorType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d: %s", resp.StatusCode, truncate(answer))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > maxErrorBody {
		return string(b[:maxErrorBody]) + "…"
	}
	return string(b)
}
