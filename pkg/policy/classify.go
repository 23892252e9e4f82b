package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Class is how dangerous an Allow statement is.
type Class string

const (
	// ClassAdmin: Allow with Action "*" (or "*:*"): every action.
	ClassAdmin Class = "admin"
	// ClassNearAdmin: Allow of every action but a list (NotAction, or "*"
	// less what an unconditional Deny removes) on every resource.
	ClassNearAdmin Class = "near-admin"
	// ClassEscalation: Allow, on the principal itself or on a policy it can
	// rewrite, of an action that lets it grant itself more (attach or write
	// role policies, swap policy versions...).
	ClassEscalation Class = "escalation"
)

// Rank orders classes from most to least dangerous (admin first).
func (c Class) Rank() int {
	switch c {
	case ClassAdmin:
		return 0
	case ClassNearAdmin:
		return 1
	case ClassEscalation:
		return 2
	}
	return 3
}

// Escalation actions by what they act on: a role can raise its own
// privileges to admin with any of them on itself, or on a customer-managed
// policy attached to it.
var (
	RoleEscalationActions = []string{
		"iam:AttachRolePolicy",
		"iam:PutRolePolicy",
		"iam:UpdateAssumeRolePolicy",
		"iam:DeleteRolePermissionsBoundary",
		"iam:PutRolePermissionsBoundary",
	}
	PolicyEscalationActions = []string{
		"iam:CreatePolicyVersion",
		"iam:SetDefaultPolicyVersion",
	}
)

// Grant is one statement that grants admin, near-admin or escalation rights.
type Grant struct {
	// Doc is the caller's index of the statement's document (see Located).
	Doc int `json:"-"`
	// Index is the statement's position in the document (0-based); -1 for a
	// grant known from a well-known policy's ARN rather than its document.
	Index int    `json:"statementIndex"`
	Sid   string `json:"sid,omitempty"`
	Class Class  `json:"class"`
	// Unrestricted is true when the statement applies to Resource "*" with
	// no Condition: nothing narrows it.
	Unrestricted bool   `json:"unrestricted"`
	Reason       string `json:"reason"`
}

// Analysis is what a principal's policies grant, statement by statement.
type Analysis struct {
	Grants []Grant
	// Cancel is set when a Deny statement on Action "*", Resource "*" with
	// no Condition makes the principal unable to do anything at all.
	Cancel *Grant
}

// Subject is the principal whose statements are judged: the resources that
// escalation actions must reach to count.
type Subject struct {
	// ARN is the role's own ARN.
	ARN string
	// ManagedPolicies are the ARNs of the managed policies attached to it
	// (AWS-managed ones are ignored: AWS alone can change them).
	ManagedPolicies []string
	// VersionsKnown says Switchable was worked out from the policies'
	// versions: making another version the default raises the subject
	// only for the attached policies listed there, those with a
	// non-default version that grants more. Unknown versions count every
	// attached customer-managed policy.
	VersionsKnown bool
	Switchable    []string
}

// Located is a statement and where it came from, for evidence.
type Located struct {
	Statement
	// Doc is the caller's index of the document; Policy names it in reasons.
	Doc    int
	Policy string
	// Index is the statement's position in its document, -1 when unknown.
	Index int
}

// Locate lists a document's statements for Judge.
func Locate(doc *Document, docIndex int, policyName string) []Located {
	out := make([]Located, len(doc.Statement))
	for i, st := range doc.Statement {
		out[i] = Located{Statement: st, Doc: docIndex, Policy: policyName, Index: i}
	}
	return out
}

// Judge classifies a principal's Allow statements together with its
// Deny statements, as IAM evaluates identity policies: an unconditional
// Deny removes what it matches from every Allow, in any of the principal's
// policies; a Deny under a Condition removes nothing, since it may not
// apply. Resources are matched with IAM's wildcards against the subject's
// own ARN and the policies attached to it; a NotResource statement covers
// every resource but those it lists.
func Judge(stmts []Located, s Subject) Analysis {
	all := make([]judged, len(stmts))
	for i := range stmts {
		all[i] = judged{Located: &stmts[i], action: lowerAll(stmts[i].Action), notAction: lowerAll(stmts[i].NotAction)}
	}
	return judge(all, s)
}

// Judge is the package's Judge over the evaluator's statements, reusing
// their prepared patterns.
func (e *Evaluator) Judge(s Subject) Analysis { return judge(e.all, s) }

