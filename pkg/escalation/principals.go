// Package escalation finds the roles that are admin-equivalent: roles that
// hold no admin themselves but can reach a principal that does, through
// the edges IAM allows (assuming a role, passing a role to a service that
// runs code, taking over a user, joining a group, rewriting someone's
// policies, changing the code of a function that runs as a stronger role).
// It is pure: it reads the account the inventory collected and returns,
// for each function's role, the shortest path, step by step, with the
// statements that allow each step.
package escalation

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
)

type kind int

const (
	roleKind kind = iota
	userKind
	groupKind
)

// node is one principal of the account, prepared for questions.
type node struct {
	kind      kind
	arn, name string
	// perms are its identity statements (a user's include its groups');
	// boundary, when set, must allow too.
	perms         *policy.Evaluator
	stmts         []policy.Located
	boundary      *policy.Evaluator
	boundaryStmts []policy.Located
	sources       []audit.StatementRef // by Located.Doc: which policy
	// customer are the customer-managed policies it attaches (a user's
	// groups' included): rewriting one rewrites its permissions.
	customer        []string
	trust           []trustStatement
	instanceProfile bool
	groups          []*node // a user's groups

	// Set by the search: dist 0 is admin by itself; next leads towards it.
	dist   int
	next   *edge
	reason string
	// own is set when its own statements grant admin as the rules judge
	// them (the audit sees that without a path); via is the statement
	// behind any other reason it is admin.
	own bool
	via *audit.StatementRef

	mayCache map[string]bool
	// moves: the principal is allowed some action that starts an edge.
	moves bool
	// inert: no statement can make it admin or start an edge (it names
	// only other services' actions): it is only ever a start.
	inert bool
	// judged: admin-ness and moves are known (Prepare judges the rest of
	// the account only when a start may begin a path).
	judged bool
}

// relevantServices are the services whose actions can make a principal
// admin or start an edge.
var relevantServices = map[string]bool{"iam": true, "sts": true, "lambda": true, "ec2": true, "cloudformation": true, "glue": true,
	"datapipeline": true, "codebuild": true, "sagemaker": true, "ecs": true, "apprunner": true, "ssm": true, "ec2-instance-connect": true}

// anyRelevant: some statement is a Deny, a NotAction, or names an action of
// a relevant service (or a service pattern with a wildcard).
func anyRelevant(stmts []policy.Located) bool {
	for _, st := range stmts {
		if st.Effect == policy.Deny || st.NotAction != nil {
			return true
		}
		for _, a := range st.Action {
			service, _, found := strings.Cut(strings.ToLower(a), ":")
			if !found || strings.ContainsAny(service, "*?") || relevantServices[service] {
				return true
			}
		}
	}
	return false
}

type attachedPolicy struct {
	arn string
	by  *node
}

// trustStatement is one Allow of sts:AssumeRole in a role's trust policy.
type trustStatement struct {
	aws, services []string
	star          bool
	conditional   bool
	ref           audit.StatementRef
}

// principals builds a node for every principal of the directory.
type principals struct {
	account string
	byARN   map[string]*node
	all     []*node
	byKind  map[kind][]*node
	// customerPolicies are the customer-managed policies someone attaches,
	// each with one principal that does.
	customerPolicies []attachedPolicy
	policies         map[string]*inventory.ManagedPolicy
	docs             map[string]managedDoc // parsed once, by ARN
	trusts           map[string][]trustStatement
	parsed           *policy.Parsed
	// Unreadable names the policies that could be neither parsed nor
	// recognised: principals are judged without them.
	Unreadable []string
}

