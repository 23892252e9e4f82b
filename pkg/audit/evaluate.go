package audit

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
)

// SuppressTag is the role tag that marks a finding as accepted risk; its
// value is the reason.
const SuppressTag = "lambda-role-audit:suppress"

// Options tune an evaluation.
type Options struct {
	// SuppressRoles are role names or ARNs whose findings are accepted risk.
	SuppressRoles []string
	// Now stamps the report; time.Now when nil.
	Now func() time.Time
	// Prepared holds verdicts worked out while the account was still being
	// collected (see Prepare); roles it covers are not judged again.
	Prepared *Prepared
	// Parsed shares parsed documents with the rest of the audit (nil: parse
	// here).
	Parsed *policy.Parsed
	// Escalations are the paths by which roles that hold no admin
	// themselves reach a principal that does, by role ARN (pkg/escalation
	// finds them): such a role grants admin, class escalation.
	Escalations map[string]*Escalation
}

// Prepared is the judgement of roles made ahead of Evaluate.
type Prepared struct {
	roles    map[string]*inventory.Role
	verdicts map[string]verdict
}

// Prepare judges roles and the managed policies they use ahead of time: a
// live collection has the IAM data long before its last function page, and
// judging (mostly parsing documents) then costs no wall time. A role whose
// policies were not all at hand is left for Evaluate.
func Prepare(roles map[string]*inventory.Role, policies map[string]*inventory.ManagedPolicy, parsed *policy.Parsed) *Prepared {
	arns := make([]string, 0, len(roles))
	for arn := range roles {
		arns = append(arns, arn)
	}
	sort.Strings(arns)
	managed := &managedCache{policies: policies, done: map[string]*managedResult{}, parsed: parsed}
	verdicts := judgeAll(arns, &inventory.Account{Roles: roles, Policies: policies}, managed, nil, nil)
	// Remember which role each verdict was made from: a role replaced
	// since (a later read) is judged again.
	p := &Prepared{roles: make(map[string]*inventory.Role, len(arns)), verdicts: make(map[string]verdict, len(arns))}
	for i, arn := range arns {
		if len(verdicts[i].unevaluated) == 0 {
			p.roles[arn] = roles[arn]
			p.verdicts[arn] = verdicts[i]
		}
	}
	return p
}

// verdict returns the prepared verdict for the role, if it was prepared
// from this very role.
func (p *Prepared) verdict(arn string, role *inventory.Role) (verdict, bool) {
	if p == nil || p.roles[arn] != role {
		return verdict{}, false
	}
	v, ok := p.verdicts[arn]
	return v, ok
}

// Evaluate applies the rules to a collected account. It never fails: what
// it cannot judge goes into the report's errors and makes it incomplete.
// Remediation plans are not its business: pkg/remediation adds them to the
// report afterwards.
func Evaluate(acct *inventory.Account, opts Options) *Report {
	rep := newReport(acct, opts.Now)
	byRole := map[string][]string{}
	for _, f := range acct.Functions {
		byRole[f.RoleARN] = append(byRole[f.RoleARN], f.ARN)
	}
	policyProblems, roleProblems := rep.recordProblems(acct.Problems, byRole)

	// Many roles attach the same managed policies: analyse each once.
	managed := &managedCache{policies: acct.Policies, problems: policyProblems, done: map[string]*managedResult{}, parsed: opts.Parsed}
	suppressed := map[string]bool{}
	for _, s := range opts.SuppressRoles {
		suppressed[s] = true
	}

	// Judging a role is pure and dominated by parsing documents: judge
	// them all in parallel, then assemble the report in order.
	roleARNs := acct.RoleARNs()
	verdicts := judgeAll(roleARNs, acct, managed, roleProblems, opts.Prepared)
	for i, roleARN := range roleARNs {
		if !roleProblems[roleARN] {
			v := verdicts[i]
			// A path to admin counts when the role's own grants do not, or
			// when its boundary caps them but lets the path through: the
			// principal it reaches is not capped.
			if esc := opts.Escalations[roleARN]; esc != nil && len(v.unevaluated) == 0 && (!v.grantsAdmin() || v.bounded) {
				v.addEscalation(roleARN, esc)
			}
			rep.addRole(roleARN, acct.Roles[roleARN], sorted(byRole[roleARN]), v, suppressed)
		}
	}

	rep.Complete = len(rep.Errors) == 0
	rep.sortFindings()
	rep.summarize()
	return rep
}

func newReport(acct *inventory.Account, now func() time.Time) *Report {
	if now == nil {
		now = time.Now
	}
	return &Report{
		Tool:         "lambda-role-audit",
		AccountID:    acct.ID,
		AccountAlias: acct.Alias,
		Source:       acct.Source,
		GeneratedAt:  now().UTC(),
		Regions:      append([]string{}, acct.Regions...),
		Functions:    len(acct.Functions),
		Errors:       []Error{},
		Findings:     []Finding{},
	}
}

