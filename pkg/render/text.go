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

// WriteText renders the report for a terminal: a summary line, then each
// finding with its functions and evidence, then what could not be read.
func WriteText(w io.Writer, r *audit.Report) error {
	var b strings.Builder
	fmt.Fprintln(&b, SummaryLine(r))
	if !r.Complete {
		fmt.Fprintf(&b, "INCOMPLETE AUDIT: %d problem(s) kept parts of the account from being checked (see below).\n", len(r.Errors))
	}
	for i, f := range r.Findings {
		var notes []string
		if f.Suppressed {
			notes = append(notes, "suppressed (accepted risk): "+f.SuppressReason)
		}
		WriteFinding(&b, i+1, f, notes...)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(&b, "\nNot audited:")
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  - %s\n", ErrorLine(e))
		}
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", warn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteFinding renders one numbered finding: what it is, its functions,
// the evidence, any notes, and the commands that fix it. The terminal
// report and the alert email share it.
func WriteFinding(b *strings.Builder, n int, f audit.Finding, notes ...string) {
	fmt.Fprintf(b, "\n[%d] %s  %s  role %s\n", n, strings.ToUpper(string(f.Severity)), f.Rule, f.RoleName)
	for _, note := range notes {
		fmt.Fprintf(b, "    %s\n", note)
	}
	fmt.Fprintf(b, "    role: %s\n    id:   %s\n    %s\n", f.RoleARN, f.ID, ruleDescription(f))
	fmt.Fprintf(b, "    functions (%d):\n", len(f.Functions))
	for _, fn := range f.Functions {
		fmt.Fprintf(b, "      - %s\n", fn)
	}
	if len(f.Evidence) > 0 {
		fmt.Fprintln(b, "    evidence:")
		for _, e := range f.Evidence {
			fmt.Fprintf(b, "      - %s\n", evidenceLine(e))
		}
	}
	if len(f.Remediation) > 0 {
		fmt.Fprintln(b, "    fix: give each function its own role (these commands change nothing on the shared role):")
		for _, p := range f.Remediation {
			b.WriteString(indent(remediation.CLI(p), "      "))
		}
	}
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
	counts := SeverityCounts(r.Findings)
	if counts == "" {
		counts = "no findings"
	}
	return fmt.Sprintf("lambda-role-audit %s: %d functions in %d regions, %d roles evaluated; %d findings (%s); audit %s",
		account, r.Functions, len(r.Regions), r.Roles, len(r.Findings), counts, status)
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

// ruleDescription says in a sentence what a finding means.
func ruleDescription(f audit.Finding) string {
	switch f.Rule {
	case audit.RuleSharedAdminRole:
		return fmt.Sprintf("%d functions share this execution role, and it grants admin privileges: a compromise of any one of them is a compromise of the account.", len(f.Functions))
	case audit.RuleAdminRole:
		return "This function's execution role grants admin privileges."
	case audit.RuleSharedRole:
		return fmt.Sprintf("%d functions share this execution role (no admin privileges found); each function should have its own.", len(f.Functions))
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
		s += fmt.Sprintf(" (used by %d function(s))", len(e.Functions))
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
