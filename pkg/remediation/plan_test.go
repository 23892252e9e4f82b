package remediation

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/inventory"
)

const (
	acct   = "123456789012"
	fnARN  = "arn:aws:lambda:us-east-1:" + acct + ":function:cc-process-app-queue"
	policy = "arn:aws:iam::aws:policy/"
)

func baseFn() inventory.Function {
	return inventory.Function{ARN: fnARN, Name: "cc-process-app-queue", Region: "us-east-1", RoleARN: "arn:aws:iam::" + acct + ":role/shared"}
}

func mapping(src string) inventory.EventSourceMapping {
	return inventory.EventSourceMapping{UUID: "u-" + src, FunctionARN: fnARN, EventSourceARN: src}
}

func TestPlanDerivesManagedPolicies(t *testing.T) {
	sqsARN := "arn:aws:sqs:us-east-1:" + acct + ":cc-app-queue"
	tests := []struct {
		name     string
		change   func(*inventory.Function)
		mappings []inventory.EventSourceMapping
		want     []string // beyond basic execution
		unknown  string   // an extra unknown that must be said
	}{
		{"basic only", nil, nil, nil, ""},
		{"vpc", func(f *inventory.Function) { f.SubnetIDs = []string{"subnet-1"} }, nil, []string{policy + "service-role/AWSLambdaVPCAccessExecutionRole"}, ""},
		{"active tracing", func(f *inventory.Function) { f.TracingMode = "Active" }, nil, []string{policy + "AWSXRayDaemonWriteAccess"}, ""},
		{"pass-through tracing", func(f *inventory.Function) { f.TracingMode = "PassThrough" }, nil, nil, ""},
		{"sqs mapping", nil, []inventory.EventSourceMapping{mapping(sqsARN)}, []string{policy + "service-role/AWSLambdaSQSQueueExecutionRole"}, ""},
		{"kinesis mapping", nil, []inventory.EventSourceMapping{mapping("arn:aws:kinesis:us-east-1:" + acct + ":stream/clicks")}, []string{policy + "service-role/AWSLambdaKinesisExecutionRole"}, ""},
		{"dynamodb stream", nil, []inventory.EventSourceMapping{mapping("arn:aws:dynamodb:us-east-1:" + acct + ":table/t/stream/2026-01-01T00:00:00.000")}, []string{policy + "service-role/AWSLambdaDynamoDBExecutionRole"}, ""},
		{"msk", nil, []inventory.EventSourceMapping{mapping("arn:aws:kafka:us-east-1:" + acct + ":cluster/c/abc")}, []string{policy + "service-role/AWSLambdaMSKExecutionRole"}, ""},
		{"self-managed kafka", nil, []inventory.EventSourceMapping{{UUID: "k", FunctionARN: fnARN, SelfManagedKafka: true}}, []string{policy + "service-role/AWSLambdaMSKExecutionRole"}, ""},
		{"amazon mq is unknown", nil, []inventory.EventSourceMapping{mapping("arn:aws:mq:us-east-1:" + acct + ":broker:b:id")}, nil, "no AWS-managed Lambda execution policy covers"},
		{"insights layer", func(f *inventory.Function) {
			f.LayerARNs = []string{"arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension-Arm64:20"}
		}, nil, []string{policy + "CloudWatchLambdaInsightsExecutionRolePolicy"}, ""},
		{"other layer adds nothing", func(f *inventory.Function) {
			f.LayerARNs = []string{"arn:aws:lambda:us-east-1:" + acct + ":layer:utils:3"}
		}, nil, nil, ""},
		{"everything", func(f *inventory.Function) {
			f.SubnetIDs, f.TracingMode = []string{"subnet-1", "subnet-2"}, "Active"
			f.LayerARNs = []string{"arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38"}
		}, []inventory.EventSourceMapping{mapping(sqsARN), mapping("arn:aws:dynamodb:us-east-1:" + acct + ":table/t/stream/x"), mapping(sqsARN)},
			[]string{policy + "AWSXRayDaemonWriteAccess", policy + "CloudWatchLambdaInsightsExecutionRolePolicy", policy + "service-role/AWSLambdaDynamoDBExecutionRole",
				policy + "service-role/AWSLambdaSQSQueueExecutionRole", policy + "service-role/AWSLambdaVPCAccessExecutionRole"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := baseFn()
			if tt.change != nil {
				tt.change(&fn)
			}
			p := New(fn, tt.mappings, true)
			want := append([]string{policy + "service-role/AWSLambdaBasicExecutionRole"}, tt.want...)
			sort.Strings(want)
			if strings.Join(p.ManagedPolicyARNs, " ") != strings.Join(want, " ") {
				t.Errorf("managed policies:\n got %v\nwant %v", p.ManagedPolicyARNs, want)
			}
			if p.HasInline() {
				t.Errorf("unexpected inline policy %s", p.InlinePolicy)
			}
			if p.Unknowns[0] != DataAccessUnknown {
				t.Errorf("the plan must always say the function's data access is unknown: %v", p.Unknowns)
			}
			if tt.unknown != "" && !strings.Contains(strings.Join(p.Unknowns, " "), tt.unknown) {
				t.Errorf("unknowns %v lack %q", p.Unknowns, tt.unknown)
			}
		})
	}
}