// recordProblems turns what the collector could not read into report
// errors. It returns the policy problems by ARN (a role using one of those
// policies is judged unevaluated unless the policy is well known) and the
// roles that could not be read at all.
func (rep *Report) recordProblems(problems []inventory.Problem, byRole map[string][]string) (map[string]inventory.Problem, map[string]bool) {
	policyProblems := map[string]inventory.Problem{}
	roleProblems := map[string]bool{}
	for _, p := range problems {
		switch {
		case p.PolicyARN != "":
			policyProblems[p.PolicyARN] = p
		case p.RoleARN != "":
			roleProblems[p.RoleARN] = true
			rep.Errors = append(rep.Errors, Error{RoleARN: p.RoleARN, Operation: p.Operation, Message: "role not evaluated: " + p.Message, Functions: sorted(byRole[p.RoleARN])})
		default:
			rep.Errors = append(rep.Errors, Error{Region: p.Region, Operation: p.Operation, Message: p.Message})
		}
	}
	return policyProblems, roleProblems
}

// addRole records one role's verdict: an error when it could not be
// judged, a warning when it does not exist, a finding when a rule applies.
func (rep *Report) addRole(roleARN string, role *inventory.Role, functions []string, v verdict, suppressed map[string]bool) {
	if role == nil {
		rep.Errors = append(rep.Errors, Error{RoleARN: roleARN, Message: "role not evaluated: it was not collected", Functions: functions})
		return
	}
	if role.Missing {
		who := fmt.Sprintf("%d functions point at it and run", len(functions))
		if len(functions) == 1 {
			who = "1 function points at it and runs"
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("role %s does not exist; %s without permissions", roleARN, who))
	}
	if len(v.unevaluated) > 0 {
		for _, e := range v.unevaluated {
			e.RoleARN = roleARN
			e.Functions = functions
			e.Message = "role not evaluated: " + e.Message
			rep.Errors = append(rep.Errors, e)
		}
		return
	}
	rep.Roles++
	finding, ok := applyRules(role, functions, v)
	if !ok {
		return
	}
	if reason, yes := suppression(role, suppressed); yes {
		finding.Suppressed = true
		finding.SuppressReason = reason
	}
	rep.Findings = append(rep.Findings, finding)
}

func applyRules(role *inventory.Role, functions []string, v verdict) (Finding, bool) {
	shared := len(functions) >= 2
	var rule string
	var sev Severity
	var evidence []Evidence
	switch {
	case v.grantsAdmin() && shared:
		rule, sev = RuleSharedAdminRole, v.severity()
		evidence = v.evidence()
	case v.grantsAdmin():
		rule, sev = RuleAdminRole, v.severity().Lower()
		evidence = v.evidence()
	case shared:
		rule, sev = RuleSharedRole, Low
		evidence = []Evidence{}
		if v.cancel != nil {
			evidence = append(evidence, *v.cancel)
		}
	default:
		return Finding{}, false
	}
	name := role.Name
	if name == "" {
		name = inventory.RoleNameFromARN(role.ARN)
	}
	return Finding{
		ID:        FindingID(rule, role.ARN),
		Rule:      rule,
		Severity:  sev,
		RoleARN:   role.ARN,
		RoleName:  name,
		Functions: functions,
		Evidence:  evidence,
	}, true
}

func suppression(role *inventory.Role, suppressed map[string]bool) (string, bool) {
	if reason, ok := role.Tags[SuppressTag]; ok {
		if reason == "" {
			reason = "role is tagged " + SuppressTag
		}
		return reason, true
	}
	if suppressed[role.ARN] || suppressed[role.Name] {
		return "listed in SUPPRESS_ROLES", true
	}
	return "", false
}

// verdict is what one role's policies add up to.
type verdict struct {
	grants []Evidence
	cancel *Evidence
	// boundary is set when the role has a permissions boundary; bounded is
	// true when that boundary itself grants nothing admin-like, which caps
	// the role's effective permissions.
	boundary    *Evidence
	bounded     bool
	unevaluated []Error
}

func (v verdict) grantsAdmin() bool { return len(v.grants) > 0 && v.cancel == nil }

func (v verdict) severity() Severity {
	if v.bounded {
		return Medium
	}
	for _, g := range v.grants {
		if g.Class == policy.ClassAdmin && g.Unrestricted {
			return Critical
		}
	}
	return High
}

func (v verdict) evidence() []Evidence {
	out := make([]Evidence, 0, len(v.grants)+1)
	out = append(out, v.grants...)
	if v.boundary != nil {
		out = append(out, *v.boundary)
	}
	return out
}

