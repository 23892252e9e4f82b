package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/remediation"
)

// seedWorker creates a function with a VPC, active tracing, an SQS mapping
// and a DynamoDB stream mapping, sharing an admin role with another one.
func seedWorker(t *testing.T, moto *testenv.Moto) {
	t.Helper()
	ctx := context.Background()
	cfg := moto.Config()
	moto.Seed(t, testenv.Account{
		Roles: []testenv.Role{{Name: "shared-admin", Attached: []string{awsPolicy + "AdministratorAccess"}, Inline: map[string]string{"extra": testenv.Doc(s3Read)}}},
		Functions: []testenv.Function{
			{Region: "us-east-1", Name: "worker", Role: "shared-admin", SubnetIDs: []string{"subnet-0a1b2c3d"}, ActiveTracing: true},
			{Region: "us-east-1", Name: "other", Role: "shared-admin"},
		},
	})
	if _, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	create := exec.Command("aws", "dynamodb", "create-table", "--table-name", "events", "--attribute-definitions", "AttributeName=id,AttributeType=S",
		"--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST", "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE",
		"--query", "TableDescription.LatestStreamArn", "--output", "text")
	create.Env = append(os.Environ(), moto.Env()...)
	out, err := create.Output()
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	lc := lambda.NewFromConfig(cfg)
	for _, src := range []string{"arn:aws:sqs:us-east-1:" + testenv.AccountID + ":orders", strings.TrimSpace(string(out))} {
		in := &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"), EventSourceArn: aws.String(src)}
		if strings.Contains(src, ":dynamodb:") {
			in.StartingPosition = lambdatypes.EventSourcePositionLatest
		}
		if _, err := lc.CreateEventSourceMapping(ctx, in); err != nil {
			t.Fatalf("mapping %s: %v", src, err)
		}
	}
}

func workerPlan(t *testing.T, rep *audit.Report) remediation.Plan {
	t.Helper()
	for _, f := range rep.Findings {
		if f.RoleName != "shared-admin" {
			continue
		}
		if f.Rule != audit.RuleSharedAdminRole || len(f.Remediation) != 2 {
			t.Fatalf("finding for shared-admin: %+v", f)
		}
		for _, p := range f.Remediation {
			if p.FunctionName == "worker" {
				return p
			}
		}
	}
	t.Fatalf("no remediation for worker in %+v", rep.Findings)
	return remediation.Plan{}
}

