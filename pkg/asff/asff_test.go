package asff

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/run"
)

var update = flag.Bool("update", false, "rewrite golden files")

var (
	fixedNow = time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC)
	here     = Where{Partition: "aws", Region: "us-east-1", Account: "123456789012"}
)

func sampleReport(t *testing.T) *audit.Report {
	t.Helper()
	res, err := run.Audit(context.Background(), inventory.Snapshot{Dir: "../../testdata/sample-account"},
		run.Options{Now: func() time.Time { return fixedNow }, SuppressRoles: []string{"cc-sandbox-role"}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Report
}

// TestSampleAccountFindings: the sample account's findings as ASFF, in a
// golden file; every required field filled, suppressed findings marked.
func TestSampleAccountFindings(t *testing.T) {
	rep := sampleReport(t)
	got := Map(rep, here, audit.Low, fixedNow, nil)
	if len(got) != len(rep.Findings) {
		t.Fatalf("%d ASFF findings for %d report findings at low or above", len(got), len(rep.Findings))
	}
	suppressed := 0
	for i, f := range got {
		if f.ID != Prefix+rep.Findings[i].ID || f.GeneratorID != Prefix+rep.Findings[i].Rule || f.CreatedAt != "2026-11-28T06:00:00Z" {
			t.Errorf("finding %d: id %s generator %s created %s", i, f.ID, f.GeneratorID, f.CreatedAt)
		}
		if f.Workflow.Status == "SUPPRESSED" {
			suppressed++
		}
		if f.Compliance.Status != "FAILED" || f.RecordState != "ACTIVE" || f.Resources[0].Type != "AwsIamRole" {
			t.Errorf("finding %d: %+v", i, f)
		}
	}
	if suppressed != rep.Summary.Suppressed || suppressed == 0 {
		t.Errorf("%d suppressed ASFF findings, report has %d", suppressed, rep.Summary.Suppressed)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "sample-account.asff.json", append(b, '\n'))

	if n := len(Map(rep, here, audit.Critical, fixedNow, nil)); n != rep.Summary.BySeverity["critical"] {
		t.Errorf("at critical: %d findings, report has %d critical", n, rep.Summary.BySeverity["critical"])
	}
	kept := Map(rep, here, audit.Low, fixedNow.Add(time.Hour), map[string]string{got[0].ID: "2026-01-01T00:00:00Z"})
	if kept[0].CreatedAt != "2026-01-01T00:00:00Z" || kept[0].UpdatedAt != "2026-11-28T07:00:00Z" || kept[1].CreatedAt != "2026-11-28T07:00:00Z" {
		t.Errorf("created/updated: %s/%s, %s", kept[0].CreatedAt, kept[0].UpdatedAt, kept[1].CreatedAt)
	}
}

func bigFinding(functions int, long string) audit.Finding {
	f := audit.Finding{
		ID: audit.FindingID(audit.RuleSharedAdminRole, "arn:aws:iam::123456789012:role/"+long), Rule: audit.RuleSharedAdminRole,
		Severity: audit.Critical, RoleARN: "arn:aws:iam::123456789012:role/" + long, RoleName: long,
		Evidence: []audit.Evidence{{Policy: "arn:aws:iam::aws:policy/AdministratorAccess", PolicyType: "managed", Class: "admin", Reason: "Allow Action * on Resource * (é" + strings.Repeat("x", 2000) + ")"}},
	}
	for i := range functions {
		name := fmt.Sprintf("function-%03d-%s", i, strings.Repeat("x", 20))
		f.Functions = append(f.Functions, "arn:aws:lambda:eu-west-1:123456789012:function:"+name)
		f.Remediation = append(f.Remediation, audit.Plan{FunctionName: name, RoleName: name + "-role", ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}})
	}
	return f
}

// TestLimits: at most 32 resources (the role and 31 functions, the
// description saying how many there are), and every text field within
// ASFF's limits, cut on a character boundary.
func TestLimits(t *testing.T) {
	for _, n := range []int{1, 31, 32, 200} {
		rep := &audit.Report{AccountID: here.Account, Complete: true, Findings: []audit.Finding{bigFinding(n, strings.Repeat("r", 60))}}
		f := Map(rep, here, audit.Low, fixedNow, nil)[0]
		wantResources := min(n+1, maxResources)
		if len(f.Resources) != wantResources {
			t.Errorf("%d functions: %d resources, want %d", n, len(f.Resources), wantResources)
		}
		if f.Resources[len(f.Resources)-1].Region != "eu-west-1" {
			t.Errorf("a function's resource region is its own: %+v", f.Resources[1])
		}
		if !strings.Contains(f.Description, fmt.Sprintf("execution role of %d function(s)", n)) {
			t.Errorf("%d functions: the description must say how many: %s", n, f.Description)
		}
		for name, s := range map[string]string{"Title": f.Title, "Description": f.Description, "Recommendation": f.Remediation.Recommendation.Text} {
			limit := map[string]int{"Title": maxTitle, "Description": maxDescription, "Recommendation": maxRemediation}[name]
			if len(s) > limit || !utf8.ValidString(s) {
				t.Errorf("%d functions: %s is %d bytes (limit %d) or not UTF-8", n, name, len(s), limit)
			}
		}
		if n == 200 && !strings.Contains(f.Remediation.Recommendation.Text, "more") {
			t.Errorf("a cut recommendation says so: %s", f.Remediation.Recommendation.Text)
		}
	}
}

// recorder is a Security Hub that keeps what it is sent and answers
// GetFindings from a fixed list, in pages of two.
type recorder struct {
	existing []types.AwsSecurityFinding
	imports  [][]types.AwsSecurityFinding
	getCalls int
	err      error
}

func (r *recorder) BatchImportFindings(_ context.Context, in *securityhub.BatchImportFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.imports = append(r.imports, in.Findings)
	return &securityhub.BatchImportFindingsOutput{SuccessCount: aws.Int32(int32(len(in.Findings))), FailedCount: aws.Int32(0)}, nil
}

func (r *recorder) GetFindings(_ context.Context, in *securityhub.GetFindingsInput, _ ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error) {
	if r.err != nil {
		return nil, r.err
	}
	start := 0
	if in.NextToken != nil {
		fmt.Sscan(*in.NextToken, &start)
	}
	r.getCalls++
	end := min(start+2, len(r.existing))
	out := &securityhub.GetFindingsOutput{Findings: r.existing[start:end]}
	if end < len(r.existing) {
		out.NextToken = aws.String(fmt.Sprint(end))
	}
	return out, nil
}

func (r *recorder) sent() map[string]types.AwsSecurityFinding {
	out := map[string]types.AwsSecurityFinding{}
	for _, b := range r.imports {
		for _, f := range b {
			out[*f.Id] = f
		}
	}
	return out
}

func TestBatches(t *testing.T) {
	rep := &audit.Report{AccountID: here.Account, Complete: true}
	for i := range 250 {
		f := bigFinding(2, fmt.Sprintf("role-%d", i))
		rep.Findings = append(rep.Findings, f)
	}
	var rec recorder
	res, err := Sync(context.Background(), &rec, rep, here, audit.Low, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.imports) != 3 || len(rec.imports[0]) != 100 || len(rec.imports[2]) != 50 || res.Imported != 250 {
		t.Fatalf("%d calls (%v), result %+v; want 100+100+50", len(rec.imports), len(rec.imports), res)
	}
}

func earlierFinding(id, account, product, generator string, state types.RecordState) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		Id: aws.String(id), AwsAccountId: aws.String(account), ProductArn: aws.String(product), GeneratorId: aws.String(generator),
		CreatedAt: aws.String("2026-01-01T00:00:00Z"), RecordState: state, Title: aws.String("old"), SchemaVersion: aws.String("2018-10-08"),
		Resources: []types.Resource{{Type: aws.String("AwsIamRole"), Id: aws.String("arn:aws:iam::123456789012:role/old")}},
	}
}