// addEscalation records a path to admin as the role's grant. The cancel
// evidence goes: a role that reaches admin elsewhere is not cancelled by
// denying itself everything.
func (v *verdict) addEscalation(roleARN string, esc *Escalation) {
	var first StatementRef
	var reason string
	switch {
	case len(esc.Steps) > 0 && len(esc.Steps[0].AllowedBy) > 0:
		first = esc.Steps[0].AllowedBy[0]
		reason = fmt.Sprintf("the role can become admin in %d step(s) through other principals: %s", len(esc.Steps), esc.Admin)
	case esc.Via != nil:
		first = *esc.Via
		reason = "the role is admin-equivalent: " + esc.Admin
	default:
		return
	}
	if esc.Conditional() {
		reason += " (conditional: a step depends on a Condition)"
	}
	v.grants = []Evidence{{Policy: first.Policy, PolicyType: first.PolicyType, VersionID: first.VersionID, StatementIndex: first.StatementIndex,
		Sid: first.Sid, Class: policy.ClassEscalation, Reason: reason, Path: esc.Steps}}
	v.cancel = nil
	if v.bounded {
		v.bounded = false
		b := *v.boundary
		b.Reason = "permissions boundary caps the role's own grants, but lets the escalation path through"
		v.boundary = &b
	}
}

// judgeRole reads every identity policy of a role together, its inline
// policies and the default version of each attached managed policy, so
// that a Deny in one removes what another allows; then its permissions
// boundary on its own.
func judgeRole(role *inventory.Role, managed *managedCache) verdict {
	var v verdict
	if role.Missing {
		return v
	}
	var stmts []policy.Located
	var sources []Evidence
	add := func(doc *policy.Document, ev Evidence, known bool) {
		located := policy.Locate(doc, len(sources), ev.Policy)
		if known {
			for i := range located {
				located[i].Index = -1
			}
		}
		stmts = append(stmts, located...)
		sources = append(sources, ev)
	}
	for _, in := range role.Inline {
		doc, err := managed.parsed.JSON(in.Document)
		if err != nil {
			v.unevaluated = append(v.unevaluated, Error{Message: fmt.Sprintf("inline policy %q: %v", in.Name, err)})
			continue
		}
		add(doc, Evidence{Policy: in.Name, PolicyType: "inline"}, false)
	}
	for _, arn := range role.AttachedPolicyARNs {
		r := managed.result(arn)
		if r.err != nil {
			v.unevaluated = append(v.unevaluated, *r.err)
			continue
		}
		add(r.doc, Evidence{Policy: arn, PolicyType: "managed", VersionID: r.version}, r.wellKnown)
	}
	subject := policy.Subject{ARN: role.ARN, ManagedPolicies: role.AttachedPolicyARNs, VersionsKnown: true}
	subject.Switchable = managed.switchable(role)
	a := policy.Judge(stmts, subject)
	for _, g := range a.Grants {
		e := sources[g.Doc]
		e.StatementIndex, e.Sid, e.Class, e.Reason, e.Unrestricted = g.Index, g.Sid, g.Class, g.Reason, g.Unrestricted
		v.grants = append(v.grants, e)
	}
	if a.Cancel != nil {
		e := sources[a.Cancel.Doc]
		e.StatementIndex, e.Sid, e.Reason = a.Cancel.Index, a.Cancel.Sid, a.Cancel.Reason+": the role grants nothing"
		v.cancel = &e
	}
	if role.BoundaryARN != "" {
		v.judgeBoundary(role.BoundaryARN, managed.result(role.BoundaryARN), subject)
	}
	return v
}

// judgeBoundary decides whether a permissions boundary caps the role: it
// does when, judged on its own with the same matching, it grants nothing
// admin-like to this role.
func (v *verdict) judgeBoundary(arn string, r *managedResult, subject policy.Subject) {
	if r.err != nil {
		v.unevaluated = append(v.unevaluated, *r.err)
		return
	}
	located := policy.Locate(r.doc, 0, arn)
	if r.wellKnown {
		for i := range located {
			located[i].Index = -1
		}
	}
	a := policy.Judge(located, subject)
	ev := Evidence{Policy: arn, PolicyType: "permissions-boundary", VersionID: r.version, StatementIndex: -1}
	if len(a.Grants) == 0 {
		v.bounded = true
		ev.Reason = "permissions boundary grants no admin, near-admin or escalation action, capping what the role can do"
	} else {
		g := a.Grants[0]
		ev.StatementIndex, ev.Sid, ev.Class = g.Index, g.Sid, g.Class
		ev.Reason = "permissions boundary does not cap the role: " + g.Reason
	}
	v.boundary = &ev
}

