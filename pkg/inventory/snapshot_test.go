package inventory

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

const iamOK = `{"RoleDetailList":[{"RoleName":"r","Arn":"arn:aws:iam::123456789012:role/r",
 "RolePolicyList":[{"PolicyName":"p","PolicyDocument":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}}],
 "AttachedManagedPolicies":[{"PolicyName":"m","PolicyArn":"arn:aws:iam::123456789012:policy/m"}],
 "PermissionsBoundary":{"PermissionsBoundaryArn":"arn:aws:iam::123456789012:policy/b"},
 "Tags":[{"Key":"team","Value":"x"}]},
 {"RoleName":"unused","Arn":"arn:aws:iam::123456789012:role/unused"}],
 "Policies":[{"PolicyName":"m","Arn":"arn:aws:iam::123456789012:policy/m","DefaultVersionId":"v2","PolicyVersionList":[
   {"Document":{"Statement":[]},"VersionId":"v1","IsDefaultVersion":false},
   {"Document":"%7B%22Statement%22%3A%5B%5D%7D","VersionId":"v2","IsDefaultVersion":true}]},
  {"PolicyName":"b","Arn":"arn:aws:iam::123456789012:policy/b","DefaultVersionId":"v1","PolicyVersionList":[{"Document":{"Statement":[]},"VersionId":"v1","IsDefaultVersion":true}]},
  {"PolicyName":"other","Arn":"arn:aws:iam::123456789012:policy/other","DefaultVersionId":"v1","PolicyVersionList":[]}]}`

const lambdaOK = `{"Functions":[
 {"FunctionName":"f","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","Role":"arn:aws:iam::123456789012:role/r",
  "VpcConfig":{"SubnetIds":["subnet-1"],"SecurityGroupIds":[]},"TracingConfig":{"Mode":"Active"},
  "DeadLetterConfig":{"TargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq"},"KMSKeyArn":"arn:aws:kms:us-east-1:123456789012:key/k",
  "Layers":[{"Arn":"arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38"}],
  "FileSystemConfigs":[{"Arn":"arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1","LocalMountPath":"/mnt/data"}]},
 {"FunctionName":"g","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:g","Role":"arn:aws:iam::123456789012:role/deleted"}]}`

