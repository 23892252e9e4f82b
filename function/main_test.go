package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"lambda-role-audit/internal/testenv"
	"lambda-role-audit/pkg/audit"
)

// binary is the real lambda-role-audit, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lra-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "lambda-role-audit")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	testenv.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// run executes the binary and returns stdout, stderr and the exit status.
func run(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func runJSON(t *testing.T, env []string, args ...string) (*audit.Report, int) {
	t.Helper()
	out, stderr, code := run(t, env, append(args, "--format", "json")...)
	var rep audit.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: stdout is not a JSON report (%v)\nstdout: %s\nstderr: %s", args, err, out, stderr)
	}
	return &rep, code
}

// exportSnapshot writes moto's account to a snapshot directory with the
// export script users run, and returns the directory.
func exportSnapshot(t *testing.T, moto *testenv.Moto, regions ...string) string {
	t.Helper()
	dir := t.TempDir()
	export := exec.Command("../deploy/export-snapshot.sh", append([]string{dir}, regions...)...)
	export.Env = append(os.Environ(), moto.Env()...)
	if out, err := export.CombinedOutput(); err != nil {
		t.Fatalf("export-snapshot.sh: %v\n%s", err, out)
	}
	return dir
}

// findingKey is what must match exactly between modes and against the spec.
type findingKey struct {
	Rule, Role, Severity string
	Functions            string
}

