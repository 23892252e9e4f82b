package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// describeAPIError renders an SDK error for a report: the service's error
// code and message when there is one, and a plain note when the audit ran
// out of time.
func describeAPIError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "skipped: the audit ran out of time (" + err.Error() + ")"
	}
	prefix := ""
	var gaveUp *retry.MaxAttemptsError
	if errors.As(err, &gaveUp) {
		prefix = fmt.Sprintf("gave up after %d attempts: ", gaveUp.Attempt)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		msg := apiErr.ErrorCode()
		if m := apiErr.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		return prefix + msg
	}
	if gaveUp != nil {
		return prefix + gaveUp.Err.Error()
	}
	return err.Error()
}
