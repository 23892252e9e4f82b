package awsenv

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func responseError(status int, err error) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}}
}

func TestRetryPolicy(t *testing.T) {
	r := NewRetryer().(aws.RetryerV2)
	bare429 := responseError(http.StatusTooManyRequests, errors.New("slow down"))
	if !r.IsErrorRetryable(bare429) {
		t.Error("an HTTP 429 without an error code must be retried")
	}
	server := responseError(http.StatusInternalServerError, errors.New("boom"))
	if !r.IsErrorRetryable(server) {
		t.Error("a 500 must be retried")
	}
	// Throttling keeps going past the failure bound...
	if _, err := r.RetryDelay(FailureAttempts+3, bare429); err != nil {
		t.Errorf("throttling gave up at attempt %d: %v", FailureAttempts+3, err)
	}
	// ...other failures stop there, saying so.
	_, err := r.RetryDelay(FailureAttempts, server)
	var gaveUp *retry.MaxAttemptsError
	if !errors.As(err, &gaveUp) || gaveUp.Attempt != FailureAttempts {
		t.Errorf("a persistent 500 must give up at attempt %d: %v", FailureAttempts, err)
	}
	if d, err := r.RetryDelay(1, server); err != nil || d <= 0 || d > 200*time.Millisecond {
		t.Errorf("first retry delay = %v, %v; want within 200 ms", d, err)
	}
}