func newPrincipals(account string, dir *inventory.Directory, policies map[string]*inventory.ManagedPolicy, parsed *policy.Parsed) *principals {
	p := &principals{account: account, byARN: map[string]*node{}, byKind: map[kind][]*node{}, policies: policies, docs: map[string]managedDoc{}, trusts: map[string][]trustStatement{}, parsed: parsed}
	groupsByName := map[string]*node{}
	for _, arn := range sortedKeys(dir.Groups) {
		g := dir.Groups[arn]
		n := p.add(groupKind, g.ARN, g.Name, nil, g.Inline, g.AttachedPolicyARNs, "")
		groupsByName[g.Name] = n
	}
	for _, arn := range sortedKeys(dir.Users) {
		u := dir.Users[arn]
		var groups []*node
		var inherit []*inventory.Group
		for _, name := range u.Groups {
			if g := groupsByName[name]; g != nil {
				groups = append(groups, g)
				inherit = append(inherit, dir.Groups[g.arn])
			}
		}
		n := p.add(userKind, u.ARN, u.Name, inherit, u.Inline, u.AttachedPolicyARNs, u.BoundaryARN)
		n.groups = groups
	}
	for _, arn := range sortedKeys(dir.Roles) {
		r := dir.Roles[arn]
		if r.Missing {
			continue
		}
		n := p.add(roleKind, r.ARN, r.Name, nil, r.Inline, r.AttachedPolicyARNs, r.BoundaryARN)
		n.instanceProfile = r.InstanceProfile
		n.trust = p.trustStatements(r)
	}
	seen := map[string]bool{}
	for _, n := range p.all {
		for _, c := range n.customer {
			if !seen[c] {
				seen[c] = true
				p.customerPolicies = append(p.customerPolicies, attachedPolicy{arn: c, by: n})
			}
		}
	}
	if p.account == "" {
		for _, n := range p.all {
			if id := arnField(n.arn, 4); id != "" {
				p.account = id
				break
			}
		}
	}
	return p
}

// add builds one node: its own inline and attached policies, and for a
// user those of its groups.
func (p *principals) add(k kind, arn, name string, groups []*inventory.Group, inline []inventory.InlinePolicy, attached []string, boundary string) *node {
	n := &node{kind: k, arn: arn, name: name, dist: -1}
	addDoc := func(doc *policy.Document, ref audit.StatementRef) {
		located := policy.Locate(doc, len(n.sources), ref.Policy)
		if ref.StatementIndex < 0 {
			for i := range located {
				located[i].Index = -1
			}
		}
		n.stmts = append(n.stmts, located...)
		n.sources = append(n.sources, ref)
	}
	addPolicies := func(owner string, inline []inventory.InlinePolicy, attached []string) {
		for _, in := range inline {
			doc, err := p.parsed.JSON(in.Document)
			if err != nil {
				p.Unreadable = append(p.Unreadable, fmt.Sprintf("inline policy %q of %s: %v", in.Name, owner, err))
				continue
			}
			addDoc(doc, audit.StatementRef{Policy: in.Name, PolicyType: "inline"})
		}
		for _, a := range attached {
			doc, version, known := p.managed(a)
			if doc == nil {
				continue
			}
			if !policy.IsAWSManaged(a) {
				n.customer = append(n.customer, a)
			}
			ref := audit.StatementRef{Policy: a, PolicyType: "managed", VersionID: version}
			if known {
				ref.StatementIndex = -1
			}
			addDoc(doc, ref)
		}
	}
	addPolicies(arn, inline, attached)
	for _, g := range groups {
		addPolicies(g.ARN, g.Inline, g.AttachedPolicyARNs)
	}
	n.inert = !anyRelevant(n.stmts)
	if n.inert {
		n.perms = policy.NewEvaluator(nil)
	} else {
		n.perms = policy.NewEvaluator(n.stmts)
	}
	if boundary != "" {
		if doc, _, _ := p.managed(boundary); doc != nil {
			n.boundaryStmts = policy.Locate(doc, 0, boundary)
			n.boundary = policy.NewEvaluator(n.boundaryStmts)
		}
	}
	p.byARN[arn] = n
	p.all = append(p.all, n)
	p.byKind[k] = append(p.byKind[k], n)
	return n
}

type managedDoc struct {
	doc     *policy.Document
	version string
	known   bool
}

