package notify

import (
	"fmt"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/render"
)

// changeLed reports whether the alert leads with what changed: in change
// mode, once the report has been compared with the last complete one.
func changeLed(r *audit.Report, c Context) bool {
	return c.ChangeMode && r.Change != nil
}

// changeLine is the first line of a change alert: the change first, then
// the account it happened in, then since when: "1 new critical, 1
// resolved in account 123456789012 (payments-prod) since 2026-11-27 06:00
// UTC".
func changeLine(r *audit.Report, c Context) string {
	since := "(first run: nothing to compare with)"
	if !r.Change.Since.IsZero() {
		since = "since " + r.Change.Since.UTC().Format("2006-01-02 15:04 UTC")
	}
	return fmt.Sprintf("%s in account %s %s", r.Change.Line(r), c.account(), since)
}

// changeEmail leads with the change: new and worse findings in full (the
// first k), better and resolved ones a line each, then how many are
// unchanged.
func changeEmail(r *audit.Report, c Context, k int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nLambda execution role audit", changeLine(r, c))
	if !c.Now.IsZero() {
		fmt.Fprintf(&b, " at %s", c.Now.UTC().Format("2006-01-02 15:04 UTC"))
	}
	b.WriteString("\n\n")
	if !r.Complete {
		fmt.Fprintf(&b, "%s\n(an incomplete audit resolves nothing: what it could not see is unknown)\n\n", incompleteLine(r))
	}
	if len(r.DeliveryErrors) > 0 {
		fmt.Fprintf(&b, "%s\n\n", deliveryLine(r))
	}
	fmt.Fprintf(&b, "%s\n", render.SummaryLine(r))
	byID := map[string]audit.Finding{}
	for _, f := range r.Findings {
		byID[f.ID] = f
	}
	shown := 0
	section := func(title string, ids []string, note func(id string) string) {
		if len(ids) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s\n%s\n", title, strings.Repeat("=", len(title)))
		for _, id := range ids {
			if shown == k {
				fmt.Fprintf(&b, "\n%s\n", moreLine(len(r.Change.New)+len(r.Change.Worse)-shown, c))
				return
			}
			shown++
			render.WriteFinding(&b, shown, byID[id], note(id))
		}
	}
	section("NEW", r.Change.New, func(string) string { return "new since the last complete run" })
	var worse []string
	notes := map[string]string{}
	for _, s := range r.Change.Worse {
		worse = append(worse, s.ID)
		notes[s.ID] = "worse: " + shiftNote(s, byID[s.ID])
	}
	section("WORSE", worse, func(id string) string { return notes[id] })
	if len(r.Change.Better) > 0 {
		fmt.Fprint(&b, "\nBETTER\n======\n")
		for _, s := range r.Change.Better {
			f := byID[s.ID]
			fmt.Fprintf(&b, "- %s %s role %s: %s\n", strings.ToUpper(string(f.Severity)), f.Rule, f.RoleName, shiftNote(s, f))
		}
	}
	if len(r.Change.Resolved) > 0 {
		fmt.Fprint(&b, "\nRESOLVED\n========\n")
		for _, g := range r.Change.Resolved {
			fmt.Fprintf(&b, "- was %s %s role %s (%s), finding %s\n", strings.ToUpper(string(g.Severity)), g.Rule, g.RoleName, render.Count(g.Functions, "function", "functions"), g.ID)
		}
	}
	fmt.Fprintf(&b, "\nUnchanged and still open: %s (the full report is attached for SQS and Lambda subscribers, and logged).\n", render.Count(r.Change.Unchanged, "finding", "findings"))
	if len(r.Change.New)+len(r.Change.Worse) > 0 {
		b.WriteString(remediationSteps)
	}
	return b.String()
}

// shiftNote says how a finding moved: "was high, now critical; functions
// added: a; removed: b".
func shiftNote(s audit.Shift, f audit.Finding) string {
	var parts []string
	if s.Was != f.Severity {
		parts = append(parts, fmt.Sprintf("was %s, now %s", s.Was, f.Severity))
	}
	if len(s.Added) > 0 {
		parts = append(parts, "functions added: "+strings.Join(s.Added, ", "))
	}
	if len(s.Removed) > 0 {
		parts = append(parts, "functions removed: "+strings.Join(s.Removed, ", "))
	}
	return strings.Join(parts, "; ")
}
