package inventory

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestEnvironmentReferences: only values that name a resource are kept,
// as that resource; every other value (a password, a URL, a number) is
// dropped and appears nowhere in the function.
func TestEnvironmentReferences(t *testing.T) {
	vars := map[string]string{
		"TABLE_ARN":  "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
		"QUEUE_URL":  "https://sqs.us-east-1.amazonaws.com/123456789012/orders-queue",
		"OLD_QUEUE":  "https://eu-west-1.queue.amazonaws.com/123456789012/legacy.fifo",
		"EXPORTS":    "s3://cc-exports/daily/",
		"BUCKET_ARN": "arn:aws:s3:::cc-raw",
		"DB_PASS":    "hunter2-arn:aws:x",
		"API_URL":    "https://api.example.com/v1",
		"ARN_TEXT":   "not arn:aws:s3:::x",
		"COUNT":      "42",
	}
	got := environmentReferences(vars, "aws")
	want := []Reference{
		{"env:BUCKET_ARN", "arn:aws:s3:::cc-raw"},
		{"env:EXPORTS", "arn:aws:s3:::cc-exports"},
		{"env:OLD_QUEUE", "arn:aws:sqs:eu-west-1:123456789012:legacy.fifo"},
		{"env:QUEUE_URL", "arn:aws:sqs:us-east-1:123456789012:orders-queue"},
		{"env:TABLE_ARN", "arn:aws:dynamodb:us-east-1:123456789012:table/orders"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// Through the snapshot reader: the function keeps no other value.
	raw := `{"FunctionName": "f", "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f", "Role": "arn:aws:iam::123456789012:role/r",
		"Environment": {"Variables": {"DB_PASS": "hunter2", "TABLE": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}}}`
	var f cliFunction
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		t.Fatal(err)
	}
	fn := f.toFunction("us-east-1")
	b, _ := json.Marshal(fn)
	if strings.Contains(string(b), "hunter2") || len(fn.References) != 1 {
		t.Errorf("function %s", b)
	}
}