func writeSnapshot(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadSnapshot(t *testing.T) {
	dir := writeSnapshot(t, map[string]string{
		"iam.json":              iamOK,
		"lambda-us-east-1.json": lambdaOK,
		"lambda-eu-west-1.json": `{"Functions":[]}`,
		"event-source-mappings-us-east-1.json": `{"EventSourceMappings":[{"UUID":"u1","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","EventSourceArn":"arn:aws:sqs:us-east-1:123456789012:q"},
			{"UUID":"u2","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","SelfManagedEventSource":{"Endpoints":{"KAFKA_BOOTSTRAP_SERVERS":["b:9092"]}}}]}`,
		"notes.txt": "ignored",
	})
	acct, err := LoadSnapshot(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != "123456789012" || strings.Join(acct.Regions, ",") != "eu-west-1,us-east-1" || len(acct.Functions) != 2 {
		t.Fatalf("account = %+v", acct)
	}
	f := acct.Functions[0]
	if f.Name != "f" || f.Region != "us-east-1" || f.TracingMode != "Active" || f.SubnetIDs[0] != "subnet-1" || f.DeadLetter == "" || f.KMSKeyARN == "" || len(f.LayerARNs) != 1 || f.FileSystems[0].LocalMountPath != "/mnt/data" {
		t.Errorf("function = %+v", f)
	}
	r := acct.Roles["arn:aws:iam::123456789012:role/r"]
	if r == nil || len(r.Inline) != 1 || r.AttachedPolicyARNs[0] != "arn:aws:iam::123456789012:policy/m" || r.BoundaryARN == "" || r.Tags["team"] != "x" {
		t.Fatalf("role = %+v", r)
	}
	if _, ok := acct.Roles["arn:aws:iam::123456789012:role/unused"]; ok {
		t.Error("a role no function uses was collected")
	}
	// A role absent from the export is unknown, not missing: the export may
	// predate it. It is a problem that makes the audit incomplete.
	if d, ok := acct.Roles["arn:aws:iam::123456789012:role/deleted"]; ok {
		t.Errorf("a role absent from the export was collected: %+v", d)
	}
	if len(acct.Problems) != 1 || acct.Problems[0].RoleARN != "arn:aws:iam::123456789012:role/deleted" || !strings.Contains(acct.Problems[0].Message, "is not in") {
		t.Errorf("problems = %+v, want the absent role named", acct.Problems)
	}
	m := acct.Policies["arn:aws:iam::123456789012:policy/m"]
	if m == nil || m.DefaultVersionID != "v2" || !strings.Contains(string(m.Document), "%7B") {
		t.Errorf("only the default version counts: %+v", m)
	}
	if _, ok := acct.Policies["arn:aws:iam::123456789012:policy/other"]; ok {
		t.Error("an unused policy was kept")
	}
	maps, read := acct.MappingsFor(f)
	if !read || len(maps) != 2 || !maps[1].SelfManagedKafka {
		t.Errorf("mappings = %+v read=%v", maps, read)
	}
	if _, read := acct.MappingsFor(Function{Region: "eu-west-1"}); read {
		t.Error("eu-west-1 has no mappings file; its mappings must be unread")
	}

	only, err := LoadSnapshot(dir, []string{"eu-west-1"})
	if err != nil || len(only.Functions) != 0 || len(only.Regions) != 1 {
		t.Errorf("region filter: %+v %v", only, err)
	}
}

// TestSnapshotMatchesRoleNamesIgnoringCase: IAM role names are unique
// whatever their case, and Lambda keeps a role ARN as it was given.
func TestSnapshotMatchesRoleNamesIgnoringCase(t *testing.T) {
	dir := writeSnapshot(t, map[string]string{
		"iam.json": `{"RoleDetailList":[{"RoleName":"AdminRole","Arn":"arn:aws:iam::123456789012:role/AdminRole","RolePolicyList":[],"AttachedManagedPolicies":[]}],"Policies":[]}`,
		"lambda-us-east-1.json": `{"Functions":[
			{"FunctionName":"a","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:a","Role":"arn:aws:iam::123456789012:role/AdminRole"},
			{"FunctionName":"b","FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:b","Role":"arn:aws:iam::123456789012:role/adminrole"}]}`,
	})
	acct, err := LoadSnapshot(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(acct.Problems) != 0 || len(acct.Roles) != 1 || acct.Roles["arn:aws:iam::123456789012:role/AdminRole"] == nil {
		t.Fatalf("roles %v problems %+v", acct.Roles, acct.Problems)
	}
	for _, f := range acct.Functions {
		if f.RoleARN != "arn:aws:iam::123456789012:role/AdminRole" {
			t.Errorf("%s is grouped under %s, not IAM's spelling", f.Name, f.RoleARN)
		}
	}
}

func TestLoadSnapshotErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		regions []string
		file    string
		want    string
	}{
		{"no lambda files", map[string]string{"iam.json": iamOK}, nil, "", "no lambda-<region>.json files"},
		{"missing iam", map[string]string{"lambda-us-east-1.json": lambdaOK}, nil, "iam.json", "missing"},
		{"bad region in name", map[string]string{"iam.json": iamOK, "lambda-moon.json": lambdaOK}, nil, "lambda-moon.json", `"moon" is not a region name`},
		{"requested region missing", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": lambdaOK}, []string{"eu-west-1"}, "lambda-eu-west-1.json", "not exported"},
		{"truncated lambda", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": lambdaOK[:200]}, nil, "lambda-us-east-1.json", "truncated JSON"},
		{"syntax error", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": "{\"Functions\": [}"}, nil, "lambda-us-east-1.json", "malformed JSON at line 1"},
		{"wrong type", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Functions": {"a": 1}}`}, nil, "lambda-us-east-1.json", "Functions must be an array"},
		{"not list-functions output", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Roles": []}`}, nil, "lambda-us-east-1.json", `no "Functions" array`},
		{"paginated export", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Functions": [], "NextMarker": "abc"}`}, nil, "lambda-us-east-1.json", "truncated (NextMarker"},
		{"function without role", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Functions": [{"FunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}]}`}, nil, "lambda-us-east-1.json", "has no Role"},
		{"malformed function ARN", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Functions": [{"FunctionArn":"arn:aws:lambda:us-east-1::function:f","Role":"arn:aws:iam::123456789012:role/r"}]}`}, nil, "lambda-us-east-1.json", "Functions[0].FunctionArn: \"arn:aws:lambda:us-east-1::function:f\" is not a Lambda function ARN"},
		{"function name for an ARN", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": `{"Functions": [{"FunctionArn":"f","Role":"arn:aws:iam::123456789012:role/r"}]}`}, nil, "lambda-us-east-1.json", "Functions[0].FunctionArn"},
		{"function in other region", map[string]string{"iam.json": iamOK, "lambda-eu-west-1.json": lambdaOK}, nil, "lambda-eu-west-1.json", "is in region us-east-1, but the file is for eu-west-1"},
		{"empty iam", map[string]string{"iam.json": "  ", "lambda-us-east-1.json": lambdaOK}, nil, "iam.json", "file is empty"},
		{"iam not GAAD output", map[string]string{"iam.json": `{"Roles": []}`, "lambda-us-east-1.json": lambdaOK}, nil, "iam.json", `no "RoleDetailList"`},
		{"iam wrong type", map[string]string{"iam.json": `{"RoleDetailList": [{"Arn": ["x"]}]}`, "lambda-us-east-1.json": lambdaOK}, nil, "iam.json", "RoleDetailList.Arn must be a string"},
		{"bad mappings", map[string]string{"iam.json": iamOK, "lambda-us-east-1.json": lambdaOK, "event-source-mappings-us-east-1.json": "[]"}, nil, "event-source-mappings-us-east-1.json", "must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSnapshot(t, tt.files)
			_, err := LoadSnapshot(dir, tt.regions)
			var inErr *InputError
			if !errors.As(err, &inErr) {
				t.Fatalf("error = %v, want an InputError", err)
			}
			if !strings.HasSuffix(inErr.File, tt.file) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q, want file %q and %q", err, tt.file, tt.want)
			}
		})
	}
}

// FuzzLoadSnapshot feeds arbitrary content to every snapshot file (one
// input split at NUL bytes: iam.json, lambda-us-east-1.json, the mappings
// file): the loader must return an account or an error, never panic or hang.
func FuzzLoadSnapshot(f *testing.F) {
	join := func(parts ...string) []byte { return []byte(strings.Join(parts, "\x00")) }
	f.Add(join(iamOK, lambdaOK, `{"EventSourceMappings":[]}`))
	f.Add(join(`{"RoleDetailList":null}`, `{"Functions":[{}]}`, `{}`))
	f.Add(join(`[]`, `{"Functions":[{"FunctionArn":"arn:aws:lambda:::function:x","Role":"arn:aws:iam::1:role/"}]}`, `null`))
	f.Fuzz(func(t *testing.T, input []byte) {
		parts := bytes.SplitN(input, []byte{0}, 3)
		for len(parts) < 3 {
			parts = append(parts, nil)
		}
		fsys := fstest.MapFS{
			"iam.json":                             {Data: parts[0]},
			"lambda-us-east-1.json":                {Data: parts[1]},
			"event-source-mappings-us-east-1.json": {Data: parts[2]},
		}
		acct, err := loadSnapshotFS(fsys, "fuzz", nil)
		if err == nil && acct == nil {
			t.Fatal("nil account without error")
		}
	})
}

// TestSnapshotAccountAlias: the optional alias export names the account;
// a file that is not that export is an error naming it.
func TestSnapshotAccountAlias(t *testing.T) {
	for _, tt := range []struct {
		body, alias, err string
	}{
		{`{"AccountAliases": ["payments-prod"]}`, "payments-prod", ""},
		{`{"AccountAliases": []}`, "", ""},
		{`{"Aliases": ["x"]}`, "", "account-aliases.json"},
		{`{}`, "", "no AccountAliases list"},
		{`[`, "", "account-aliases.json"},
	} {
		dir := t.TempDir()
		for _, name := range []string{"iam.json", "lambda-us-east-1.json"} {
			b, err := os.ReadFile(filepath.Join("../../testdata/sample-account", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, SnapshotAliasFile), []byte(tt.body), 0o644); err != nil {
			t.Fatal(err)
		}
		acct, err := LoadSnapshot(dir, nil)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want one naming %q", tt.body, err, tt.err)
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.body, err)
		case tt.err == "" && acct.Alias != tt.alias:
			t.Errorf("%s: alias %q, want %q", tt.body, acct.Alias, tt.alias)
		}
	}
}
