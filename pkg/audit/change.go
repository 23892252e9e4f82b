package audit

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Change is what changed between the last complete report and this one,
// finding by finding, among the alerting findings (unsuppressed, at or
// above the alert threshold). Its JSON field names are a contract.
type Change struct {
	// Since is when the report compared with was made; zero on a first
	// run, when every alerting finding is new.
	Since time.Time `json:"since,omitzero"`
	// New holds the ids of findings that were not alerting before.
	New []string `json:"new"`
	// Worse: severity rose, or functions were added.
	Worse []Shift `json:"worse"`
	// Better: severity fell, or functions were removed (and none added).
	Better []Shift `json:"better"`
	// Resolved findings are gone from a complete report (fixed,
	// suppressed, or below the threshold now). An incomplete report
	// resolves nothing: what it could not see is unknown.
	Resolved  []Gone `json:"resolved"`
	Unchanged int    `json:"unchanged"`
}

// Shift is how one finding moved.
type Shift struct {
	ID      string   `json:"id"`
	Was     Severity `json:"was"`
	Added   []string `json:"functionsAdded,omitempty"`
	Removed []string `json:"functionsRemoved,omitempty"`
}

// Gone is a resolved finding, as it was last seen.
type Gone struct {
	ID        string   `json:"id"`
	Rule      string   `json:"rule"`
	Severity  Severity `json:"severity"`
	RoleARN   string   `json:"roleArn"`
	RoleName  string   `json:"roleName"`
	Functions int      `json:"functions"`
}

// Compare classifies each alerting finding of now against last (nil when
// there is no earlier complete report).
func Compare(last, now *Report, min Severity) Change {
	c := Change{New: []string{}, Worse: []Shift{}, Better: []Shift{}, Resolved: []Gone{}}
	before := map[string]Finding{}
	if last != nil {
		c.Since = last.GeneratedAt
		for _, f := range last.Alerting(min) {
			before[f.ID] = f
		}
	}
	current := map[string]bool{}
	for _, f := range now.Alerting(min) {
		current[f.ID] = true
		old, ok := before[f.ID]
		if !ok {
			c.New = append(c.New, f.ID)
			continue
		}
		s := Shift{ID: f.ID, Was: old.Severity, Added: missingFrom(f.Functions, old.Functions), Removed: missingFrom(old.Functions, f.Functions)}
		switch {
		case f.Severity.Rank() > old.Severity.Rank() || len(s.Added) > 0:
			c.Worse = append(c.Worse, s)
		case f.Severity.Rank() < old.Severity.Rank() || len(s.Removed) > 0:
			c.Better = append(c.Better, s)
		default:
			c.Unchanged++
		}
	}
	if now.Complete && last != nil {
		for _, f := range last.Alerting(min) {
			if !current[f.ID] {
				c.Resolved = append(c.Resolved, Gone{ID: f.ID, Rule: f.Rule, Severity: f.Severity, RoleARN: f.RoleARN, RoleName: f.RoleName, Functions: len(f.Functions)})
			}
		}
	}
	return c
}

// missingFrom lists the elements of a that b lacks.
func missingFrom(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Alerts reports whether the change is worth an alert: something new,
// worse or resolved. A finding that only got better waits for the next
// alert.
func (c *Change) Alerts() bool {
	return len(c.New) > 0 || len(c.Worse) > 0 || len(c.Resolved) > 0
}

// Line says the change in a few words, most serious first: "1 new
// critical, 2 new high, 1 worse, 1 resolved, 1 better"; "no change" when
// nothing moved.
func (c *Change) Line(r *Report) string {
	severity := map[string]Severity{}
	for _, f := range r.Findings {
		severity[f.ID] = f.Severity
	}
	var parts []string
	for _, sev := range Severities {
		n := 0
		for _, id := range c.New {
			if severity[id] == sev {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d new %s", n, sev))
		}
	}
	for _, kind := range []struct {
		n    int
		name string
	}{{len(c.Worse), "worse"}, {len(c.Resolved), "resolved"}, {len(c.Better), "better"}} {
		if kind.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kind.n, kind.name))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// CarryFirstSeen stamps each finding of now with when it was first seen:
// as last recorded it, else (a finding last saw without a stamp) last's
// time, else now.
func CarryFirstSeen(last, now *Report) {
	seen := map[string]time.Time{}
	if last != nil {
		for _, f := range last.Findings {
			seen[f.ID] = f.FirstSeen
			if f.FirstSeen.IsZero() {
				seen[f.ID] = last.GeneratedAt
			}
		}
	}
	for i := range now.Findings {
		if t, ok := seen[now.Findings[i].ID]; ok && !t.IsZero() {
			now.Findings[i].FirstSeen = t
		} else {
			now.Findings[i].FirstSeen = now.GeneratedAt
		}
	}
}
