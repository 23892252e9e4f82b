// Package asff turns an audit report into AWS Security Finding Format
// findings, and keeps AWS Security Hub in step with the report: each
// finding imported while it lasts, archived once a complete audit no longer
// finds it. The mapping is pure; Sync is the only part that calls AWS.
package asff

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
)

// ASFF's limits on the fields this mapping fills.
const (
	maxTitle       = 256
	maxDescription = 1024
	maxRemediation = 512
	maxResources   = 32
	// Prefix starts every generator id and finding id this tool writes:
	// its findings are told apart by it.
	Prefix = "lambda-role-audit/"
)

// Finding is one ASFF finding, with the fields this tool fills, in ASFF's
// own JSON names.
type Finding struct {
	SchemaVersion string            `json:"SchemaVersion"`
	ID            string            `json:"Id"`
	ProductArn    string            `json:"ProductArn"`
	GeneratorID   string            `json:"GeneratorId"`
	AwsAccountID  string            `json:"AwsAccountId"`
	Types         []string          `json:"Types"`
	CreatedAt     string            `json:"CreatedAt"`
	UpdatedAt     string            `json:"UpdatedAt"`
	Severity      Severity          `json:"Severity"`
	Title         string            `json:"Title"`
	Description   string            `json:"Description"`
	Remediation   Remediation       `json:"Remediation"`
	Resources     []Resource        `json:"Resources"`
	Compliance    Status            `json:"Compliance"`
	RecordState   string            `json:"RecordState"`
	Workflow      Status            `json:"Workflow"`
	ProductFields map[string]string `json:"ProductFields"`
}

// Severity is a finding's severity label.
type Severity struct {
	Label string `json:"Label"`
}

// Remediation is the recommended fix.
type Remediation struct {
	Recommendation struct {
		Text string `json:"Text"`
	} `json:"Recommendation"`
}

// Resource is a role or a function of a finding.
type Resource struct {
	Type      string `json:"Type"`
	ID        string `json:"Id"`
	Partition string `json:"Partition"`
	Region    string `json:"Region"`
}

// Status is a compliance or workflow status.
type Status struct {
	Status string `json:"Status"`
}

// Where is where findings are imported: the audited account's Security Hub
// in one region.
type Where struct {
	Partition, Region, Account string
}

// ProductArn is the account's default product, which accepts findings
// from the account itself.
func (w Where) ProductArn() string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", w.Partition, w.Region, w.Account, w.Account)
}

// FindingID is the ASFF id of a report finding: stable across runs, since
// the report's id is.
func FindingID(f audit.Finding) string { return Prefix + f.ID }

// Map turns the report's findings at or above min (suppressed ones too,
// marked so) into ASFF. createdAt gives the first-seen time of findings
// imported before (by ASFF id); others are first seen now.
func Map(r *audit.Report, w Where, min audit.Severity, now time.Time, createdAt map[string]string) []Finding {
	out := []Finding{}
	stamp := now.UTC().Format(time.RFC3339)
	for _, f := range r.Findings {
		if !f.Severity.AtLeast(min) {
			continue
		}
		id := FindingID(f)
		// Created when first seen: as Security Hub has it, else as the
		// function's state remembers it, else now.
		created := createdAt[id]
		if created == "" && !f.FirstSeen.IsZero() {
			created = f.FirstSeen.UTC().Format(time.RFC3339)
		}
		if created == "" {
			created = stamp
		}
		out = append(out, mapFinding(f, w, id, created, stamp))
	}
	return out
}

func mapFinding(f audit.Finding, w Where, id, created, now string) Finding {
	types := []string{"Software and Configuration Checks/AWS Security Best Practices"}
	for _, e := range f.Evidence {
		if e.Class == policy.ClassEscalation {
			types = append(types, "TTPs/Privilege Escalation")
			break
		}
	}
	workflow := "NEW"
	if f.Suppressed {
		workflow = "SUPPRESSED"
	}
	out := Finding{
		SchemaVersion: "2018-10-08", ID: id, ProductArn: w.ProductArn(), GeneratorID: Prefix + f.Rule,
		AwsAccountID: w.Account, Types: types, CreatedAt: created, UpdatedAt: now,
		Severity:    Severity{Label: strings.ToUpper(string(f.Severity))},
		Title:       clip(title(f), maxTitle),
		Description: clip(description(f), maxDescription),
		Resources:   resources(f, w),
		Compliance:  Status{Status: "FAILED"}, RecordState: "ACTIVE", Workflow: Status{Status: workflow},
		ProductFields: map[string]string{Prefix + "FindingId": f.ID, Prefix + "Rule": f.Rule},
	}
	out.Remediation.Recommendation.Text = clip(recommendation(f), maxRemediation)
	return out
}

