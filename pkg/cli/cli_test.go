package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

const sample = "../../testdata/sample-account"

// TestUsageErrors: every flag given with an empty or unusable value is a
// usage error (exit 2, stderr, nothing on stdout): never a silent switch to
// the live account or to every region.
func TestUsageErrors(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:123456789012:function:cc-process-app-queue"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"empty snapshot", []string{"--snapshot", ""}, nil, "--snapshot needs a directory"},
		{"blank snapshot", []string{"--snapshot", "  "}, nil, "--snapshot needs a directory"},
		{"empty regions", []string{"--regions", ""}, nil, `has an empty region name (element 1)`},
		{"comma regions", []string{"--regions", ","}, nil, `has an empty region name`},
		{"hole in regions", []string{"--regions", "us-east-1,,eu-west-1"}, nil, `(element 2)`},
		{"not a region", []string{"--regions", "moon-base"}, nil, `"moon-base" is not a region name`},
		{"bad AUDIT_REGIONS", nil, map[string]string{"AUDIT_REGIONS": "us-east-1,,x"}, "AUDIT_REGIONS:"},
		{"min-severity alone", []string{"--snapshot", sample, "--min-severity", "high"}, nil, "--min-severity only sets which findings --publish, --security-hub and --format asff send"},
		{"bad min-severity", []string{"--publish", "arn:aws:sns:us-east-1:123456789012:t", "--min-severity", "severe"}, nil, "--min-severity:"},
		{"bad fail-on", []string{"--fail-on", "worst"}, nil, "--fail-on:"},
		{"bad format", []string{"--format", "yaml"}, nil, "--format must be text, json or asff"},
		{"security hub offline", []string{"--snapshot", sample, "--security-hub"}, nil, "--security-hub imports a live audit"},
		{"hub region alone", []string{"--snapshot", sample, "--security-hub-region", "eu-west-1"}, nil, "--security-hub-region only applies with --security-hub or --format asff"},
		{"asff without region", []string{"--snapshot", sample, "--format", "asff"}, map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, "Security Hub findings need a region"},
		{"bad hub region", []string{"--snapshot", sample, "--format", "asff", "--security-hub-region", "mars-1"}, nil, `--security-hub-region: "mars-1" is not a region name`},
		{"bad topic", []string{"--publish", "my-topic"}, nil, "--publish:"},
		{"empty topic", []string{"--publish", ""}, nil, "--publish:"},
		{"zero timeout", []string{"--timeout", "0s"}, nil, "--timeout must be positive"},
		{"unknown flag", []string{"--colour"}, nil, "flag provided but not defined: -colour"},
		{"stray argument", []string{"audit"}, nil, `unexpected argument "audit"`},
		{"bad strategy", []string{"--snapshot", sample}, map[string]string{"AUDIT_IAM_STRATEGY": "fast"}, "AUDIT_IAM_STRATEGY must be"},
		{"plan without function", []string{"plan"}, nil, "plan: --function ARN is required"},
		{"plan with a name", []string{"plan", "--function", "cc-process-app-queue"}, nil, `"cc-process-app-queue" is not a Lambda function ARN`},
		{"remediate with a name", []string{"remediate", "--function", "cc-process-app-queue"}, nil, `remediate: --function: "cc-process-app-queue" is not a Lambda function ARN`},
		{"plan bad format", []string{"plan", "--function", fn, "--format", "yaml"}, nil, "--format must be cli, cloudformation, terraform or json"},
		{"plan empty snapshot", []string{"plan", "--function", fn, "--snapshot", ""}, nil, "--snapshot needs a directory"},
		{"remediate has no format", []string{"remediate", "--function", fn, "--format", "json"}, nil, "flag provided but not defined: -format"},
		{"usage offline", []string{"plan", "--function", fn, "--snapshot", sample, "--usage"}, nil, "--usage reads CloudTrail in the live account"},
		{"usage days alone", []string{"plan", "--function", fn, "--usage-days", "7"}, nil, "apply only with --usage"},
		{"usage days too many", []string{"plan", "--function", fn, "--usage", "--usage-days", "91"}, nil, "--usage-days must be between 1 and 90"},
		{"usage calls zero", []string{"plan", "--function", fn, "--usage", "--usage-max-calls", "0"}, nil, "--usage-max-calls must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(tt.args, tt.env)
			if code != ExitTrouble || stdout != "" || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "usage:") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, stdout, stderr, tt.want)
			}
		})
	}
}