func attachedTo(t *testing.T, c *iam.Client, role string) []string {
	t.Helper()
	out, err := c.ListAttachedRolePolicies(context.Background(), &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, p := range out.AttachedPolicies {
		arns = append(arns, aws.ToString(p.PolicyArn))
	}
	sort.Strings(arns)
	return arns
}

func TestRemediationPlansAndApplyOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	testenv.Require(t, "aws")
	seedWorker(t, moto)
	wantPolicies := []string{
		awsPolicy + "AWSXRayDaemonWriteAccess",
		awsPolicy + "service-role/AWSLambdaBasicExecutionRole",
		awsPolicy + "service-role/AWSLambdaDynamoDBExecutionRole",
		awsPolicy + "service-role/AWSLambdaSQSQueueExecutionRole",
		awsPolicy + "service-role/AWSLambdaVPCAccessExecutionRole",
	}

	live, _ := runJSON(t, moto.Env(), "--regions", "us-east-1")
	plan := workerPlan(t, live)
	if !reflect.DeepEqual(plan.ManagedPolicyARNs, wantPolicies) || plan.HasInline() || len(plan.Unknowns) != 1 {
		t.Fatalf("live plan: %+v", plan)
	}

	dir := exportSnapshot(t, moto, "us-east-1")
	snap, _ := runJSON(t, nil, "--snapshot", dir)
	if got := workerPlan(t, snap); !samePlan(got, plan) {
		t.Fatalf("snapshot plan differs:\n%+v\n%+v", got, plan)
	}

	stdout, stderr, code := run(t, moto.Env(), "plan", "--function", plan.FunctionARN, "--format", "json")
	var single remediation.Plan
	if code != 0 || json.Unmarshal([]byte(stdout), &single) != nil || !samePlan(single, plan) {
		t.Fatalf("plan command: exit %d %s %s", code, stdout, stderr)
	}

	iamc := iam.NewFromConfig(moto.Config())
	lc := lambda.NewFromConfig(moto.Config())
	oldAttached := attachedTo(t, iamc, "shared-admin")
	oldRole, _ := iamc.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("shared-admin")})

	// Without --yes nothing changes.
	stdout, _, code = run(t, moto.Env(), "remediate", "--function", plan.FunctionARN)
	if code != 0 || !strings.Contains(stdout, "aws iam create-role --role-name "+plan.RoleName) || !strings.Contains(stdout, "Dry run") {
		t.Fatalf("dry run: exit %d\n%s", code, stdout)
	}
	if _, err := iamc.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String(plan.RoleName)}); err == nil {
		t.Fatal("the dry run created the role")
	}

	stdout, stderr, code = run(t, moto.Env(), "remediate", "--function", plan.FunctionARN, "--yes")
	if code != 0 {
		t.Fatalf("remediate --yes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	fn, err := lc.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("worker")})
	if err != nil || aws.ToString(fn.Configuration.Role) != plan.RoleARN {
		t.Fatalf("worker's role after remediate: %v %v", aws.ToString(fn.Configuration.Role), err)
	}
	if got := attachedTo(t, iamc, plan.RoleName); !reflect.DeepEqual(got, wantPolicies) {
		t.Fatalf("new role attaches %v", got)
	}
	other, _ := lc.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("other")})
	if aws.ToString(other.Configuration.Role) != testenv.RoleARN("shared-admin") {
		t.Fatal("remediate touched another function")
	}
	newOld, err := iamc.GetRole(context.Background(), &iam.GetRoleInput{RoleName: aws.String("shared-admin")})
	if err != nil || !reflect.DeepEqual(attachedTo(t, iamc, "shared-admin"), oldAttached) ||
		aws.ToString(newOld.Role.AssumeRolePolicyDocument) != aws.ToString(oldRole.Role.AssumeRolePolicyDocument) {
		t.Fatal("the old shared role was changed")
	}
	inline, _ := iamc.ListRolePolicies(context.Background(), &iam.ListRolePoliciesInput{RoleName: aws.String("shared-admin")})
	if len(inline.PolicyNames) != 1 {
		t.Fatalf("old role's inline policies: %v", inline.PolicyNames)
	}

	// Twice is harmless.
	stdout, stderr, code = run(t, moto.Env(), "remediate", "--function", plan.FunctionARN, "--yes")
	if code != 0 || !strings.Contains(stdout, "matches the plan: reusing it") || !strings.Contains(stdout, "nothing to change") {
		t.Fatalf("second remediate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := attachedTo(t, iamc, plan.RoleName); !reflect.DeepEqual(got, wantPolicies) {
		t.Fatalf("second run changed the role: %v", got)
	}

	// A role of the planned name that is not the plan is never overwritten.
	otherPlan := live.Findings[0].Remediation[0]
	for _, p := range live.Findings[0].Remediation {
		if p.FunctionName == "other" {
			otherPlan = p
		}
	}
	if _, err := iamc.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(otherPlan.RoleName), AssumeRolePolicyDocument: aws.String(testenv.LambdaTrust)}); err != nil {
		t.Fatal(err)
	}
	iamc.AttachRolePolicy(context.Background(), &iam.AttachRolePolicyInput{RoleName: aws.String(otherPlan.RoleName), PolicyArn: aws.String(awsPolicy + "AdministratorAccess")})
	_, stderr, code = run(t, moto.Env(), "remediate", "--function", otherPlan.FunctionARN, "--yes")
	if code != 2 || !strings.Contains(stderr, "does not match the plan") {
		t.Fatalf("mismatching role: exit %d %s", code, stderr)
	}
	other, _ = lc.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("other")})
	if aws.ToString(other.Configuration.Role) != testenv.RoleARN("shared-admin") {
		t.Fatal("a refused remediation still switched the function")
	}

	// Nor is a role that looks exactly like the plan but that this tool did
	// not make: same name, trust and policies, no tag.
	iamc.DetachRolePolicy(context.Background(), &iam.DetachRolePolicyInput{RoleName: aws.String(otherPlan.RoleName), PolicyArn: aws.String(awsPolicy + "AdministratorAccess")})
	for _, arn := range otherPlan.ManagedPolicyARNs {
		iamc.AttachRolePolicy(context.Background(), &iam.AttachRolePolicyInput{RoleName: aws.String(otherPlan.RoleName), PolicyArn: aws.String(arn)})
	}
	if otherPlan.HasInline() {
		iamc.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(otherPlan.RoleName), PolicyName: aws.String(otherPlan.InlinePolicyName), PolicyDocument: aws.String(string(otherPlan.InlinePolicy))})
	}
	_, stderr, code = run(t, moto.Env(), "remediate", "--function", otherPlan.FunctionARN, "--yes")
	if code != 2 || !strings.Contains(stderr, "this tool did not create it") {
		t.Fatalf("untagged look-alike role: exit %d %s", code, stderr)
	}
}

// samePlan compares plans as JSON: documents are raw JSON, whose spacing
// depends on how the report was printed.
func samePlan(a, b remediation.Plan) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
