package audit

import (
	"reflect"
	"testing"
	"time"
)

func finding(id string, sev Severity, fns ...string) Finding {
	return Finding{ID: id, Rule: RuleSharedAdminRole, Severity: sev, RoleARN: "arn:aws:iam::123456789012:role/" + id, RoleName: id, Functions: fns}
}

func report(complete bool, fs ...Finding) *Report {
	return &Report{Complete: complete, GeneratedAt: time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC), Findings: fs}
}

func TestCompare(t *testing.T) {
	base := report(true, finding("a", High, "f1", "f2"), finding("b", Medium, "f3"), finding("c", Critical, "f4", "f5"))
	tests := []struct {
		name string
		last *Report
		now  *Report
		want Change
		line string
	}{
		{"first run: all new", nil, report(true, finding("a", High, "f1")),
			Change{New: []string{"a"}}, "1 new high"},
		{"nothing moved", base, report(true, base.Findings...),
			Change{Unchanged: 3}, "no change"},
		{"new", base, report(true, append(base.Findings, finding("d", Critical, "f9"))...),
			Change{New: []string{"d"}, Unchanged: 3}, "1 new critical"},
		{"worse by severity", base, report(true, finding("a", Critical, "f1", "f2"), base.Findings[1], base.Findings[2]),
			Change{Worse: []Shift{{ID: "a", Was: High}}, Unchanged: 2}, "1 worse"},
		{"worse by functions", base, report(true, finding("a", High, "f1", "f2", "f7"), base.Findings[1], base.Findings[2]),
			Change{Worse: []Shift{{ID: "a", Was: High, Added: []string{"f7"}}}, Unchanged: 2}, "1 worse"},
		{"added and removed is worse", base, report(true, finding("a", High, "f1", "f7"), base.Findings[1], base.Findings[2]),
			Change{Worse: []Shift{{ID: "a", Was: High, Added: []string{"f7"}, Removed: []string{"f2"}}}, Unchanged: 2}, "1 worse"},
		{"better by severity", base, report(true, finding("c", High, "f4", "f5"), base.Findings[0], base.Findings[1]),
			Change{Better: []Shift{{ID: "c", Was: Critical}}, Unchanged: 2}, "1 better"},
		{"better by functions", base, report(true, finding("c", Critical, "f4"), base.Findings[0], base.Findings[1]),
			Change{Better: []Shift{{ID: "c", Was: Critical, Removed: []string{"f5"}}}, Unchanged: 2}, "1 better"},
		{"resolved", base, report(true, base.Findings[0], base.Findings[1]),
			Change{Resolved: []Gone{{ID: "c", Rule: RuleSharedAdminRole, Severity: Critical, RoleARN: "arn:aws:iam::123456789012:role/c", RoleName: "c", Functions: 2}}, Unchanged: 2}, "1 resolved"},
		{"below the threshold now counts as resolved", base, report(true, base.Findings[0], base.Findings[2], finding("b", Low, "f3")),
			Change{Resolved: []Gone{{ID: "b", Rule: RuleSharedAdminRole, Severity: Medium, RoleARN: "arn:aws:iam::123456789012:role/b", RoleName: "b", Functions: 1}}, Unchanged: 2}, "1 resolved"},
		{"incomplete never resolves", base, report(false, base.Findings[0]),
			Change{Unchanged: 1}, "no change"},
		{"incomplete still sees new", base, report(false, finding("d", High, "f9")),
			Change{New: []string{"d"}}, "1 new high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Compare(tt.last, tt.now, Medium)
			want := tt.want
			for _, p := range []*[]string{&want.New} {
				if *p == nil {
					*p = []string{}
				}
			}
			if want.Worse == nil {
				want.Worse = []Shift{}
			}
			if want.Better == nil {
				want.Better = []Shift{}
			}
			if want.Resolved == nil {
				want.Resolved = []Gone{}
			}
			if tt.last != nil {
				want.Since = tt.last.GeneratedAt
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if line := got.Line(tt.now); line != tt.line {
				t.Errorf("line %q, want %q", line, tt.line)
			}
			if alerts := len(want.New)+len(want.Worse)+len(want.Resolved) > 0; got.Alerts() != alerts {
				t.Errorf("alerts %v", got.Alerts())
			}
		})
	}
}

func TestCarryFirstSeen(t *testing.T) {
	first := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	last := report(true, finding("a", High), finding("b", High))
	last.GeneratedAt = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	last.Findings[0].FirstSeen = first
	now := report(true, finding("a", High), finding("b", High), finding("c", High))
	CarryFirstSeen(last, now)
	if !now.Findings[0].FirstSeen.Equal(first) || !now.Findings[1].FirstSeen.Equal(last.GeneratedAt) || !now.Findings[2].FirstSeen.Equal(now.GeneratedAt) {
		t.Errorf("first seen: %v %v %v", now.Findings[0].FirstSeen, now.Findings[1].FirstSeen, now.Findings[2].FirstSeen)
	}
	fresh := report(true, finding("a", High))
	CarryFirstSeen(nil, fresh)
	if !fresh.Findings[0].FirstSeen.Equal(fresh.GeneratedAt) {
		t.Errorf("without state: %v", fresh.Findings[0].FirstSeen)
	}
}
