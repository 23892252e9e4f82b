// Package remediation plans, renders and applies the fix for a function
// whose execution role is shared or grants admin: its own role, trusted by
// Lambda only, with only the AWS-managed policies its configuration shows
// it needs and inline statements scoped to the exact resources it names.
//
// Planning is pure; applying (apply.go) is the only code in the project
// that changes an account, and only from the command line on request.
package remediation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
)

// Plan is one function's least-privilege role. The type is declared with
// the report that carries it (audit.Plan), so that the rules need not
// import this package; planning and applying one stay here.
type Plan = audit.Plan

// Statement is one inline statement of a plan, always on exact ARNs.
type Statement struct {
	Sid       string                       `json:"Sid"`
	Effect    string                       `json:"Effect"`
	Action    []string                     `json:"Action"`
	Resource  []string                     `json:"Resource"`
	Condition map[string]map[string]string `json:"Condition,omitempty"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// TrustPolicy lets Lambda, and only Lambda, assume the role.
const TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// AWS-managed policies the plan attaches, by path and name.
const (
	BasicExecution    = "service-role/AWSLambdaBasicExecutionRole"
	VPCAccess         = "service-role/AWSLambdaVPCAccessExecutionRole"
	SQSExecution      = "service-role/AWSLambdaSQSQueueExecutionRole"
	KinesisExecution  = "service-role/AWSLambdaKinesisExecutionRole"
	DynamoDBExecution = "service-role/AWSLambdaDynamoDBExecutionRole"
	MSKExecution      = "service-role/AWSLambdaMSKExecutionRole"
	XRayWrite         = "AWSXRayDaemonWriteAccess"
	LambdaInsights    = "CloudWatchLambdaInsightsExecutionRolePolicy"
)

// DataAccessUnknown is always true of a role that replaces a shared or
// admin one: what the function itself reads and writes was granted by the
// old role and leaves no trace in its configuration.
const DataAccessUnknown = "The function's own data access (the S3 buckets, DynamoDB tables, queues, secrets and APIs its code calls) was granted by the old role and cannot be read from its configuration: add statements scoped to those resources before switching, or the function will be denied them (lambda-role-audit plan --usage drafts them from the function's own calls in CloudTrail)."

// New plans a function's role. mappings are its event source mappings;
// mappingsRead is false when they could not be read.
func New(fn inventory.Function, mappings []inventory.EventSourceMapping, mappingsRead bool) Plan {
	partition := arnPart(fn.ARN, 1)
	if partition == "" {
		partition = "aws"
	}
	account := arnPart(fn.ARN, 4)
	p := Plan{
		FunctionARN:  fn.ARN,
		FunctionName: fn.Name,
		Region:       fn.Region,
		RoleName:     roleName(fn),
		TrustPolicy:  json.RawMessage(TrustPolicy),
		Unknowns:     []string{DataAccessUnknown},
	}
	p.RoleARN = fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, account, p.RoleName)
	// Mappings come in the order the API or export listed them: plan them
	// in one order, so that every path gives the same plan.
	mappings = slices.Clone(mappings)
	sort.SliceStable(mappings, func(i, j int) bool { return mappings[i].UUID < mappings[j].UUID })
	p.Referenced = references(fn, mappings)
	if note := referencedNote(p.Referenced, false); note != "" {
		p.Unknowns = append(p.Unknowns, note)
	}

	managed := map[string]bool{BasicExecution: true}
	if len(fn.SubnetIDs) > 0 {
		managed[VPCAccess] = true
	}
	if strings.EqualFold(fn.TracingMode, "Active") {
		managed[XRayWrite] = true
	}
	for _, layer := range fn.LayerARNs {
		if strings.Contains(layer, ":layer:LambdaInsightsExtension") {
			managed[LambdaInsights] = true
		}
	}
	if !mappingsRead {
		p.Unknowns = append(p.Unknowns, "The function's event source mappings could not be read: if it polls a queue or stream, add the matching AWSLambda*ExecutionRole policy.")
	}
	for _, m := range mappings {
		policy, note := mappingPolicy(m)
		if policy != "" {
			managed[policy] = true
		}
		if note != "" {
			p.Unknowns = append(p.Unknowns, note)
		}
	}
	for name := range managed {
		p.ManagedPolicyARNs = append(p.ManagedPolicyARNs, fmt.Sprintf("arn:%s:iam::aws:policy/%s", partition, name))
	}
	sort.Strings(p.ManagedPolicyARNs)

	stmts, notes := scopedStatements(fn)
	p.Unknowns = append(p.Unknowns, notes...)
	if len(stmts) > 0 {
		b, _ := json.Marshal(document{Version: "2012-10-17", Statement: stmts}) // plain strings always marshal
		p.InlinePolicy = b
		p.InlinePolicyName = "scoped-resources"
	} else {
		p.InlinePolicy = json.RawMessage("null")
	}
	return p
}

// scopedStatements are the inline statements on the exact resources the
// configuration names (dead-letter target, environment key, file
// systems), and what it cannot tell about them.
func scopedStatements(fn inventory.Function) ([]Statement, []string) {
	var stmts []Statement
	var notes []string
	if fn.DeadLetter != "" {
		switch arnPart(fn.DeadLetter, 2) {
		case "sqs":
			stmts = append(stmts, Statement{Sid: "DeadLetterQueue", Effect: "Allow", Action: []string{"sqs:SendMessage"}, Resource: []string{fn.DeadLetter}})
		case "sns":
			stmts = append(stmts, Statement{Sid: "DeadLetterTopic", Effect: "Allow", Action: []string{"sns:Publish"}, Resource: []string{fn.DeadLetter}})
		default:
			notes = append(notes, fmt.Sprintf("The dead-letter target %s is neither an SQS queue nor an SNS topic; grant its write action by hand.", fn.DeadLetter))
		}
	}
	if fn.KMSKeyARN != "" {
		stmts = append(stmts, Statement{Sid: "EnvironmentKey", Effect: "Allow", Action: []string{"kms:Decrypt"}, Resource: []string{fn.KMSKeyARN}})
	}
	for i, fs := range fn.FileSystems {
		st, note := fileSystemStatement(i, fs)
		stmts = append(stmts, st)
		notes = append(notes, note...)
	}
	return stmts, notes
}

// fileSystemStatement lets the function mount an EFS file system through
// its access point. EFS authorises ClientMount and ClientWrite on the file
// system's ARN, with the access point only as a condition key: naming the
// access point as the resource would leave the switched function unable to
// mount. When the file system is not known (a snapshot names only the
// access point), the statement covers the account's file systems in that
// region, pinned to the access point by the condition, and says so.
func fileSystemStatement(i int, fs inventory.FileSystem) (Statement, []string) {
	parts := strings.SplitN(fs.ARN, ":", 6)
	if len(parts) < 6 {
		parts = []string{"arn", "aws", "elasticfilesystem", "", "", ""}
	}
	fileSystem := fmt.Sprintf("arn:%s:elasticfilesystem:%s:%s:file-system/%s", parts[1], parts[3], parts[4], fs.FileSystemID)
	var notes []string
	if fs.FileSystemID == "" {
		fileSystem += "*"
		notes = append(notes, fmt.Sprintf("The file system behind access point %s is not known here: the statement allows the account's file systems in that region through that access point only; `lambda-role-audit plan` and `remediate` against the live account read it and name it exactly.", fs.ARN))
	}
	notes = append(notes, fmt.Sprintf("Whether the function writes to the file system mounted at %s is not in its configuration: if it only reads, drop elasticfilesystem:ClientWrite.", fs.LocalMountPath))
	return Statement{
		Sid: fmt.Sprintf("FileSystem%d", i+1), Effect: "Allow",
		Action:    []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"},
		Resource:  []string{fileSystem},
		Condition: map[string]map[string]string{"StringEquals": {"elasticfilesystem:AccessPointArn": fs.ARN}},
	}, notes
}

// mappingPolicy maps an event source to the managed policy that lets
// Lambda poll it, or explains what the plan cannot cover.
func mappingPolicy(m inventory.EventSourceMapping) (policy, note string) {
	if m.SelfManagedKafka {
		return MSKExecution, ""
	}
	switch service := arnPart(m.EventSourceARN, 2); service {
	case "sqs":
		return SQSExecution, ""
	case "kinesis":
		return KinesisExecution, ""
	case "dynamodb":
		return DynamoDBExecution, ""
	case "kafka":
		return MSKExecution, ""
	case "":
		return "", fmt.Sprintf("Event source mapping %s has no source ARN; check which permissions it needs.", m.UUID)
	default:
		return "", fmt.Sprintf("Event source %s (%s) needs permissions that no AWS-managed Lambda execution policy covers; add them scoped to that ARN.", m.EventSourceARN, service)
	}
}

var roleNameUnsafe = regexp.MustCompile(`[^A-Za-z0-9+=,.@_-]`)

// roleName derives a role name from the function: its name and region, and
// a short hash of its full ARN so that names cut to IAM's 64 characters, or
// the same function name in two accounts or regions, never collide. The
// same function always gets the same name.
func roleName(fn inventory.Function) string {
	sum := sha256.Sum256([]byte(fn.ARN))
	suffix := "-" + fn.Region + "-" + hex.EncodeToString(sum[:3])
	name := roleNameUnsafe.ReplaceAllString(fn.Name, "-")
	if name == "" {
		name = "function"
	}
	if room := 64 - len(suffix); len(name) > room {
		name = name[:room]
	}
	return name + suffix
}

// arnPart returns the i-th colon-separated field of an ARN.
func arnPart(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || i >= len(parts) {
		return ""
	}
	return parts[i]
}

// AttachPlans adds a plan for every function of every finding whose role
// grants admin: a step over the evaluated report, so that the rules never
// depend on how a fix is made.
func AttachPlans(r *audit.Report, acct *inventory.Account) {
	byARN := make(map[string]inventory.Function, len(acct.Functions))
	for _, f := range acct.Functions {
		byARN[f.ARN] = f
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Rule == audit.RuleSharedRole {
			continue
		}
		for _, arn := range f.Functions {
			fn := byARN[arn]
			mappings, read := acct.MappingsFor(fn)
			f.Remediation = append(f.Remediation, New(fn, mappings, read))
		}
	}
}