func TestHelpGoesToStdout(t *testing.T) {
	tests := []struct {
		args []string
		want []string // every flag of the command, by name
	}{
		{[]string{"--help"}, []string{"--snapshot DIR", "--regions LIST", "--format FORMAT", "--fail-on SEVERITY", "--publish TOPIC_ARN", "--min-severity SEVERITY", "--timeout DURATION", "--verbose", "plan --function ARN [--snapshot DIR]"}},
		{[]string{"-h"}, []string{"--snapshot DIR"}},
		{[]string{"help"}, []string{"--snapshot DIR"}},
		{[]string{"plan", "--help"}, []string{"--function ARN", "--snapshot DIR", "--format FORMAT", "json"}},
		{[]string{"remediate", "-h"}, []string{"--function ARN", "--yes"}},
	}
	for _, tt := range tests {
		code, stdout, stderr := runCLI(tt.args, nil)
		if code != ExitClean || stderr != "" {
			t.Errorf("%v: exit %d, stderr %q", tt.args, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%v: help lacks %q:\n%s", tt.args, w, stdout)
			}
		}
	}
}

// TestSnapshotAndRegionsCombine: --regions filters a snapshot.
func TestSnapshotAndRegionsCombine(t *testing.T) {
	code, stdout, stderr := runCLI([]string{"--snapshot", sample, "--regions", "eu-west-1"}, nil)
	if code != ExitFindings || !strings.Contains(stdout, "in 1 region,") || strings.Contains(stdout, "us-east-1:") {
		t.Fatalf("exit %d stderr %q\n%s", code, stderr, stdout)
	}
	code, _, stderr = runCLI([]string{"--snapshot", sample, "--regions", "ap-south-2"}, nil)
	if code != ExitTrouble || !strings.Contains(stderr, "lambda-ap-south-2.json: missing: region was requested but not exported") {
		t.Fatalf("a region the snapshot lacks: exit %d %q", code, stderr)
	}
}

// TestPlanFromSnapshotFormats: every format, and JSON.
func TestPlanFromSnapshotFormats(t *testing.T) {
	fn := "arn:aws:lambda:us-east-1:123456789012:function:cc-process-app-queue"
	for format, want := range map[string]string{"cli": "until aws lambda update-function-configuration", "cloudformation": "AWS::IAM::Role", "terraform": `resource "aws_iam_role"`, "json": `"functionArn": "` + fn} {
		code, stdout, stderr := runCLI([]string{"plan", "--snapshot", sample, "--function", fn, "--format", format}, nil)
		if code != ExitClean || !strings.Contains(stdout, want) {
			t.Errorf("%s: exit %d stderr %q\n%s", format, code, stderr, stdout)
		}
	}
	code, _, stderr := runCLI([]string{"plan", "--snapshot", sample, "--function", "arn:aws:lambda:us-east-1:123456789012:function:nope"}, nil)
	if code != ExitTrouble || !strings.Contains(stderr, "is not in the snapshot") || strings.Contains(stderr, "usage:") {
		t.Errorf("unknown function: exit %d %q", code, stderr)
	}
}

// TestFormatASFF: the findings at or above --min-severity as an ASFF
// array, for the region given.
func TestFormatASFF(t *testing.T) {
	code, stdout, stderr := runCLI([]string{"--snapshot", sample, "--format", "asff", "--security-hub-region", "eu-west-1", "--min-severity", "high"}, nil)
	if code != ExitFindings {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var findings []struct{ ProductArn, GeneratorId string }
	if err := json.Unmarshal([]byte(stdout), &findings); err != nil || len(findings) == 0 {
		t.Fatalf("not an ASFF array (%v): %s", err, stdout)
	}
	for _, f := range findings {
		if !strings.HasPrefix(f.ProductArn, "arn:aws:securityhub:eu-west-1:") || !strings.HasPrefix(f.GeneratorId, "lambda-role-audit/") {
			t.Errorf("finding %+v", f)
		}
		if strings.HasSuffix(f.GeneratorId, "shared-role") {
			t.Errorf("a low finding is below --min-severity high: %+v", f)
		}
	}
}
