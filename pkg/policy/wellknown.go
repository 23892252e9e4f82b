package policy

import "strings"

// WellKnown describes what an AWS-managed policy grants, for exports that
// name the policy without its document. AWS maintains these documents; the
// classes below were checked against their published default versions.
type WellKnown struct {
	Name   string
	Grants []Grant // empty: the policy grants nothing this audit looks for
}

var wellKnown = map[string]WellKnown{
	"AdministratorAccess": {Grants: []Grant{{Index: -1, Class: ClassAdmin, Unrestricted: true,
		Reason: "AWS-managed AdministratorAccess allows Action \"*\" on Resource \"*\""}}},
	"PowerUserAccess": {Grants: []Grant{{Index: -1, Class: ClassNearAdmin, Unrestricted: true,
		Reason: "AWS-managed PowerUserAccess allows every action except IAM, Organizations and Account management (NotAction) on Resource \"*\""}}},
	"IAMFullAccess": {Grants: []Grant{{Index: -1, Class: ClassEscalation, Unrestricted: true,
		Reason: "AWS-managed IAMFullAccess allows \"iam:*\" on Resource \"*\": the role can grant itself admin"}}},
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

// LookupWellKnown recognises an AWS-managed policy by ARN in any partition
// (arn:aws:, arn:aws-cn:, arn:aws-us-gov:).
func LookupWellKnown(arn string) (WellKnown, bool) {
	const marker = ":iam::aws:policy/"
	i := strings.Index(arn, marker)
	if !strings.HasPrefix(arn, "arn:") || i < 0 {
		return WellKnown{}, false
	}
	name := arn[i+len(marker):]
	wk, ok := wellKnown[name]
	wk.Name = name
	return wk, ok
}