func TestPlanScopesInlineStatementsToExactARNs(t *testing.T) {
	dlqSQS := "arn:aws:sqs:us-east-1:" + acct + ":cc-app-dlq"
	dlqSNS := "arn:aws:sns:us-east-1:" + acct + ":cc-app-failures"
	key := "arn:aws:kms:us-east-1:" + acct + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	ap := "arn:aws:elasticfilesystem:us-east-1:" + acct + ":access-point/fsap-0123456789abcdef0"
	fsys := "arn:aws:elasticfilesystem:us-east-1:" + acct + ":file-system/fs-0123abcd"
	mount := []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}
	onAccessPoint := map[string]map[string]string{"StringEquals": {"elasticfilesystem:AccessPointArn": ap}}
	tests := []struct {
		name   string
		change func(*inventory.Function)
		want   []Statement
	}{
		{"sqs dead-letter queue", func(f *inventory.Function) { f.DeadLetter = dlqSQS }, []Statement{{"DeadLetterQueue", "Allow", []string{"sqs:SendMessage"}, []string{dlqSQS}, nil}}},
		{"sns dead-letter topic", func(f *inventory.Function) { f.DeadLetter = dlqSNS }, []Statement{{"DeadLetterTopic", "Allow", []string{"sns:Publish"}, []string{dlqSNS}, nil}}},
		{"environment key", func(f *inventory.Function) { f.KMSKeyARN = key }, []Statement{{"EnvironmentKey", "Allow", []string{"kms:Decrypt"}, []string{key}, nil}}},
		// EFS authorises the file system's ARN; the access point is only a
		// condition key. Naming the access point as the resource would
		// leave the function unable to mount.
		{"efs access point with its file system", func(f *inventory.Function) {
			f.FileSystems = []inventory.FileSystem{{ARN: ap, LocalMountPath: "/mnt/data", FileSystemID: "fs-0123abcd"}}
		}, []Statement{{"FileSystem1", "Allow", mount, []string{fsys}, onAccessPoint}}},
		{"all together", func(f *inventory.Function) {
			f.DeadLetter, f.KMSKeyARN = dlqSQS, key
			f.FileSystems = []inventory.FileSystem{{ARN: ap, LocalMountPath: "/mnt/data", FileSystemID: "fs-0123abcd"}}
		}, []Statement{
			{"DeadLetterQueue", "Allow", []string{"sqs:SendMessage"}, []string{dlqSQS}, nil},
			{"EnvironmentKey", "Allow", []string{"kms:Decrypt"}, []string{key}, nil},
			{"FileSystem1", "Allow", mount, []string{fsys}, onAccessPoint},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := baseFn()
			tt.change(&fn)
			p := New(fn, nil, true)
			var doc document
			if err := json.Unmarshal(p.InlinePolicy, &doc); err != nil || p.InlinePolicyName == "" {
				t.Fatalf("inline policy %s: %v", p.InlinePolicy, err)
			}
			if fmt.Sprint(doc.Statement) != fmt.Sprint(tt.want) {
				t.Errorf("statements:\n got %+v\nwant %+v", doc.Statement, tt.want)
			}
			for _, st := range doc.Statement {
				for _, r := range st.Resource {
					if strings.Contains(r, "*") {
						t.Errorf("statement %s uses a wildcard resource %q", st.Sid, r)
					}
				}
			}
		})
	}
	// From a snapshot the file system is unknown: every file system of the
	// account and region, through that access point only, and said so.
	fn := baseFn()
	fn.FileSystems = []inventory.FileSystem{{ARN: ap, LocalMountPath: "/mnt/data"}}
	p := New(fn, nil, true)
	var doc document
	if err := json.Unmarshal(p.InlinePolicy, &doc); err != nil {
		t.Fatal(err)
	}
	want := []Statement{{"FileSystem1", "Allow", mount, []string{"arn:aws:elasticfilesystem:us-east-1:" + acct + ":file-system/*"}, onAccessPoint}}
	if fmt.Sprint(doc.Statement) != fmt.Sprint(want) || !strings.Contains(strings.Join(p.Unknowns, " "), "file system behind access point "+ap+" is not known") {
		t.Errorf("unknown file system: statements %+v unknowns %q", doc.Statement, p.Unknowns)
	}
	if p := New(baseFn(), nil, true); string(p.InlinePolicy) != "null" {
		t.Errorf("nothing to scope: inline policy must be null, got %s", p.InlinePolicy)
	}
}