func judge(all []judged, s Subject) Analysis {
	j := newJudgement(all, s)
	var a Analysis
	for i := range all {
		st := &all[i]
		if st.Effect == Deny {
			if a.Cancel == nil && isDenyAll(st.Statement) {
				a.Cancel = &Grant{Doc: st.Doc, Index: st.Index, Sid: st.Sid, Reason: "Deny of Action \"*\" on Resource \"*\" without Condition cancels every grant"}
			}
			continue
		}
		if g, ok := j.classify(st); ok {
			g.Doc, g.Index, g.Sid = st.Doc, st.Index, st.Sid
			a.Grants = append(a.Grants, g)
		}
	}
	sort.SliceStable(a.Grants, func(x, y int) bool { return a.Grants[x].Class.Rank() < a.Grants[y].Class.Rank() })
	return a
}

// judged is a statement with its action patterns lower-cased once: they
// are matched against many witnesses, and IAM compares actions without
// regard to case.
type judged struct {
	*Located
	action, notAction []string
}

func lowerAll(patterns []string) []string {
	if patterns == nil {
		return nil
	}
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = strings.ToLower(p)
	}
	return out
}

// Witnesses stand for "any action" and "any resource" that no policy names:
// a statement that allows them reaches beyond any list.
const (
	lowUnlistedAction = "lraunlisted:unlistedaction"
	unlistedResource  = "arn:aws:lraunlisted:us-east-1:000000000000:unlisted/unlisted"
)

var (
	lowRoleEscalation   = lowerAll(RoleEscalationActions)
	lowPolicyEscalation = lowerAll(PolicyEscalationActions)
)

type judgement struct {
	subject Subject
	denies  []*judged
	// actions are the witnesses of "every action": the unlisted one, every
	// escalation action, and an instance of every action pattern a Deny
	// names (what a Deny can remove).
	actions []string
	// resources are instances of every resource pattern a Deny names.
	resources []string
	// policyTargets are the policies whose versions the subject can swap
	// to raise itself: its customer-managed policies, and a policy of its
	// account that no statement names (for patterns on every policy).
	policyTargets []string
}

func newJudgement(stmts []judged, s Subject) *judgement {
	j := &judgement{subject: s, actions: []string{lowUnlistedAction}, resources: []string{unlistedResource}}
	j.actions = append(j.actions, lowRoleEscalation...)
	j.actions = append(j.actions, lowPolicyEscalation...)
	for i := range stmts {
		st := &stmts[i]
		if st.Effect != Deny || st.HasCondition {
			continue
		}
		j.denies = append(j.denies, st)
		for _, p := range append(append([]string(nil), st.action...), st.notAction...) {
			j.actions = append(j.actions, instance(p))
		}
		for _, p := range append(append([]string(nil), st.Resource...), st.NotResource...) {
			j.resources = append(j.resources, instance(p))
		}
	}
	partition, account := arnField(s.ARN, 1), arnField(s.ARN, 4)
	if partition == "" {
		partition = "aws"
	}
	for _, p := range s.ManagedPolicies {
		if !IsAWSManaged(p) {
			j.policyTargets = append(j.policyTargets, p)
		}
	}
	j.policyTargets = append(j.policyTargets, fmt.Sprintf("arn:%s:iam::%s:policy/lra-unlisted-policy", partition, account))
	return j
}

// classify says what one Allow statement still grants after the Denies.
func (j *judgement) classify(st *judged) (Grant, bool) {
	if action, ok := first(st.Action, isAllActions); ok {
		if j.everything(st) {
			return Grant{Class: ClassAdmin, Unrestricted: unrestricted(st.Statement),
				Reason: fmt.Sprintf("Allow of Action %q %s", action, scope(st.Statement))}, true
		}
		if ok, d := j.allowsUnlisted(st); ok {
			less := "less what a Deny removes"
			if d != nil {
				less = "less what " + where(d) + " denies"
			}
			return Grant{Class: ClassNearAdmin, Unrestricted: unrestricted(st.Statement),
				Reason: fmt.Sprintf("Allow of Action %q %s, %s: every action but those", action, scope(st.Statement), less)}, true
		}
	} else if ok, _ := j.allowsUnlisted(st); ok && st.NotAction != nil {
		return Grant{Class: ClassNearAdmin, Unrestricted: unrestricted(st.Statement),
			Reason: fmt.Sprintf("Allow with NotAction %s %s: every action except those listed", quoteList(st.NotAction), scope(st.Statement))}, true
	}
	return j.escalation(st)
}

