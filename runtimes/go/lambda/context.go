package lambda

import (
	"context"
	"os"
	"strconv"
	"time"
)

// Function facts from the environment Lambda (and cove) set, read once at start-up
// like aws-lambda-go's lambdacontext package.
var (
	// FunctionName is AWS_LAMBDA_FUNCTION_NAME.
	FunctionName = os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	// FunctionVersion is AWS_LAMBDA_FUNCTION_VERSION.
	FunctionVersion = os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")
	// MemoryLimitInMB is AWS_LAMBDA_FUNCTION_MEMORY_SIZE (0 when unset or malformed).
	MemoryLimitInMB, _ = strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	// LogGroupName is AWS_LAMBDA_LOG_GROUP_NAME.
	LogGroupName = os.Getenv("AWS_LAMBDA_LOG_GROUP_NAME")
	// LogStreamName is AWS_LAMBDA_LOG_STREAM_NAME.
	LogStreamName = os.Getenv("AWS_LAMBDA_LOG_STREAM_NAME")
)

// InvocationContext is what the Runtime API says about one invocation.
type InvocationContext struct {
	// AwsRequestID is Lambda-Runtime-Aws-Request-Id.
	AwsRequestID string
	// InvokedFunctionArn is Lambda-Runtime-Invoked-Function-Arn.
	InvokedFunctionArn string
	// Deadline is Lambda-Runtime-Deadline-Ms (also the context's deadline).
	Deadline time.Time
	// TraceID is Lambda-Runtime-Trace-Id (also exported as _X_AMZN_TRACE_ID).
	TraceID string
	// ClientContext is Lambda-Runtime-Client-Context (JSON, empty when absent).
	ClientContext string
	// CognitoIdentity is Lambda-Runtime-Cognito-Identity (JSON, empty when absent).
	CognitoIdentity string
}

// RemainingTime is the time left until the invocation's deadline.
func (c *InvocationContext) RemainingTime() time.Duration {
	return time.Until(c.Deadline)
}

type contextKey struct{}

// NewContext returns a copy of parent carrying ic (the handler's context has one).
func NewContext(parent context.Context, ic *InvocationContext) context.Context {
	return context.WithValue(parent, contextKey{}, ic)
}

// FromContext returns the invocation's context, if ctx is a handler's context.
func FromContext(ctx context.Context) (*InvocationContext, bool) {
	ic, ok := ctx.Value(contextKey{}).(*InvocationContext)
	return ic, ok
}
