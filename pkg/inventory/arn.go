package inventory

import (
	"fmt"
	"regexp"
	"strings"
)

// FunctionARN is a parsed Lambda function ARN.
type FunctionARN struct {
	Partition, Region, Account, Name string
}

// functionARNPattern: arn:<partition>:lambda:<region>:<12-digit account>:
// function:<name>, optionally with a version or alias qualifier.
var functionARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,140})(:[A-Za-z0-9$_-]+)?$`)

// ParseFunctionARN checks that s is a Lambda function ARN and splits it.
// The error says what a function ARN looks like, so a function name given
// where an ARN is needed gets a clear answer.
func ParseFunctionARN(s string) (FunctionARN, error) {
	m := functionARNPattern.FindStringSubmatch(s)
	if m == nil || !ValidRegion(m[2]) {
		hint := ""
		if s != "" && !strings.Contains(s, ":") {
			hint = " (a function name; give its ARN: aws lambda get-function --function-name " + s + " --query Configuration.FunctionArn)"
		}
		return FunctionARN{}, fmt.Errorf("%q is not a Lambda function ARN: expected arn:aws:lambda:<region>:<12-digit account>:function:<name>%s", s, hint)
	}
	return FunctionARN{Partition: m[1], Region: m[2], Account: m[3], Name: m[4]}, nil
}
