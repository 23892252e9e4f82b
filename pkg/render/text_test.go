package render_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/render"
	"lambda-role-audit/pkg/run"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleReport(t *testing.T) *audit.Report {
	t.Helper()
	res, err := run.Audit(context.Background(), inventory.Snapshot{Dir: "../../testdata/sample-account"},
		run.Options{Now: func() time.Time { return time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return res.Report
}

// TestSampleAccountTextReport is the terminal report of the bundled sample
// account, reviewed by reading testdata/golden/sample-report.txt.
func TestSampleAccountTextReport(t *testing.T) {
	rep := sampleReport(t)
	var b bytes.Buffer
	if err := render.WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "golden", "sample-report.txt")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/render -update)", err)
	}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("the text report differs from %s; run go test ./pkg/render -update and review the diff.\n%s", path, b.String())
	}
	// Nothing lost: every finding, every function and one switch command
	// per planned function; the data-access note once per finding with
	// plans, not once per function.
	text := b.String()
	plans := 0
	for _, f := range rep.Findings {
		if !strings.Contains(text, f.ID) {
			t.Errorf("finding %s missing", f.ID)
		}
		for _, fn := range f.Functions {
			if !strings.Contains(text, fn) {
				t.Errorf("function %s missing", fn)
			}
		}
		for _, p := range f.Remediation {
			plans++
			if !strings.Contains(text, "--function-name "+p.FunctionName+" --role "+p.RoleARN) {
				t.Errorf("no switch command for %s", p.FunctionARN)
			}
		}
	}
	withPlans := 0
	for _, f := range rep.Findings {
		if len(f.Remediation) > 0 {
			withPlans++
		}
	}
	if n := strings.Count(text, "was granted by the old role"); n != withPlans || plans <= withPlans {
		t.Errorf("data-access note %d times for %d findings with plans (%d plans)", n, withPlans, plans)
	}
}

func TestWordingFitsTheCase(t *testing.T) {
	capped := audit.Finding{Rule: audit.RuleSharedAdminRole, Functions: []string{"a", "b"},
		Evidence: []audit.Evidence{{PolicyType: "permissions-boundary", StatementIndex: -1, Reason: "caps"}}}
	single := audit.Finding{Rule: audit.RuleAdminRole, Functions: []string{"a"}, Remediation: []audit.Plan{{FunctionARN: "a"}}}
	for _, tt := range []struct {
		f         audit.Finding
		want, not string
	}{
		{capped, "within a permissions boundary", "compromise of the account"},
		{single, "give the function a role of its own", "shared role"},
	} {
		var b strings.Builder
		render.WriteFinding(&b, 1, tt.f)
		if !strings.Contains(b.String(), tt.want) || strings.Contains(b.String(), tt.not) {
			t.Errorf("want %q and not %q:\n%s", tt.want, tt.not, b.String())
		}
	}
	one := &audit.Report{Complete: true, Functions: 1, Regions: []string{"us-east-1"}, Roles: 1}
	if got := render.SummaryLine(one); !strings.Contains(got, "1 function in 1 region, 1 role evaluated; no findings") {
		t.Errorf("summary: %s", got)
	}
}
