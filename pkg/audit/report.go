package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"time"

	"lambda-role-audit/pkg/policy"
)

// Rule names: a contract that outside tools read.
const (
	RuleSharedAdminRole = "shared-admin-role"
	RuleAdminRole       = "admin-role"
	RuleSharedRole      = "shared-role"
)

// Rules lists every rule, most serious first.
var Rules = []string{RuleSharedAdminRole, RuleAdminRole, RuleSharedRole}

// Report is the audit's result. Its JSON field names are a contract.
type Report struct {
	Tool      string `json:"tool"`
	AccountID string `json:"accountId,omitempty"`
	// AccountAlias names the account in alerts, when it has one.
	AccountAlias string    `json:"accountAlias,omitempty"`
	Source       string    `json:"source"`
	GeneratedAt  time.Time `json:"generatedAt"`
	// Complete is false whenever anything could not be read or judged; the
	// reasons are in Errors.
	Complete bool    `json:"complete"`
	Errors   []Error `json:"errors"`
	// DeliveryErrors are exports that failed after the audit (Security
	// Hub): the audit itself may be complete, but someone must know that
	// its findings did not all get where they were sent.
	DeliveryErrors []Error   `json:"deliveryErrors,omitempty"`
	Warnings       []string  `json:"warnings,omitempty"`
	Regions        []string  `json:"regions"`
	Functions      int       `json:"functionsAudited"`
	Roles          int       `json:"rolesEvaluated"`
	Summary        Summary   `json:"summary"`
	Findings       []Finding `json:"findings"`
	// Change compares this report with the last complete one, when the
	// scheduled function keeps state (see Compare).
	Change *Change `json:"change,omitempty"`
}

// Error is something the audit could not see.
type Error struct {
	Region    string   `json:"region,omitempty"`
	RoleARN   string   `json:"roleArn,omitempty"`
	PolicyARN string   `json:"policyArn,omitempty"`
	Operation string   `json:"operation,omitempty"`
	Message   string   `json:"message"`
	Functions []string `json:"functions,omitempty"`
}

// Summary counts findings.
type Summary struct {
	Total      int            `json:"total"`
	ByRule     map[string]int `json:"byRule"`
	BySeverity map[string]int `json:"bySeverity"`
	Suppressed int            `json:"suppressed"`
}

// Finding is one rule violated by one role.
type Finding struct {
	ID        string     `json:"id"`
	Rule      string     `json:"rule"`
	Severity  Severity   `json:"severity"`
	RoleARN   string     `json:"roleArn"`
	RoleName  string     `json:"roleName"`
	Functions []string   `json:"functions"`
	Evidence  []Evidence `json:"evidence"`
	// Suppressed findings are accepted risks: kept in the report, never
	// alerted on.
	Suppressed     bool   `json:"suppressed,omitempty"`
	SuppressReason string `json:"suppressedReason,omitempty"`
	// FirstSeen is when the finding was first reported, carried from the
	// scheduled function's state; zero (absent) without state.
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	// Remediation plans one least-privilege role per function, for findings
	// whose role grants admin. The rules leave it empty: pkg/remediation
	// fills it as a separate step over the report.
	Remediation []Plan `json:"remediation,omitempty"`
}

// Plan is one function's least-privilege role, as the report carries it
// (pkg/remediation makes, renders and applies plans).
type Plan struct {
	FunctionARN       string          `json:"functionArn"`
	FunctionName      string          `json:"functionName"`
	Region            string          `json:"region"`
	RoleName          string          `json:"roleName"`
	RoleARN           string          `json:"roleArn"`
	TrustPolicy       json.RawMessage `json:"trustPolicy"`
	ManagedPolicyARNs []string        `json:"managedPolicyArns"`
	InlinePolicyName  string          `json:"inlinePolicyName,omitempty"`
	InlinePolicy      json.RawMessage `json:"inlinePolicy"`
	// Unknowns is what the configuration cannot tell, said plainly, so no
	// one takes the plan for complete when it is not.
	Unknowns []string `json:"unknowns"`
	// Referenced are the resources the function's configuration points at
	// (environment values that are ARNs, queue URLs or S3 locations; event
	// sources; the dead-letter target; file systems). Other environment
	// values are never read into a plan: they may be secrets.
	Referenced []Reference `json:"referenced,omitempty"`
	// Observed, UsageWindow and ObservedPolicy are the function's own calls
	// in CloudTrail event history (plan --usage, USAGE_EVIDENCE=on).
	Observed    []ObservedAction `json:"observed,omitempty"`
	UsageWindow *UsageWindow     `json:"usageWindow,omitempty"`
	// ObservedPolicy allows exactly the observed actions on exactly the
	// observed resources. When it does not fit beside the inline policy
	// (IAM's 10,240 characters a role), ObservedPolicyParts holds it in
	// parts of at most 6,144 characters, to create as managed policies.
	ObservedPolicy      json.RawMessage   `json:"observedPolicy,omitempty"`
	ObservedPolicyParts []json.RawMessage `json:"observedPolicyParts,omitempty"`
}

