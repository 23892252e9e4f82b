package policy

import "strings"

// WellKnown describes an AWS-managed policy for exports that name the
// policy without its document: what its default version allows, in the
// statements that matter to this audit. AWS maintains these documents; the
// statements below were checked against their published default versions.
type WellKnown struct {
	Name       string
	Statements []Statement // empty: the policy grants nothing this audit looks for
}

func allow(actions, notActions []string) Statement {
	return Statement{Effect: Allow, Action: actions, NotAction: notActions, Resource: []string{"*"}}
}

var wellKnown = map[string]WellKnown{
	"AdministratorAccess": {Statements: []Statement{allow([]string{"*"}, nil)}},
	// Every action but IAM, Organizations and Account management.
	"PowerUserAccess": {Statements: []Statement{allow(nil, []string{"iam:*", "organizations:*", "account:*"})}},
	"IAMFullAccess":   {Statements: []Statement{allow([]string{"iam:*"}, nil)}},
	// Managed policies that the remediation attaches, and common read-only
	// ones: recognised so that leaving them out of an export does not make
	// a role unevaluated.
	"service-role/AWSLambdaBasicExecutionRole":             {},
	"service-role/AWSLambdaVPCAccessExecutionRole":         {},
	"service-role/AWSLambdaSQSQueueExecutionRole":          {},
	"service-role/AWSLambdaKinesisExecutionRole":           {},
	"service-role/AWSLambdaDynamoDBExecutionRole":          {},
	"service-role/AWSLambdaMSKExecutionRole":               {},
	"AWSXRayDaemonWriteAccess":                             {},
	"CloudWatchLambdaInsightsExecutionRolePolicy":          {},
	"service-role/AmazonS3ObjectLambdaExecutionRolePolicy": {},
	"ReadOnlyAccess": {},
	"SecurityAudit":  {},
}

// LookupWellKnown recognises an AWS-managed policy by its ARN in any
// partition: exactly arn:<partition>:iam::aws:policy/<path><name>, with
// "aws" as the account field. A customer policy whose path merely contains
// that text is not AWS-managed.
func LookupWellKnown(arn string) (WellKnown, bool) {
	if !IsAWSManaged(arn) {
		return WellKnown{}, false
	}
	name := strings.SplitN(arn, ":", 6)[5][len("policy/"):]
	wk, ok := wellKnown[name]
	wk.Name = name
	return wk, ok
}

// IsAWSManaged reports whether an ARN is an AWS-managed policy's:
// arn:<partition>:iam::aws:policy/... and nothing else.
func IsAWSManaged(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && strings.HasPrefix(parts[1], "aws") &&
		parts[2] == "iam" && parts[3] == "" && parts[4] == "aws" && strings.HasPrefix(parts[5], "policy/") &&
		!strings.Contains(parts[5], ":")
}