func title(f audit.Finding) string {
	switch f.Rule {
	case audit.RuleSharedAdminRole:
		return fmt.Sprintf("%d Lambda functions share execution role %s, which grants admin privileges", len(f.Functions), f.RoleName)
	case audit.RuleAdminRole:
		return fmt.Sprintf("Lambda execution role %s grants admin privileges", f.RoleName)
	}
	return fmt.Sprintf("%d Lambda functions share execution role %s", len(f.Functions), f.RoleName)
}

// description names the functions (as many as fit, and how many more)
// and the evidence, most serious first.
func description(f audit.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Role %s is the execution role of %d function(s)", f.RoleARN, len(f.Functions))
	if len(f.Evidence) > 0 {
		fmt.Fprintf(&b, ". Evidence: %s", f.Evidence[0].Reason)
		if len(f.Evidence[0].Path) > 0 {
			fmt.Fprintf(&b, " (path of %d step(s), first: %s)", len(f.Evidence[0].Path), strings.Join(f.Evidence[0].Path[0].Actions, " + "))
		}
	}
	b.WriteString(". Functions: ")
	for i, fn := range f.Functions {
		more := fmt.Sprintf(" and %d more", len(f.Functions)-i)
		if b.Len()+len(fn)+len(more)+2 > maxDescription {
			b.WriteString(more)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(fn)
	}
	return b.String()
}

// recommendation is the per-function role plan in short: each function's
// planned role and its managed policies, as many as fit.
func recommendation(f audit.Finding) string {
	if f.Rule == audit.RuleSharedRole {
		return "Give each function its own execution role with only the permissions it needs (lambda-role-audit plan --function ARN writes it)."
	}
	var b strings.Builder
	b.WriteString("Give each function its own role (lambda-role-audit plan --function ARN), then remove the admin grant.")
	for i, p := range f.Remediation {
		var managed []string
		for _, m := range p.ManagedPolicyARNs {
			managed = append(managed, m[strings.LastIndex(m, "/")+1:])
		}
		line := fmt.Sprintf(" %s: role %s (%s)", p.FunctionName, p.RoleName, strings.Join(managed, ", "))
		if p.HasInline() {
			line = strings.TrimSuffix(line, ")") + ", inline)"
		}
		more := fmt.Sprintf(" ... and %d more", len(f.Remediation)-i)
		if b.Len()+len(line)+len(more) > maxRemediation {
			b.WriteString(more)
			break
		}
		if i > 0 {
			line = ";" + line
		}
		b.WriteString(line)
	}
	return b.String()
}

// resources lists the role, then the functions, at most 32 in all: the
// description says how many functions there are.
func resources(f audit.Finding, w Where) []Resource {
	out := []Resource{{Type: "AwsIamRole", ID: f.RoleARN, Partition: w.Partition, Region: w.Region}}
	fns := append([]string(nil), f.Functions...)
	sort.Strings(fns)
	for _, fn := range fns {
		if len(out) == maxResources {
			break
		}
		region := w.Region
		if parsed, err := inventory.ParseFunctionARN(fn); err == nil {
			region = parsed.Region
		}
		out = append(out, Resource{Type: "AwsLambdaFunction", ID: fn, Partition: w.Partition, Region: region})
	}
	return out
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// WhereFor is the audited account's Security Hub in region, in that
// region's partition.
func WhereFor(account, region string) (Where, error) {
	if account == "" {
		return Where{}, errors.New("the audited account's id is unknown, so its Security Hub product cannot be named")
	}
	if !inventory.ValidRegion(region) {
		return Where{}, fmt.Errorf("%q is not a region name", region)
	}
	partition := "aws"
	switch {
	case strings.HasPrefix(region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return Where{Partition: partition, Region: region, Account: account}, nil
}