// Reference is a resource the function's configuration points at.
type Reference struct {
	// Source says where: "env:TABLE_NAME", "eventSourceMapping",
	// "deadLetterConfig", "fileSystem".
	Source   string `json:"source"`
	Resource string `json:"resource"`
}

// ObservedAction is one IAM action the function was seen calling.
type ObservedAction struct {
	Action string `json:"action"`
	// Resources are exact ARNs; "*" only for an action with no resource
	// type; empty when the event did not say which resource.
	Resources []string  `json:"resources"`
	Count     int       `json:"count"`
	LastSeen  time.Time `json:"lastSeen"`
}

// UsageWindow says how the observed calls were read.
type UsageWindow struct {
	Days      int `json:"days"`
	CallsMade int `json:"callsMade"`
	// CutShort: the call budget ran out with events left unread.
	CutShort bool     `json:"cutShort"`
	Events   int      `json:"eventsMatched"`
	Errors   []string `json:"errors,omitempty"`
	Regions  []string `json:"regions"`
}

// HasInline reports whether the plan has an inline policy.
func (p Plan) HasInline() bool {
	return len(p.InlinePolicy) > 0 && string(p.InlinePolicy) != "null"
}

// Evidence points at the statement that made a finding.
type Evidence struct {
	// Policy is a managed policy ARN or an inline policy name.
	Policy         string       `json:"policy"`
	PolicyType     string       `json:"policyType"` // managed, inline or permissions-boundary
	VersionID      string       `json:"versionId,omitempty"`
	StatementIndex int          `json:"statementIndex"`
	Sid            string       `json:"sid,omitempty"`
	Class          policy.Class `json:"class,omitempty"`
	// Unrestricted: the statement applies to Resource "*" with no Condition.
	Unrestricted bool   `json:"unrestricted,omitempty"`
	Reason       string `json:"reason"`
	// Path is how the role becomes admin through other principals, step
	// by step, for an admin-equivalent role (class escalation).
	Path []PathStep `json:"path,omitempty"`
}

// Escalation is how a role that holds no admin itself reaches a principal
// that does: the shortest path, found by pkg/escalation.
type Escalation struct {
	Steps []PathStep
	// Admin says why the last principal of the path is admin; with no
	// steps, why the role itself is (it can rewrite its own or another
	// principal's permissions), and Via is the statement that lets it.
	Admin string
	Via   *StatementRef
}

// Conditional reports whether any step depends on a Condition the audit
// cannot evaluate.
func (e *Escalation) Conditional() bool {
	for _, s := range e.Steps {
		if s.Conditional {
			return true
		}
	}
	return false
}

// PathStep is one step of an escalation path: what From does, allowed by
// which statements, to act as To.
type PathStep struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Actions []string `json:"actions"`
	// AllowedBy names, for each action in order, the statement that allows
	// it (a trust policy for an assumed role's own consent).
	AllowedBy   []StatementRef `json:"allowedBy"`
	Conditional bool           `json:"conditional,omitempty"`
	Note        string         `json:"note,omitempty"`
}

// StatementRef points at one statement of one policy.
type StatementRef struct {
	Policy         string `json:"policy"`
	PolicyType     string `json:"policyType"`
	VersionID      string `json:"versionId,omitempty"`
	StatementIndex int    `json:"statementIndex"`
	Sid            string `json:"sid,omitempty"`
}

// FindingID is a stable fingerprint of a rule and a role, so the same
// problem keeps its id from one run to the next.
func FindingID(rule, roleARN string) string {
	sum := sha256.Sum256([]byte(rule + "\x00" + roleARN))
	return "lra-" + hex.EncodeToString(sum[:8])
}

func (r *Report) summarize() {
	s := Summary{ByRule: map[string]int{}, BySeverity: map[string]int{}}
	for _, rule := range Rules {
		s.ByRule[rule] = 0
	}
	for _, sev := range Severities {
		s.BySeverity[string(sev)] = 0
	}
	for _, f := range r.Findings {
		s.Total++
		s.ByRule[f.Rule]++
		s.BySeverity[string(f.Severity)]++
		if f.Suppressed {
			s.Suppressed++
		}
	}
	r.Summary = s
}

func (r *Report) sortFindings() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.RoleARN != b.RoleARN {
			return a.RoleARN < b.RoleARN
		}
		return a.Rule < b.Rule
	})
}

// Highest returns the most severe unsuppressed finding's severity, or "".
func (r *Report) Highest() Severity {
	var top Severity
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity.Rank() > top.Rank() {
			top = f.Severity
		}
	}
	return top
}

// Alerting returns the unsuppressed findings at or above min.
func (r *Report) Alerting(min Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if !f.Suppressed && f.Severity.AtLeast(min) {
			out = append(out, f)
		}
	}
	return out
}