func keys(r *audit.Report) []findingKey {
	var out []findingKey
	for _, f := range r.Findings {
		out = append(out, findingKey{f.Rule, f.RoleName, string(f.Severity), strings.Join(f.Functions, ",")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Role < out[j].Role })
	return out
}

var (
	admin   = map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*"}
	s3Read  = map[string]any{"Effect": "Allow", "Action": []string{"s3:GetObject"}, "Resource": "*"}
	iamAtt  = map[string]any{"Effect": "Allow", "Action": "iam:Attach*", "Resource": "*"}
	condAdm = map[string]any{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": map[string]any{"StringEquals": map[string]any{"aws:RequestedRegion": "us-east-1"}}}
)

const awsPolicy = "arn:aws:iam::aws:policy/"

func seedMixedAccount(t *testing.T, moto *testenv.Moto) []findingKey {
	doc := testenv.Doc
	moto.Seed(t, testenv.Account{
		Policies: []testenv.Policy{
			{Name: "app-managed", Versions: []string{doc(s3Read), doc(admin)}},                // default v2: admin
			{Name: "old-admin", Versions: []string{doc(admin), doc(s3Read)}},                  // default v2: harmless
			{Name: "old-admin-kept", Versions: []string{doc(s3Read), doc(admin)}, Default: 1}, // v2 admin is not default
			{Name: "boundary-s3", Versions: []string{doc(s3Read)}},
			{Name: "escalate", Versions: []string{doc(iamAtt)}},
		},
		Roles: []testenv.Role{
			{Name: "shared-admin", Attached: []string{"app-managed"}, Inline: map[string]string{"full": doc(admin)}},
			{Name: "shared-bounded", Attached: []string{awsPolicy + "AdministratorAccess"}, Boundary: "boundary-s3"},
			{Name: "shared-escalation", Attached: []string{"escalate", awsPolicy + "service-role/AWSLambdaBasicExecutionRole"}},
			{Name: "shared-conditional", Inline: map[string]string{"cond": doc(condAdm)}},
			{Name: "single-admin", Attached: []string{awsPolicy + "AdministratorAccess"}},
			{Name: "single-poweruser", Attached: []string{awsPolicy + "PowerUserAccess"}},
			{Name: "shared-old-versions", Attached: []string{"old-admin", "old-admin-kept"}},
			{Name: "single-clean", Attached: []string{awsPolicy + "service-role/AWSLambdaBasicExecutionRole"}},
		},
		Functions: []testenv.Function{
			{Region: "us-east-1", Name: "a1", Role: "shared-admin"},
			{Region: "eu-west-1", Name: "a2", Role: "shared-admin"},
			{Region: "us-east-1", Name: "b1", Role: "shared-bounded"},
			{Region: "us-east-1", Name: "b2", Role: "shared-bounded"},
			{Region: "eu-west-1", Name: "e1", Role: "shared-escalation"},
			{Region: "eu-west-1", Name: "e2", Role: "shared-escalation"},
			{Region: "us-east-1", Name: "c1", Role: "shared-conditional"},
			{Region: "eu-west-1", Name: "c1", Role: "shared-conditional"},
			{Region: "us-east-1", Name: "s1", Role: "single-admin"},
			{Region: "eu-west-1", Name: "p1", Role: "single-poweruser"},
			{Region: "us-east-1", Name: "o1", Role: "shared-old-versions"},
			{Region: "us-east-1", Name: "o2", Role: "shared-old-versions"},
			{Region: "us-east-1", Name: "clean", Role: "single-clean"},
		},
	})
	fa := testenv.FunctionARN
	want := []findingKey{
		{audit.RuleSharedAdminRole, "shared-admin", "critical", fa("eu-west-1", "a2") + "," + fa("us-east-1", "a1")},
		{audit.RuleSharedAdminRole, "shared-bounded", "medium", fa("us-east-1", "b1") + "," + fa("us-east-1", "b2")},
		{audit.RuleSharedAdminRole, "shared-conditional", "high", fa("eu-west-1", "c1") + "," + fa("us-east-1", "c1")},
		{audit.RuleSharedAdminRole, "shared-escalation", "high", fa("eu-west-1", "e1") + "," + fa("eu-west-1", "e2")},
		{audit.RuleSharedRole, "shared-old-versions", "low", fa("us-east-1", "o1") + "," + fa("us-east-1", "o2")},
		{audit.RuleAdminRole, "single-admin", "high", fa("us-east-1", "s1")},
		{audit.RuleAdminRole, "single-poweruser", "medium", fa("eu-west-1", "p1")},
	}
	sort.Slice(want, func(i, j int) bool { return want[i].Role < want[j].Role })
	return want
}

func TestLiveAndSnapshotAuditsAgreeOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	testenv.Require(t, "aws")
	want := seedMixedAccount(t, moto)

	live, code := runJSON(t, moto.Env(), "--regions", "us-east-1,eu-west-1")
	if code != 1 || !live.Complete {
		t.Fatalf("live: exit %d complete %v errors %+v", code, live.Complete, live.Errors)
	}
	if got := keys(live); !reflect.DeepEqual(got, want) {
		t.Fatalf("live findings:\n got %+v\nwant %+v", got, want)
	}

	dir := exportSnapshot(t, moto, "us-east-1", "eu-west-1")
	snap, code := runJSON(t, nil, "--snapshot", dir)
	if code != 1 || !snap.Complete {
		t.Fatalf("snapshot: exit %d complete %v errors %+v", code, snap.Complete, snap.Errors)
	}
	if got := keys(snap); !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot findings:\n got %+v\nwant %+v", got, want)
	}
	// Identical down to the ids and the evidence, not only the verdicts.
	for i := range live.Findings {
		l, s := live.Findings[i], snap.Findings[i]
		if l.ID != s.ID || !reflect.DeepEqual(l.Evidence, s.Evidence) {
			t.Errorf("finding %d differs between modes:\nlive %+v\nsnap %+v", i, l, s)
		}
	}
	if !reflect.DeepEqual(live.Summary, snap.Summary) || live.Summary.BySeverity["critical"] != 1 || live.Summary.ByRule[audit.RuleSharedAdminRole] != 4 {
		t.Errorf("summaries: live %+v snapshot %+v", live.Summary, snap.Summary)
	}

	// --fail-on moves the threshold; the audit itself does not change.
	for _, tc := range []struct {
		failOn string
		want   int
	}{{"critical", 1}, {"high", 1}, {"low", 1}} {
		if _, _, code := run(t, nil, "--snapshot", dir, "--fail-on", tc.failOn); code != tc.want {
			t.Errorf("--fail-on %s: exit %d, want %d", tc.failOn, code, tc.want)
		}
	}

	// Without --regions the live audit covers every enabled region.
	all, _ := runJSON(t, moto.Env())
	if len(all.Regions) < 10 || !reflect.DeepEqual(keys(all), want) {
		t.Errorf("all-regions audit: %d regions, findings %+v", len(all.Regions), keys(all))
	}
}

func TestExitStatusFollowsFailOn(t *testing.T) {
	moto := testenv.SharedMoto(t)
	doc := testenv.Doc
	moto.Seed(t, testenv.Account{
		Roles: []testenv.Role{
			{Name: "pu", Attached: []string{awsPolicy + "PowerUserAccess"}},
			{Name: "clean", Inline: map[string]string{"s3": doc(s3Read)}},
		},
		Functions: []testenv.Function{
			{Region: "us-east-1", Name: "one", Role: "pu"},
			{Region: "us-east-1", Name: "two", Role: "clean"},
		},
	})
	cases := []struct {
		failOn string
		want   int
	}{{"critical", 0}, {"high", 0}, {"medium", 1}, {"low", 1}}
	for _, tc := range cases {
		if _, stderr, code := run(t, moto.Env(), "--regions", "us-east-1", "--fail-on", tc.failOn); code != tc.want {
			t.Errorf("--fail-on %s: exit %d, want %d (%s)", tc.failOn, code, tc.want, stderr)
		}
	}
}

func TestUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "iam.json"), []byte(`{"RoleDetailList": [], "Policies": []}`), 0o644)
	os.WriteFile(filepath.Join(dir, "lambda-us-east-1.json"), []byte("{\n  \"Functions\": [\n    {\"FunctionArn\": 5}\n  ]\n}"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"--format", "xml"}, "--format must be text, json or asff"},
		{"bad severity", []string{"--fail-on", "urgent"}, `unknown severity "urgent"`},
		{"bad region", []string{"--regions", "mars-1"}, `"mars-1" is not a region name`},
		{"stray argument", []string{"audit-now"}, `unexpected argument "audit-now"`},
		{"missing snapshot", []string{"--snapshot", filepath.Join(dir, "nope")}, "cannot read snapshot directory"},
		{"malformed snapshot", []string{"--snapshot", dir}, "lambda-us-east-1.json: line 3, column 22: Functions.FunctionArn must be a string, not a JSON number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, nil, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 mentioning %q (stdout %q)", code, stderr, tc.want, stdout)
			}
		})
	}
}

func TestDemoSampleAccount(t *testing.T) {
	stdout, stderr, code := run(t, nil, "--snapshot", "../testdata/sample-account")
	if code != 1 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"19 functions in 2 regions", "audit complete", "CRITICAL  shared-admin-role  role cc-app-function-execution-role", "cc-process-app-queue"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	rep, _ := runJSON(t, nil, "--snapshot", "../testdata/sample-account")
	for _, rule := range audit.Rules {
		if rep.Summary.ByRule[rule] < 2 {
			t.Errorf("sample account has %d %s findings, want several", rep.Summary.ByRule[rule], rule)
		}
	}
	// cc-export-user-data's environment holds a password beside two
	// resource references: the references are in its plan, the password
	// in no output of any form.
	outputs := []string{stdout, stderr}
	for _, args := range [][]string{
		{"--snapshot", "../testdata/sample-account", "--format", "json"},
		{"--snapshot", "../testdata/sample-account", "--format", "asff", "--security-hub-region", "us-east-1"},
		{"plan", "--snapshot", "../testdata/sample-account", "--function", testenv.FunctionARN("us-east-1", "cc-export-user-data"), "--format", "json"},
		{"plan", "--snapshot", "../testdata/sample-account", "--function", testenv.FunctionARN("us-east-1", "cc-export-user-data"), "--format", "terraform"},
	} {
		o, e, _ := run(t, nil, args...)
		outputs = append(outputs, o, e)
	}
	for _, o := range outputs {
		if strings.Contains(o, "Pa55word") {
			t.Fatalf("an environment value that names no resource is in an output:\n%s", o)
		}
	}
	if !strings.Contains(outputs[2], `"source":"env:USERS_TABLE","resource":"arn:aws:dynamodb:us-east-1:123456789012:table/cc-users"`) {
		t.Errorf("the JSON report lacks the referenced table")
	}
}

// TestFirstRunWithoutCredentials: one line that says what is missing and
// how to provide it, not the SDK's chain of providers; no JSON log lines.
func TestFirstRunWithoutCredentials(t *testing.T) {
	env := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONTAINER_CREDENTIALS_FULL_URI=", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=",
		"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_REGION=us-east-1"}
	stdout, stderr, code := run(t, env, "--regions", "us-east-1")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 2 || stdout != "" || len(lines) != 1 || !strings.Contains(stderr, "no usable AWS credentials") || !strings.Contains(stderr, "AWS_PROFILE") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// TestRegionNotEnabledIsAUsageError: a region the account does not have is
// said plainly, not turned into an incomplete audit; logs stay off stderr
// unless --verbose.
func TestRegionNotEnabledIsAUsageError(t *testing.T) {
	moto := testenv.SharedMoto(t)
	_, stderr, code := run(t, moto.Env(), "--regions", "us-east-9")
	if code != 2 || !strings.Contains(stderr, "us-east-9 is not a region enabled for this account") {
		t.Fatalf("exit %d %s", code, stderr)
	}
	_, stderr, code = run(t, moto.Env(), "--regions", "us-east-1")
	if code != 0 || stderr != "" {
		t.Fatalf("an empty account: exit %d, stderr %q", code, stderr)
	}
	_, stderr, _ = run(t, moto.Env(), "--regions", "us-east-1", "--verbose")
	if !strings.Contains(stderr, `"msg":"audit done"`) {
		t.Fatalf("--verbose must log JSON on stderr: %q", stderr)
	}
}