// managed returns a managed policy's default version, parsed once; known is
// true for a well-known AWS-managed policy read without its document. A
// policy neither readable nor well known is left out, and named in
// Unreadable.
func (p *principals) managed(arn string) (*policy.Document, string, bool) {
	if m, ok := p.docs[arn]; ok {
		return m.doc, m.version, m.known
	}
	var m managedDoc
	if mp := p.policies[arn]; mp != nil && len(mp.Document) > 0 {
		doc, err := p.parsed.JSON(mp.Document)
		if err != nil {
			p.Unreadable = append(p.Unreadable, fmt.Sprintf("managed policy %s: %v", arn, err))
		} else {
			m = managedDoc{doc: doc, version: mp.DefaultVersionID}
		}
	} else if wk, ok := policy.LookupWellKnown(arn); ok {
		m = managedDoc{doc: &policy.Document{Statement: wk.Statements}, known: true}
	} else {
		p.Unreadable = append(p.Unreadable, fmt.Sprintf("managed policy %s: document not available", arn))
	}
	p.docs[arn] = m
	return m.doc, m.version, m.known
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// trustStatements reads who may assume a role. Most roles share a handful
// of trust documents (Lambda's, EC2's): each is read once.
func (p *principals) trustStatements(r *inventory.Role) []trustStatement {
	if len(r.TrustPolicy) == 0 {
		return nil
	}
	shared, ok := p.trusts[string(r.TrustPolicy)]
	if !ok {
		doc, err := p.parsed.JSON(r.TrustPolicy)
		if err != nil {
			p.Unreadable = append(p.Unreadable, fmt.Sprintf("trust policy of %s: %v", r.ARN, err))
			return nil
		}
		for i, st := range doc.Statement {
			if st.Effect != policy.Allow || !matchesAny(st.Action, "sts:AssumeRole") {
				continue
			}
			ts := trustStatement{conditional: st.HasCondition,
				ref: audit.StatementRef{PolicyType: "trust", StatementIndex: i, Sid: st.Sid}}
			ts.aws, ts.services, ts.star = parsePrincipal(st.Principal)
			shared = append(shared, ts)
		}
		p.trusts[string(r.TrustPolicy)] = shared
	}
	out := make([]trustStatement, len(shared))
	for i, ts := range shared {
		ts.ref.Policy = r.ARN
		out[i] = ts
	}
	return out
}

// parsePrincipal reads a Principal element: "*", or an object of AWS and
// Service principals, each a string or a list.
func parsePrincipal(raw json.RawMessage) (awsPrincipals, services []string, star bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return nil, nil, s == "*"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, nil, false
	}
	list := func(v json.RawMessage) []string {
		var one string
		if json.Unmarshal(v, &one) == nil {
			return []string{one}
		}
		var many []string
		_ = json.Unmarshal(v, &many)
		return many
	}
	awsPrincipals = list(obj["AWS"])
	services = list(obj["Service"])
	for _, a := range awsPrincipals {
		if a == "*" {
			star = true
		}
	}
	return awsPrincipals, services, star
}

func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		if policy.MatchAction(p, action) {
			return true
		}
	}
	return false
}

// trusts reports whether the role's trust lets the service in.
func (n *node) trusts(service string) bool {
	for _, ts := range n.trust {
		for _, s := range ts.services {
			if s == service {
				return true
			}
		}
	}
	return false
}

// namedInTrust lists the principal ARNs that some role's trust policy
// names: those can assume it with no permission of their own.
func (p *principals) namedInTrust() map[string]bool {
	out := map[string]bool{}
	for _, n := range p.byKind[roleKind] {
		for _, ts := range n.trust {
			for _, a := range ts.aws {
				out[a] = true
			}
		}
	}
	return out
}

// allowed asks the principal, and its boundary, whether it may do the
// action on the resource; it returns the allowing statement.
func (n *node) allowed(action, resource string) (*policy.Located, bool) {
	st := n.perms.Allowed(action, resource)
	if st == nil || (n.boundary != nil && n.boundary.Allowed(action, resource) == nil) {
		return nil, false
	}
	return st, true
}

// may is the cheap first question of every edge, asked once per action:
// does anything allow the action on some resource, with no Deny or
// boundary in the way? Only then are targets looked at one by one.
func (n *node) may(action string) bool {
	if v, ok := n.mayCache[action]; ok {
		return v
	}
	ok := n.perms.MayAllow(action)
	if ok {
		_, ok = n.allowedSomewhere(action)
	}
	if n.mayCache == nil {
		n.mayCache = map[string]bool{}
	}
	n.mayCache[action] = ok
	return ok
}

// allowedSomewhere is allowed for an action whose resource the principal
// creates and names itself.
func (n *node) allowedSomewhere(action string) (*policy.Located, bool) {
	st := n.perms.AllowedSomewhere(action)
	if st == nil || (n.boundary != nil && n.boundary.AllowedSomewhere(action) == nil) {
		return nil, false
	}
	return st, true
}

// ref names a statement of this principal for the evidence.
func (n *node) ref(st *policy.Located) audit.StatementRef {
	r := n.sources[st.Doc]
	r.StatementIndex, r.Sid = st.Index, st.Sid
	return r
}

func (n *node) label() string {
	switch n.kind {
	case userKind:
		return "user " + n.name
	case groupKind:
		return "group " + n.name
	}
	return "role " + n.name
}

func arnField(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}
