// Package render writes audit reports for people: the terminal report and
// the alert email share its finding, evidence and summary lines.
package render

import (
	"fmt"
	"io"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/remediation"
)

// WriteText renders the report for a terminal: a summary line, then what
// needs attention before anything else (what could not be audited, roles
// that do not exist), then each finding with its functions, evidence and
// fix.
func WriteText(w io.Writer, r *audit.Report) error {
	var b strings.Builder
	fmt.Fprintln(&b, SummaryLine(r))
	WriteAttention(&b, r, 0)
	for i, f := range r.Findings {
		var notes []string
		if f.Suppressed {
			notes = append(notes, "suppressed (accepted risk): "+f.SuppressReason)
		}
		WriteFinding(&b, i+1, f, notes...)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteAttention writes what the reader must know before the findings: the
// parts of the account that were not audited, and warnings. limit bounds
// the errors listed (0: all).
func WriteAttention(b *strings.Builder, r *audit.Report, limit int) {
	if !r.Complete {
		fmt.Fprintf(b, "\nINCOMPLETE AUDIT: %s kept parts of the account from being checked:\n", Count(len(r.Errors), "problem", "problems"))
		for i, e := range r.Errors {
			if limit > 0 && i == limit {
				fmt.Fprintf(b, "  ... and %d more (see the log).\n", len(r.Errors)-i)
				break
			}
			fmt.Fprintf(b, "  - %s\n", ErrorLine(e))
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(b, "\nWarnings:")
		for _, w := range r.Warnings {
			fmt.Fprintf(b, "  - %s\n", w)
		}
	}
}

// WriteFinding renders one numbered finding: what it is, its functions,
// the evidence, any notes, and the commands that fix it. The terminal
// report and the alert email share it.
func WriteFinding(b *strings.Builder, n int, f audit.Finding, notes ...string) {
	fmt.Fprintf(b, "\n[%d] %s  %s  role %s\n", n, strings.ToUpper(string(f.Severity)), f.Rule, f.RoleName)
	for _, note := range notes {
		fmt.Fprintf(b, "    %s\n", note)
	}
	fmt.Fprintf(b, "    role %s  (finding %s)\n", f.RoleARN, f.ID)
	if !f.FirstSeen.IsZero() {
		// From the scheduled function's state: how long this has been so.
		fmt.Fprintf(b, "    first seen %s\n", f.FirstSeen.UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(b, "    %s\n", ruleDescription(f))
	fmt.Fprintf(b, "    functions (%d):\n", len(f.Functions))
	for _, fn := range f.Functions {
		fmt.Fprintf(b, "      - %s\n", fn)
	}
	if len(f.Evidence) > 0 {
		fmt.Fprintln(b, "    evidence:")
		for _, e := range f.Evidence {
			fmt.Fprintf(b, "      - %s\n", evidenceLine(e))
			for i, step := range e.Path {
				fmt.Fprintf(b, "          %d. %s\n", i+1, StepLine(step))
			}
		}
	}
	if len(f.Remediation) == 0 {
		return
	}
	if len(f.Functions) > 1 {
		fmt.Fprintln(b, "    fix: give each function its own role (these commands change nothing on the shared role).")
	} else {
		fmt.Fprintln(b, "    fix: give the function a role of its own (these commands change nothing on its current role).")
	}
	b.WriteString(indent(remediation.CLIBlock(f.Remediation), "      "))
}

// indent prefixes every non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// SummaryLine is one line saying what was audited and what was found.
func SummaryLine(r *audit.Report) string {
	status := "complete"
	if !r.Complete {
		status = "INCOMPLETE"
	}
	account := r.AccountID
	if account == "" {
		account = "(unknown account)"
	}
	found := "no findings"
	if len(r.Findings) > 0 {
		found = fmt.Sprintf("%s (%s)", Count(len(r.Findings), "finding", "findings"), SeverityCounts(r.Findings))
	}
	return fmt.Sprintf("lambda-role-audit %s: %s in %s, %s evaluated; %s; audit %s",
		account, Count(r.Functions, "function", "functions"), Count(len(r.Regions), "region", "regions"),
		Count(r.Roles, "role", "roles"), found, status)
}

// Count renders "1 function", "2 functions".
func Count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// SeverityCounts renders "2 critical, 1 high" for unsuppressed findings,
// most severe first, with the suppressed ones counted apart.
func SeverityCounts(findings []audit.Finding) string {
	counts := map[audit.Severity]int{}
	suppressed := 0
	for _, f := range findings {
		if f.Suppressed {
			suppressed++
			continue
		}
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range audit.Severities {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	if suppressed > 0 {
		parts = append(parts, fmt.Sprintf("%d suppressed", suppressed))
	}
	return strings.Join(parts, ", ")
}

// capped reports whether a permissions boundary caps the finding's role.
func capped(f audit.Finding) bool {
	for _, e := range f.Evidence {
		if e.PolicyType == "permissions-boundary" && e.Class == "" {
			return true
		}
	}
	return false
}

// ruleDescription says in a sentence what a finding means, in the terms
// of its case: shared or not, capped by a boundary or not.
func ruleDescription(f audit.Finding) string {
	n := len(f.Functions)
	switch f.Rule {
	case audit.RuleSharedAdminRole:
		if capped(f) {
			return fmt.Sprintf("%d functions share this execution role, which grants admin privileges within a permissions boundary that caps them: a compromise of one is a compromise of every other and of what the boundary allows.", n)
		}
		return fmt.Sprintf("%d functions share this execution role, and it grants admin privileges: a compromise of any one of them is a compromise of the account.", n)
	case audit.RuleAdminRole:
		if capped(f) {
			return "This function's execution role grants admin privileges within a permissions boundary that caps them."
		}
		return "This function's execution role grants admin privileges: a compromise of the function is a compromise of the account."
	case audit.RuleSharedRole:
		return fmt.Sprintf("%d functions share this execution role (no admin privileges found); each function should have its own.", n)
	}
	return f.Rule
}

// evidenceLine renders one piece of evidence.
func evidenceLine(e audit.Evidence) string {
	where := e.PolicyType + " policy " + e.Policy
	if e.VersionID != "" {
		where += " (" + e.VersionID + ")"
	}
	switch {
	case e.StatementIndex >= 0 && e.Sid != "":
		where += fmt.Sprintf(", statement %d (Sid %q)", e.StatementIndex, e.Sid)
	case e.StatementIndex >= 0:
		where += fmt.Sprintf(", statement %d", e.StatementIndex)
	}
	if e.Class != "" && e.PolicyType != "permissions-boundary" {
		return fmt.Sprintf("%s: %s — %s", e.Class, where, e.Reason)
	}
	return fmt.Sprintf("%s — %s", where, e.Reason)
}

// StepLine renders one step of an escalation path on one line: who does
// what, allowed by which statements, to act as whom.
func StepLine(s audit.PathStep) string {
	var by []string
	for _, r := range s.AllowedBy {
		ref := r.PolicyType + " policy " + r.Policy
		if r.StatementIndex >= 0 {
			ref += fmt.Sprintf(" statement %d", r.StatementIndex)
		}
		by = append(by, ref)
	}
	line := fmt.Sprintf("%s: %s (allowed by %s) -> %s", principalLabel(s.From), strings.Join(s.Actions, " + "), strings.Join(by, "; "), principalLabel(s.To))
	if s.Note != "" {
		line += "; " + s.Note
	}
	if s.Conditional {
		line += " [conditional]"
	}
	return line
}

// principalLabel names a role, user or group ARN briefly.
func principalLabel(arn string) string {
	for _, kind := range []string{":role/", ":user/", ":group/"} {
		if i := strings.Index(arn, kind); i >= 0 {
			name := arn[i+len(kind):]
			if j := strings.LastIndex(name, "/"); j >= 0 {
				name = name[j+1:]
			}
			return strings.Trim(kind, ":/") + " " + name
		}
	}
	return arn
}

// ErrorLine renders one thing the audit could not see.
func ErrorLine(e audit.Error) string {
	var where []string
	if e.Region != "" {
		where = append(where, "region "+e.Region)
	}
	if e.RoleARN != "" {
		where = append(where, "role "+e.RoleARN)
	}
	if e.Operation != "" {
		where = append(where, e.Operation)
	}
	s := e.Message
	if len(where) > 0 {
		s = strings.Join(where, ", ") + ": " + s
	}
	if len(e.Functions) > 0 {
		s += fmt.Sprintf(" (used by %s)", Count(len(e.Functions), "function", "functions"))
	}
	return s
}

// RoleLabel is a short human name for a role ARN.
func RoleLabel(arn string) string {
	if n := inventory.RoleNameFromARN(arn); n != "" {
		return n
	}
	return strings.TrimSpace(arn)
}