// TestLifecycle: a finding imported before and still there keeps its
// creation time; one a complete report no longer has is archived and
// PASSED; findings the filter let through that are not this tool's (other
// product, generator, account, or already archived) are left alone; an
// incomplete report archives nothing.
func TestLifecycle(t *testing.T) {
	rep := sampleReport(t)
	current := Map(rep, here, audit.Medium, fixedNow, nil)
	gen := Prefix + audit.RuleSharedAdminRole
	existing := []types.AwsSecurityFinding{
		earlierFinding(current[0].ID, here.Account, here.ProductArn(), current[0].GeneratorID, types.RecordStateActive),
		earlierFinding(Prefix+"lra-resolved", here.Account, here.ProductArn(), gen, types.RecordStateActive),
		earlierFinding(Prefix+"lra-other-account", "210987654321", here.ProductArn(), gen, types.RecordStateActive),
		earlierFinding(Prefix+"lra-other-product", here.Account, "arn:aws:securityhub:us-east-1::product/aws/guardduty", gen, types.RecordStateActive),
		earlierFinding("someone-else/lra-x", here.Account, here.ProductArn(), "other-tool/rule", types.RecordStateActive),
		earlierFinding(Prefix+"lra-already-archived", here.Account, here.ProductArn(), gen, types.RecordStateArchived),
	}
	rec := recorder{existing: existing}
	res, err := Sync(context.Background(), &rec, rep, here, audit.Medium, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if rec.getCalls != 3 {
		t.Errorf("GetFindings paged %d times, want 3 (pages of 2)", rec.getCalls)
	}
	sent := rec.sent()
	if res.Archived != 1 || res.Imported != len(current) || len(sent) != len(current)+1 {
		t.Fatalf("result %+v, sent %d; want %d imported and 1 archived", res, len(sent), len(current))
	}
	gone := sent[Prefix+"lra-resolved"]
	if gone.RecordState != types.RecordStateArchived || gone.Compliance.Status != types.ComplianceStatusPassed || *gone.CreatedAt != "2026-01-01T00:00:00Z" {
		t.Errorf("resolved finding: %+v", gone)
	}
	if kept := sent[current[0].ID]; *kept.CreatedAt != "2026-01-01T00:00:00Z" || kept.RecordState != types.RecordStateActive {
		t.Errorf("a finding seen before keeps its creation time: %s", *kept.CreatedAt)
	}

	rep.Complete = false
	rec = recorder{existing: existing}
	if res, err = Sync(context.Background(), &rec, rep, here, audit.Medium, fixedNow); err != nil || res.Archived != 0 {
		t.Fatalf("incomplete: %+v %v", res, err)
	}
	for id, f := range rec.sent() {
		if f.RecordState != types.RecordStateActive {
			t.Errorf("an incomplete audit archived %s", id)
		}
	}
}

func TestNotEnabled(t *testing.T) {
	rec := recorder{err: &smithy.GenericAPIError{Code: "InvalidAccessException", Message: "Account 123456789012 is not subscribed to AWS Security Hub"}}
	_, err := Sync(context.Background(), &rec, sampleReport(t), here, audit.Medium, fixedNow)
	if err == nil || !strings.Contains(err.Error(), "not enabled") || !strings.Contains(err.Error(), "GetFindings") {
		t.Fatalf("error %v", err)
	}
	rep := sampleReport(t)
	if _, ok := Deliver(context.Background(), &rec, rep, "us-east-1", audit.Medium, fixedNow); ok || len(rep.DeliveryErrors) != 1 ||
		rep.DeliveryErrors[0].Operation != "securityhub:GetFindings" || !strings.HasPrefix(rep.DeliveryErrors[0].Message, "Security Hub is not enabled") {
		t.Fatalf("delivery errors %+v", rep.DeliveryErrors)
	}
}

func TestWhereFor(t *testing.T) {
	for region, partition := range map[string]string{"eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		w, err := WhereFor("123456789012", region)
		if err != nil || w.Partition != partition {
			t.Errorf("%s: %+v %v", region, w, err)
		}
	}
	if w, _ := WhereFor("123456789012", "eu-west-1"); w.ProductArn() != "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default" {
		t.Errorf("product %s", w.ProductArn())
	}
	if _, err := WhereFor("", "eu-west-1"); err == nil {
		t.Error("no account: an error")
	}
	if _, err := WhereFor("123456789012", "moon"); err == nil {
		t.Error("bad region: an error")
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./pkg/asff -update and review the diff.\n--- got ---\n%s", name, got)
	}
}