// everything: the statement allows every witness action on every witness
// resource it covers, and no Deny takes any of them away.
func (j *judgement) everything(st *judged) bool {
	covered := 0
	resources := append(append([]string(nil), j.resources...), instances(st.Resource)...)
	for _, r := range resources {
		if !matchResources(st.Statement, r) {
			continue
		}
		covered++
		for _, a := range j.actions {
			if j.denied(a, r) != nil {
				return false
			}
		}
	}
	return covered > 0
}

// allowsUnlisted: the statement allows an action no policy names on a
// resource no policy names, and no Deny removes it. It also returns a Deny
// that removes part of what the statement allows (for the reason), if any.
func (j *judgement) allowsUnlisted(st *judged) (bool, *judged) {
	if !allows(st, lowUnlistedAction, unlistedResource) || j.denied(lowUnlistedAction, unlistedResource) != nil {
		return false, nil
	}
	for _, r := range j.resources {
		for _, a := range j.actions {
			if d := j.denied(a, r); d != nil && allows(st, a, r) {
				return true, d
			}
		}
	}
	return true, nil
}

// escalation finds an escalation action the statement allows on the
// subject itself or on a policy it can rewrite, that no Deny removes.
func (j *judgement) escalation(st *judged) (Grant, bool) {
	try := func(actions, lowActions, targets []string, what func(string) string) (Grant, bool) {
		for k, action := range actions {
			for _, target := range targets {
				if !allows(st, lowActions[k], target) || j.denied(lowActions[k], target) != nil {
					continue
				}
				pattern, _ := first(st.Action, func(p string) bool { return MatchAction(p, action) })
				if pattern == "" {
					pattern = "NotAction " + quoteList(st.NotAction)
				} else {
					pattern = fmt.Sprintf("Action %q", pattern)
				}
				return Grant{Class: ClassEscalation, Unrestricted: unrestricted(st.Statement),
					Reason: fmt.Sprintf("Allow of %s (matches %s) %s, which covers %s: the role can grant itself admin", pattern, action, scope(st.Statement), what(target))}, true
			}
		}
		return Grant{}, false
	}
	self := j.subject.ARN
	if self == "" {
		self = "arn:aws:iam::000000000000:role/lra-unlisted-role"
	}
	if g, ok := try(RoleEscalationActions, lowRoleEscalation, []string{self}, func(string) string { return "the role itself" }); ok {
		return g, true
	}
	what := func(t string) string {
		if strings.HasSuffix(t, "/lra-unlisted-policy") {
			return "every customer-managed policy of the account"
		}
		return "its attached policy " + t
	}
	if g, ok := try(PolicyEscalationActions[:1], lowPolicyEscalation[:1], j.policyTargets, what); ok {
		return g, true
	}
	switchable := j.policyTargets
	if j.subject.VersionsKnown {
		switchable = j.subject.Switchable
	}
	return try(PolicyEscalationActions[1:], lowPolicyEscalation[1:], switchable, func(t string) string {
		if j.subject.VersionsKnown {
			return "its attached policy " + t + ", which has a non-default version that grants more"
		}
		return what(t)
	})
}

// denied returns the unconditional Deny that removes the action on the
// resource, if any.
func (j *judgement) denied(action, resource string) *judged {
	for _, d := range j.denies {
		if allows(d, action, resource) {
			return d
		}
	}
	return nil
}

// allows reports whether a statement's action and resource elements match
// (whatever its effect); action is lower-cased.
func allows(st *judged, action, resource string) bool {
	return matchActions(st, action) && matchResources(st.Statement, resource)
}

func matchActions(st *judged, action string) bool {
	matched := func(p string) bool { return wildcardMatch(p, action) }
	if st.Action != nil {
		return hasAny(st.action, matched)
	}
	return !hasAny(st.notAction, matched)
}

func matchResources(st Statement, resource string) bool {
	matched := func(p string) bool { return MatchResource(p, resource) }
	switch {
	case st.Resource != nil:
		return hasAny(st.Resource, matched)
	case st.NotResource != nil:
		return !hasAny(st.NotResource, matched)
	}
	// IAM requires one of the two; a document without either (only ever
	// hand-written) is read as covering everything rather than nothing.
	return true
}

// isDenyAll: a Deny that leaves nothing: Action "*" on Resource "*",
// without a Condition.
func isDenyAll(st Statement) bool {
	return st.Effect == Deny && !st.HasCondition && hasAny(st.Action, isAllActions) && hasAny(st.Resource, isAllStars)
}

// unrestricted: nothing narrows the statement: literal Resource "*" and no
// Condition.
func unrestricted(st Statement) bool {
	return !st.HasCondition && hasAny(st.Resource, isAllStars)
}