func TestPlanSaysWhatItCannotKnow(t *testing.T) {
	p := New(baseFn(), nil, false)
	if len(p.Unknowns) != 2 || !strings.Contains(p.Unknowns[1], "event source mappings could not be read") {
		t.Errorf("unknowns = %v", p.Unknowns)
	}
	fn := baseFn()
	fn.DeadLetter = "arn:aws:lambda:us-east-1:" + acct + ":function:other"
	if p := New(fn, nil, true); !strings.Contains(strings.Join(p.Unknowns, " "), "neither an SQS queue nor an SNS topic") {
		t.Errorf("unknowns = %v", p.Unknowns)
	}
}

var validRoleName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

func TestRoleName(t *testing.T) {
	long := strings.Repeat("very-long-function-name-", 3)[:64]
	names := map[string]string{}
	for _, fn := range []inventory.Function{
		baseFn(),
		{ARN: "arn:aws:lambda:eu-west-1:" + acct + ":function:cc-process-app-queue", Name: "cc-process-app-queue", Region: "eu-west-1"},
		{ARN: "arn:aws:lambda:ap-southeast-2:" + acct + ":function:" + long, Name: long, Region: "ap-southeast-2"},
		{ARN: "arn:aws:lambda:ap-southeast-2:" + acct + ":function:" + long[:63] + "x", Name: long[:63] + "x", Region: "ap-southeast-2"},
		{ARN: "arn:aws:lambda:us-east-1:210987654321:function:cc-process-app-queue", Name: "cc-process-app-queue", Region: "us-east-1"},
	} {
		name := roleName(fn)
		if !validRoleName.MatchString(name) {
			t.Errorf("%q is not a valid IAM role name", name)
		}
		if other, dup := names[name]; dup {
			t.Errorf("%s and %s get the same role name %s", fn.ARN, other, name)
		}
		names[name] = fn.ARN
		if roleName(fn) != name {
			t.Errorf("role name for %s is not deterministic", fn.ARN)
		}
	}
	if got := roleName(baseFn()); !strings.HasPrefix(got, "cc-process-app-queue-us-east-1-") {
		t.Errorf("role name %q does not say which function it is for", got)
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

func goldenPlan() Plan {
	fn := baseFn()
	fn.SubnetIDs, fn.TracingMode = []string{"subnet-abcd1234"}, "Active"
	fn.DeadLetter = "arn:aws:sqs:us-east-1:" + acct + ":cc-app-dlq"
	fn.KMSKeyARN = "arn:aws:kms:us-east-1:" + acct + ":key/1234abcd-12ab-34cd-56ef-1234567890ab"
	return New(fn, []inventory.EventSourceMapping{mapping("arn:aws:sqs:us-east-1:" + acct + ":cc-app-queue")}, true)
}

func TestRenderGolden(t *testing.T) {
	p := goldenPlan()
	for _, format := range Formats {
		out, err := Render(p, format)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "golden", "plan."+format+".txt")
		if *update {
			os.WriteFile(path, []byte(out), 0o644)
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -update creates it)", err)
		}
		if out != string(want) {
			t.Errorf("%s output differs from %s:\n%s", format, path, out)
		}
	}
	if _, err := Render(p, "pulumi"); err == nil {
		t.Error("an unknown format must be an error")
	}
}

// TestCloudFormationSnippetLints wraps the snippet in a template and runs
// cfn-lint on it.
func TestCloudFormationSnippetLints(t *testing.T) {
	testenv.Require(t, "cfn-lint")
	tpl := "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n" + indent(cloudFormation(goldenPlan()), "  ")
	path := filepath.Join(t.TempDir(), "role.yaml")
	if err := os.WriteFile(path, []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cfn-lint", path).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint: %v\n%s\n%s", err, out, tpl)
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}
