package notify

import (
	"testing"

	"lambda-role-audit/pkg/audit"
)

func TestDecide(t *testing.T) {
	high := audit.Finding{ID: "lra-1", Severity: audit.High, Functions: []string{"f1", "f2"}}
	critical := high
	critical.Severity = audit.Critical
	grown := high
	grown.Functions = []string{"f1", "f2", "f3"}
	low := audit.Finding{ID: "lra-2", Severity: audit.Low}
	quiet := &audit.Report{Complete: true, Findings: []audit.Finding{low}}
	loud := &audit.Report{Complete: true, Findings: []audit.Finding{high, low}}
	partial := &audit.Report{Complete: false}
	suppressed := &audit.Report{Complete: true, Findings: []audit.Finding{{ID: "lra-3", Severity: audit.Critical, Suppressed: true}}}
	tests := []struct {
		name    string
		mode    string
		report  *audit.Report
		last    State
		publish bool
		reason  string
	}{
		{"findings: alerting finding", ModeFindings, loud, State{}, true, ""},
		{"findings: below the threshold", ModeFindings, quiet, State{}, false, "no unsuppressed findings at medium or above"},
		{"findings: suppressed only", ModeFindings, suppressed, State{}, false, "no unsuppressed findings at medium or above"},
		{"findings: incomplete", ModeFindings, partial, State{}, true, ""},
		{"always: all clear", ModeAlways, quiet, State{}, true, ""},
		{"change: first run with findings", ModeChange, loud, State{}, true, ""},
		{"change: first run, nothing", ModeChange, quiet, State{}, false, "findings unchanged since the last run"},
		{"change: same set", ModeChange, loud, StateFor(loud, audit.Medium), false, "findings unchanged since the last run"},
		{"change: same id, severity rose", ModeChange, &audit.Report{Complete: true, Findings: []audit.Finding{critical}}, StateFor(loud, audit.Medium), true, ""},
		{"change: same id, a function more", ModeChange, &audit.Report{Complete: true, Findings: []audit.Finding{grown}}, StateFor(loud, audit.Medium), true, ""},
		{"change: set changed", ModeChange, loud, StateOf([]string{"lra-9"}), true, ""},
		{"change: all resolved", ModeChange, quiet, StateFor(loud, audit.Medium), true, ""},
		{"change: incomplete", ModeChange, partial, StateOf(nil), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			publish, reason := Decide(tt.mode, tt.report, audit.Medium, tt.last)
			if publish != tt.publish || reason != tt.reason {
				t.Errorf("Decide = %v %q, want %v %q", publish, reason, tt.publish, tt.reason)
			}
		})
	}
	if err := CheckMode("sometimes"); err == nil {
		t.Error("CheckMode accepted an unknown mode")
	}
}