// judgeAll judges every collected role not already prepared, using all
// processors.
func judgeAll(roleARNs []string, acct *inventory.Account, managed *managedCache, skip map[string]bool, prepared *Prepared) []verdict {
	verdicts := make([]verdict, len(roleARNs))
	todo := make([]int, 0, len(roleARNs))
	for i, arn := range roleARNs {
		r, ok := acct.Roles[arn]
		if !ok || skip[arn] {
			continue
		}
		if v, ok := prepared.verdict(arn, r); ok {
			verdicts[i] = v
			continue
		}
		todo = append(todo, i)
	}
	// Fill the managed-policy cache first so that workers only read it.
	for _, i := range todo {
		r := acct.Roles[roleARNs[i]]
		for _, p := range r.AttachedPolicyARNs {
			managed.want(p)
		}
		if r.BoundaryARN != "" {
			managed.want(r.BoundaryARN)
		}
	}
	parallel(len(managed.order), func(i int) { managed.fill(managed.order[i]) })
	parallel(len(todo), func(k int) {
		i := todo[k]
		verdicts[i] = judgeRole(acct.Roles[roleARNs[i]], managed)
	})
	return verdicts
}

// parallel runs f(0..n-1) on every processor.
func parallel(n int, f func(int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

type managedResult struct {
	doc     *policy.Document
	version string
	// others are the non-default versions, parsed; nil when not known.
	others []*policy.Document
	// wellKnown: the statements stand for an AWS-managed policy whose
	// document was not at hand; their positions are unknown.
	wellKnown bool
	err       *Error
}

// managedCache parses each managed policy once per evaluation. It is
// filled (want, then fill in parallel) before roles are judged, and only
// read while they are.
type managedCache struct {
	parsed   *policy.Parsed
	policies map[string]*inventory.ManagedPolicy
	problems map[string]inventory.Problem
	done     map[string]*managedResult
	order    []string
}

func (c *managedCache) want(arn string) {
	if _, ok := c.done[arn]; !ok {
		c.done[arn] = &managedResult{}
		c.order = append(c.order, arn)
	}
}

func (c *managedCache) fill(arn string) {
	*c.done[arn] = managedDocument(arn, c.policies, c.problems, c.parsed)
}

func (c *managedCache) result(arn string) *managedResult { return c.done[arn] }

// switchable lists the customer-managed policies attached to the role that
// it could raise itself with by making another version the default: those
// with a non-default version that, on its own, grants admin, near-admin or
// a self-escalation, and those whose versions are not known.
func (c *managedCache) switchable(role *inventory.Role) []string {
	var out []string
	for _, arn := range role.AttachedPolicyARNs {
		if policy.IsAWSManaged(arn) {
			continue
		}
		r := c.result(arn)
		if r == nil || r.err != nil {
			continue
		}
		if r.others == nil {
			out = append(out, arn)
			continue
		}
		for _, doc := range r.others {
			if len(policy.Judge(policy.Locate(doc, 0, arn), policy.Subject{ARN: role.ARN, ManagedPolicies: role.AttachedPolicyARNs}).Grants) > 0 {
				out = append(out, arn)
				break
			}
		}
	}
	return out
}

// managedDocument parses a managed policy's default version, falling back
// to the well-known table for AWS-managed policies whose document is not at
// hand. A policy known neither way is an error: the role is unevaluated.
func managedDocument(arn string, policies map[string]*inventory.ManagedPolicy, problems map[string]inventory.Problem, parsed *policy.Parsed) managedResult {
	if mp, ok := policies[arn]; ok && len(mp.Document) > 0 {
		doc, err := parsed.JSON(mp.Document)
		if err != nil {
			return managedResult{err: &Error{PolicyARN: arn, Message: fmt.Sprintf("managed policy %s version %s: %v", arn, mp.DefaultVersionID, err)}}
		}
		r := managedResult{doc: doc, version: mp.DefaultVersionID}
		if mp.OtherVersions != nil {
			r.others = []*policy.Document{}
			for _, v := range mp.OtherVersions {
				// A version that does not parse cannot be made the default
				// by IAM either: IAM stored it, so it parses; skip it.
				if other, err := parsed.JSON(v.Document); err == nil {
					r.others = append(r.others, other)
				}
			}
		}
		return r
	}
	if wk, ok := policy.LookupWellKnown(arn); ok {
		return managedResult{doc: &policy.Document{Statement: wk.Statements}, wellKnown: true}
	}
	msg := fmt.Sprintf("managed policy %s: document not available and not a well-known AWS-managed policy", arn)
	op := ""
	if p, ok := problems[arn]; ok {
		msg = fmt.Sprintf("managed policy %s: %s", arn, p.Message)
		op = p.Operation
	}
	return managedResult{err: &Error{PolicyARN: arn, Operation: op, Message: msg}}
}

func sorted(in []string) []string {
	out := append([]string{}, in...)
	sort.Strings(out)
	return out
}