// instance turns a pattern into one string it matches ("iam:Put*" →
// "iam:Put"), standing for what the pattern names.
func instance(pattern string) string {
	return strings.NewReplacer("*", "", "?", "x").Replace(pattern)
}

func instances(patterns []string) []string {
	out := make([]string, len(patterns))
	for i, p := range patterns {
		out[i] = instance(p)
	}
	return out
}

func where(d *judged) string {
	s := "the Deny in " + d.Policy
	if d.Index >= 0 {
		s += fmt.Sprintf(" statement %d", d.Index)
	}
	return s
}

func scope(st Statement) string {
	var s string
	switch {
	case st.Resource != nil:
		s = "on Resource " + quoteList(st.Resource)
	case st.NotResource != nil:
		s = "on NotResource " + quoteList(st.NotResource) + " (every resource but those)"
	default:
		s = "with no Resource element"
	}
	if st.HasCondition {
		s += " under a Condition"
	}
	return s
}

func quoteList(items []string) string {
	if len(items) == 1 {
		return fmt.Sprintf("%q", items[0])
	}
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = fmt.Sprintf("%q", it)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// isAllActions: a pattern of stars alone ("*", "**") or around the service
// separator ("*:*") matches every action.
func isAllActions(a string) bool {
	rest := strings.Trim(a, "*")
	return a != "" && (rest == "" || rest == ":" && strings.HasPrefix(a, "*") && strings.HasSuffix(a, "*"))
}

func isAllStars(s string) bool { return s != "" && strings.Trim(s, "*") == "" }

func hasAny(items []string, pred func(string) bool) bool {
	_, ok := first(items, pred)
	return ok
}

func first(items []string, pred func(string) bool) (string, bool) {
	for _, it := range items {
		if pred(it) {
			return it, true
		}
	}
	return "", false
}

// arnField returns the i-th colon-separated field of an ARN, or "".
func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

// Evaluator answers "may this principal do that?" for one principal's
// statements, as IAM evaluates identity policies: an Allow matches and no
// unconditional Deny does. Patterns are lower-cased once, for many
// questions.
type Evaluator struct {
	all    []judged
	denies []*judged
}

// NewEvaluator prepares a principal's statements for questions.
func NewEvaluator(stmts []Located) *Evaluator {
	e := &Evaluator{all: make([]judged, len(stmts))}
	for i := range stmts {
		e.all[i] = judged{Located: &stmts[i], action: lowerAll(stmts[i].Action), notAction: lowerAll(stmts[i].NotAction)}
		if stmts[i].Effect == Deny && !stmts[i].HasCondition {
			e.denies = append(e.denies, &e.all[i])
		}
	}
	return e
}

// MayAllow is a cheap first look: some Allow statement names the action at
// all, whatever the resource.
func (e *Evaluator) MayAllow(action string) bool {
	action = strings.ToLower(action)
	for i := range e.all {
		if st := &e.all[i]; st.Effect == Allow && matchActions(st, action) {
			return true
		}
	}
	return false
}

// Allowed returns the statement that allows the action on the resource,
// preferring one without a Condition, or nil.
func (e *Evaluator) Allowed(action, resource string) *Located {
	action = strings.ToLower(action)
	if e.denied(action, resource) {
		return nil
	}
	var conditional *Located
	for i := range e.all {
		st := &e.all[i]
		if st.Effect != Allow || !allows(st, action, resource) {
			continue
		}
		if !st.HasCondition {
			return st.Located
		}
		if conditional == nil {
			conditional = st.Located
		}
	}
	return conditional
}

// AllowedSomewhere returns the statement that allows the action on some
// resource no Deny removes: for actions that create what they act on, whose
// name the caller chooses to fit the pattern.
func (e *Evaluator) AllowedSomewhere(action string) *Located {
	low := strings.ToLower(action)
	var conditional *Located
	for i := range e.all {
		st := &e.all[i]
		if st.Effect != Allow || !matchActions(st, low) {
			continue
		}
		for _, r := range append([]string{unlistedResource}, instances(st.Resource)...) {
			if matchResources(st.Statement, r) && !e.denied(low, r) {
				if !st.HasCondition {
					return st.Located
				}
				if conditional == nil {
					conditional = st.Located
				}
				break
			}
		}
	}
	return conditional
}

// Denied reports whether an unconditional Deny removes the action on the
// resource, whatever else allows it (a resource policy, say).
func (e *Evaluator) Denied(action, resource string) bool {
	return e.denied(strings.ToLower(action), resource)
}

func (e *Evaluator) denied(action, resource string) bool {
	for _, d := range e.denies {
		if allows(d, action, resource) {
			return true
		}
	}
	return false
}
