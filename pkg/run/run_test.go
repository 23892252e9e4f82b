package run_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v5"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/run"
)

var epoch = func() time.Time { return time.Time{} }

// TestConcurrentAuditsShareOneCollector is what warm Lambda invocations do:
// one collector, audits at the same time. Each audit's early verdicts are
// its own (run with -race, as make test does for this package).
func TestConcurrentAuditsShareOneCollector(t *testing.T) {
	srv := awsfake.Start(awsfake.Generate(awsfake.Spec{Functions: 120, Regions: 2, Roles: 30, Policies: 10, Seed: 3}), awsfake.Options{})
	defer srv.Close()
	collector := awsfake.Collector(srv.URL)

	const n = 4
	reports := make([]*audit.Report, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := run.Audit(context.Background(), collector, run.Options{Now: epoch})
			reports[i], errs[i] = res.Report, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("audit %d: %v", i, errs[i])
		}
		if !reports[i].Complete || len(reports[i].Findings) == 0 {
			t.Fatalf("audit %d: complete=%v findings=%d", i, reports[i].Complete, len(reports[i].Findings))
		}
		if !reflect.DeepEqual(reports[i], reports[0]) {
			t.Fatalf("audit %d differs from audit 0", i)
		}
	}
}

// TestAuditAddsPlansAfterTheRules: the rules leave plans out; the run adds
// one per function of every admin finding, none to shared-role findings.
func TestAuditAddsPlansAfterTheRules(t *testing.T) {
	src := inventory.Snapshot{Dir: "../../testdata/sample-account"}
	res, err := run.Audit(context.Background(), src, run.Options{Now: epoch})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := src.Collect(context.Background(), inventory.Request{})
	if err != nil {
		t.Fatal(err)
	}
	bare := audit.Evaluate(acct, audit.Options{Now: epoch})
	if len(bare.Findings) != len(res.Report.Findings) || len(bare.Findings) == 0 {
		t.Fatalf("findings: rules %d, run %d", len(bare.Findings), len(res.Report.Findings))
	}
	for i, f := range res.Report.Findings {
		if len(bare.Findings[i].Remediation) != 0 {
			t.Errorf("%s: the rules attached plans", f.ID)
		}
		want := len(f.Functions)
		if f.Rule == audit.RuleSharedRole {
			want = 0
		}
		if len(f.Remediation) != want {
			t.Errorf("%s (%s): %d plans for %d functions", f.ID, f.Rule, len(f.Remediation), len(f.Functions))
		}
		for j, p := range f.Remediation {
			if p.FunctionARN != f.Functions[j] {
				t.Errorf("%s: plan %d is for %s, not %s", f.ID, j, p.FunctionARN, f.Functions[j])
			}
		}
		f.Remediation = nil
		if !reflect.DeepEqual(f, bare.Findings[i]) {
			t.Errorf("%s differs from the rules' finding beyond its plans", f.ID)
		}
	}
}

type failingSource struct{ err error }

func (s failingSource) Collect(context.Context, inventory.Request) (*inventory.Account, error) {
	return nil, s.err
}

type deadlineSource struct{ got time.Time }

func (s *deadlineSource) Collect(ctx context.Context, req inventory.Request) (*inventory.Account, error) {
	s.got, _ = ctx.Deadline()
	return &inventory.Account{Source: "test", Regions: req.Regions}, nil
}

func TestAuditPassesRegionsAndDeadlineAndFailures(t *testing.T) {
	boom := errors.New("list enabled regions: denied")
	if _, err := run.Audit(context.Background(), failingSource{boom}, run.Options{}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	deadline := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	src := &deadlineSource{}
	res, err := run.Audit(context.Background(), src, run.Options{Regions: []string{"eu-west-1"}, CollectDeadline: deadline, Now: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if !src.got.Equal(deadline) {
		t.Errorf("collection deadline = %v, want %v", src.got, deadline)
	}
	if !reflect.DeepEqual(res.Report.Regions, []string{"eu-west-1"}) || !res.Report.Complete {
		t.Errorf("report regions %v complete %v", res.Report.Regions, res.Report.Complete)
	}
}

// TestReportMatchesItsSchema: docs/report.schema.json describes the JSON
// report exactly (no field it does not name); checked on the sample
// account's report and on an incomplete one with errors and warnings.
func TestReportMatchesItsSchema(t *testing.T) {
	schema, err := jsonschema.Compile("../../docs/report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	res, err := run.Audit(context.Background(), inventory.Snapshot{Dir: "../../testdata/sample-account"}, run.Options{SuppressRoles: []string{"cc-sandbox-role"}})
	if err != nil {
		t.Fatal(err)
	}
	incomplete := audit.Evaluate(&inventory.Account{ID: "123456789012", Source: "live", Regions: []string{"us-east-1"},
		Functions: []inventory.Function{
			{ARN: "arn:aws:lambda:us-east-1:123456789012:function:a", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/gone"},
			{ARN: "arn:aws:lambda:us-east-1:123456789012:function:b", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/unread"},
		},
		Roles:    map[string]*inventory.Role{"arn:aws:iam::123456789012:role/gone": {ARN: "arn:aws:iam::123456789012:role/gone", Missing: true}},
		Problems: []inventory.Problem{{Region: "eu-west-1", Operation: "lambda:ListFunctions", Message: "AccessDenied"}, {RoleARN: "arn:aws:iam::123456789012:role/unread", Operation: "iam:GetRole", Message: "AccessDenied"}},
	}, audit.Options{})
	if incomplete.Complete || len(incomplete.Warnings) == 0 || len(incomplete.Errors) != 2 {
		t.Fatalf("the incomplete report is not what the test needs: %+v", incomplete)
	}
	withPath := audit.Evaluate(&inventory.Account{ID: "123456789012", Source: "snapshot", Regions: []string{"us-east-1"},
		Functions: []inventory.Function{{ARN: "arn:aws:lambda:us-east-1:123456789012:function:a", Region: "us-east-1", RoleARN: "arn:aws:iam::123456789012:role/r"}},
		Roles:     map[string]*inventory.Role{"arn:aws:iam::123456789012:role/r": {ARN: "arn:aws:iam::123456789012:role/r", Name: "r"}},
	}, audit.Options{Escalations: map[string]*audit.Escalation{"arn:aws:iam::123456789012:role/r": {Admin: "role admin holds admin", Steps: []audit.PathStep{{
		From: "arn:aws:iam::123456789012:role/r", To: "arn:aws:iam::123456789012:role/admin", Actions: []string{"sts:AssumeRole"}, Conditional: true,
		AllowedBy: []audit.StatementRef{{Policy: "arn:aws:iam::123456789012:role/admin", PolicyType: "trust", StatementIndex: 0}}}}}}})
	if len(withPath.Findings) != 1 || len(withPath.Findings[0].Evidence[0].Path) != 1 {
		t.Fatalf("the report with a path is not what the test needs: %+v", withPath.Findings)
	}
	// The scheduled function's report: first-seen times, the change since
	// the last complete report (every kind), the alias, a failed export.
	changed, err := run.Audit(context.Background(), inventory.Snapshot{Dir: "../../testdata/sample-account"}, run.Options{})
	if err != nil {
		t.Fatal(err)
	}
	last := *res.Report
	last.Findings = append([]audit.Finding{{ID: "lra-gone", Rule: audit.RuleAdminRole, Severity: audit.High, RoleARN: "arn:aws:iam::123456789012:role/gone", RoleName: "gone", Functions: []string{"x"}}}, res.Report.Findings[1:]...)
	last.Findings[1].Severity, last.Findings[2].Functions = audit.Critical, nil
	audit.CarryFirstSeen(&last, changed.Report)
	change := audit.Compare(&last, changed.Report, audit.Low)
	if len(change.New) == 0 || len(change.Resolved) == 0 || len(change.Better)+len(change.Worse) == 0 {
		t.Fatalf("the change is not what the test needs: %+v", change)
	}
	changed.Report.Change, changed.Report.AccountAlias = &change, "payments-prod"
	changed.Report.DeliveryErrors = []audit.Error{{Region: "us-east-1", Operation: "securityhub:GetFindings", Message: "not enabled"}}
	for name, rep := range map[string]*audit.Report{"sample": res.Report, "incomplete": incomplete, "escalation path": withPath, "with change": changed.Report} {
		b, _ := json.Marshal(rep)
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("%s report does not match docs/report.schema.json: %v", name, err)
		}
	}
	// The schema is strict: a field it does not name fails.
	b, _ := json.Marshal(res.Report)
	var v map[string]any
	json.Unmarshal(b, &v)
	v["surprise"] = true
	if schema.Validate(v) == nil {
		t.Error("the schema accepts fields it does not describe")
	}
}
