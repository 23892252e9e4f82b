package escalation

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/policy"
)

// edge is one step from a principal to another it can act as.
type edge struct {
	to          *node
	actions     []string
	allowedBy   []audit.StatementRef
	conditional bool
	note        string
}

// Result is what the search found.
type Result struct {
	// Escalations are, by role ARN, the paths of the functions' roles that
	// hold no admin themselves but reach a principal that does.
	Escalations map[string]*audit.Escalation
	// Warnings say what the search could not see.
	Warnings []string
}

// Graph is the account's principals prepared for the search: policies
// parsed, admin principals found. Building it is most of the work, and
// needs only the IAM read: Prepare builds it while functions are still
// being listed.
type Graph struct {
	dir *inventory.Directory
	s   *search
}

// Prepare builds the graph of a directory; account is the audited
// account's id ("" to take it from the ARNs).
func Prepare(account string, dir *inventory.Directory, policies map[string]*inventory.ManagedPolicy, parsed *policy.Parsed) *Graph {
	p := newPrincipals(account, dir, policies, parsed)
	s := &search{p: p}
	// A path starts at a role Lambda can assume. When none of them can
	// take a step, is admin by a reason the rules do not see, or is named
	// by a trust policy, there is no path to find, and the rest of the
	// account need not be judged: the common case, and the cheap one.
	var starts, rest []*node
	for _, n := range p.all {
		if n.kind == roleKind && n.trusts("lambda.amazonaws.com") {
			starts = append(starts, n)
		} else {
			rest = append(rest, n)
		}
	}
	s.judgeAll(starts)
	s.widen(starts)
	return &Graph{dir: dir, s: s}
}

// widen judges every principal not judged yet when one of the starts may
// begin a path; then it collects the admin principals.
func (s *search) widen(starts []*node) {
	named := s.p.namedInTrust()
	for _, n := range starts {
		if n.moves || (n.dist == 0 && !n.own) || named[n.arn] {
			var rest []*node
			for _, m := range s.p.all {
				if !m.judged {
					rest = append(rest, m)
				}
			}
			s.judgeAll(rest)
			break
		}
	}
	s.admin = nil
	s.findAdmins()
}

// Find searches the whole account for escalation paths from every role a
// function uses, with the graph prepared from the same directory, or one
// built now. Without a directory (only the functions' roles were read), it
// searches among those roles alone and says so.
func Find(acct *inventory.Account, prepared *Graph, parsed *policy.Parsed) Result {
	dir := acct.Directory
	var res Result
	if dir == nil {
		dir = &inventory.Directory{Roles: acct.Roles}
		res.Warnings = append(res.Warnings, "escalation paths were searched among the functions' own roles only: the account's other roles, users and groups were not read (iam:GetAccountAuthorizationDetails)")
	}
	g := prepared
	if g == nil || g.dir != dir {
		g = Prepare(acct.ID, dir, acct.Policies, parsed)
	}
	s := g.s
	s.functions = acct.Functions
	// A function's role that Lambda's trust does not name (changed since
	// the function was created) was not a start: judge it now.
	var late []*node
	for _, arn := range acct.RoleARNs() {
		if n := s.p.byARN[arn]; n != nil && !n.judged {
			late = append(late, n)
		}
	}
	if len(late) > 0 {
		s.judgeAll(late)
		s.widen(late)
	}
	s.run()
	res.Escalations = map[string]*audit.Escalation{}
	for _, arn := range acct.RoleARNs() {
		if n := s.p.byARN[arn]; n != nil && n.dist >= 0 && !n.own {
			res.Escalations[arn] = s.path(n)
		}
	}
	for _, u := range s.p.Unreadable {
		res.Warnings = append(res.Warnings, "escalation paths: "+u+"; principals using it were judged without it")
	}
	return res
}

type search struct {
	p         *principals
	functions []inventory.Function
	// admin is the set found so far, by distance; targets indexes it.
	admin []*node
}

// run finds, round by round from the admin principals (findAdmins), the
// principals one step further: a breadth-first search, so each path found
// is a shortest one, and cycles end it.
func (s *search) run() {
	for round := 1; ; round++ {
		targets := newTargets(s.admin, s.functions, s.p)
		var found []*node
		for _, n := range s.p.all {
			if n.dist >= 0 {
				continue
			}
			if e := s.step(n, targets); e != nil {
				n.next = e
				found = append(found, n)
			}
		}
		if len(found) == 0 {
			return
		}
		for _, n := range found {
			n.dist = round
			s.admin = append(s.admin, n)
		}
	}
}

// findAdmins marks the principals that are admin by themselves: distance 0.
// findAdmins collects the principals judged admin by themselves.
func (s *search) findAdmins() {
	for _, n := range s.p.all {
		if n.dist == 0 {
			s.admin = append(s.admin, n)
		}
	}
}

// judgeAll judges principals: each on its own (reading, never changing,
// the others), so the work is spread over every processor.
func (s *search) judgeAll(nodes []*node) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(nodes); i = int(next.Add(1) - 1) {
				s.judgeNode(nodes[i])
			}
		}()
	}
	wg.Wait()
}

func (s *search) judgeNode(n *node) {
	n.judged = true
	if n.inert {
		return
	}
	if reason, via, own, ok := s.selfAdmin(n); ok {
		n.dist, n.reason, n.via, n.own = 0, reason, via, own
		return
	}
	// Most principals can take no step at all: say so once, here, while
	// functions are still being listed.
	for _, a := range stepActions {
		if n.may(a) {
			n.moves = true
			return
		}
	}
}

// stepActions are the actions that start an edge; a principal allowed none
// of them can only be let in by a trust policy that names it.
var stepActions = func() []string {
	out := []string{"sts:AssumeRole", "iam:UpdateAssumeRolePolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile",
		"iam:UpdateLoginProfile", "iam:AddUserToGroup", "iam:PassRole", "lambda:UpdateFunctionCode"}
	for _, x := range existingCompute {
		out = append(out, x.action)
	}
	return out
}()

// path follows next pointers from n to an admin principal. A principal
// admin by a reason the rules do not see (it can rewrite its own or
// someone's policies) has no steps, only that reason and its statement.
func (s *search) path(n *node) *audit.Escalation {
	esc := &audit.Escalation{Admin: n.label() + " " + n.reason, Via: n.via}
	for cur := n; cur.next != nil; cur = cur.next.to {
		e := cur.next
		esc.Steps = append(esc.Steps, audit.PathStep{From: cur.arn, To: e.to.arn, Actions: e.actions, AllowedBy: e.allowedBy,
			Conditional: e.conditional, Note: e.note})
		esc.Admin, esc.Via = e.to.label()+" "+e.to.reason, nil
	}
	return esc
}

// selfAdmin: the principal holds admin, or can raise itself to it, or can
// make some principal of the account admin; within its boundary.
func (s *search) selfAdmin(n *node) (reason string, via *audit.StatementRef, own, ok bool) {
	subject := policy.Subject{ARN: n.arn, ManagedPolicies: n.customer}
	if g, ok := s.judged(n, subject); ok {
		return g, nil, true, true
	}
	ref := func(st *policy.Located) *audit.StatementRef {
		r := n.ref(st)
		return &r
	}
	self := map[kind][]string{
		userKind:  {"iam:AttachUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPermissionsBoundary", "iam:PutUserPermissionsBoundary"},
		groupKind: {"iam:AttachGroupPolicy", "iam:PutGroupPolicy"},
	}[n.kind]
	for _, a := range self {
		if st, ok := n.allowed(a, n.arn); ok {
			return "can change its own permissions (" + a + " on itself)", ref(st), false, true
		}
	}
	for _, g := range n.groups {
		for _, a := range []string{"iam:AttachGroupPolicy", "iam:PutGroupPolicy"} {
			if st, ok := n.allowed(a, g.arn); ok {
				return fmt.Sprintf("can change the permissions of its group %s (%s)", g.name, a), ref(st), false, true
			}
		}
	}
	if n.kind == roleKind {
		if reason, st, ok := s.removesItsDeny(n); ok {
			return reason, ref(st), false, true
		}
	}
	if reason, st, ok := s.grantsOthers(n); ok {
		return reason, ref(st), false, true
	}
	return "", nil, false, false
}

// judged: the principal's own statements grant admin, near-admin or a
// self-escalation (policy.Judge), and its boundary does not cap them.
func (s *search) judged(n *node, subject policy.Subject) (string, bool) {
	a := n.perms.Judge(subject)
	if len(a.Grants) == 0 {
		return "", false
	}
	// A boundary that grants nothing admin-like itself caps the principal.
	if n.boundaryStmts != nil && len(policy.Judge(n.boundaryStmts, subject).Grants) == 0 {
		return "", false
	}
	g := a.Grants[0]
	ref := n.sources[g.Doc]
	return fmt.Sprintf("holds %s: %s (%s policy %s)", g.Class, g.Reason, ref.PolicyType, ref.Policy), true
}

// removesItsDeny: a role whose admin is held back only by a Deny in one of
// its policies, which it can detach or delete.
func (s *search) removesItsDeny(n *node) (string, *policy.Located, bool) {
	for doc, src := range n.sources {
		hasDeny := false
		var rest []policy.Located
		for _, st := range n.stmts {
			if st.Doc == doc {
				hasDeny = hasDeny || (st.Effect == policy.Deny && !st.HasCondition)
				continue
			}
			rest = append(rest, st)
		}
		if !hasDeny {
			continue
		}
		action, resource := "iam:DeleteRolePolicy", n.arn
		if src.PolicyType == "managed" {
			action = "iam:DetachRolePolicy"
		}
		st, ok := n.allowed(action, resource)
		if !ok {
			continue
		}
		if a := policy.Judge(rest, policy.Subject{ARN: n.arn, ManagedPolicies: n.customer}); len(a.Grants) > 0 {
			return fmt.Sprintf("can remove the Deny that holds it back (%s of %s), and then holds %s", action, src.Policy, a.Grants[0].Class), st, true
		}
	}
	return "", nil, false
}

// grantsOthers: the principal can attach or write policies on some
// principal of the account, or rewrite a customer-managed policy someone
// attaches: it can make that principal admin, whoever it is.
func (s *search) grantsOthers(n *node) (string, *policy.Located, bool) {
	byKind := map[kind][]string{
		roleKind:  {"iam:AttachRolePolicy", "iam:PutRolePolicy"},
		userKind:  {"iam:AttachUserPolicy", "iam:PutUserPolicy"},
		groupKind: {"iam:AttachGroupPolicy", "iam:PutGroupPolicy"},
	}
	for _, k := range []kind{roleKind, userKind, groupKind} {
		for _, a := range byKind[k] {
			// Cheap refusals first (no grant anywhere, a Deny, a boundary):
			// only then look for a principal the grant reaches, stopping
			// at the first.
			if !n.perms.MayAllow(a) {
				continue
			}
			if _, ok := n.allowedSomewhere(a); !ok {
				continue
			}
			for _, t := range s.p.byKind[k] {
				if t == n {
					continue
				}
				if st, ok := n.allowed(a, t.arn); ok {
					return fmt.Sprintf("can make %s admin (%s)", t.label(), a), st, true
				}
			}
		}
	}
	if n.perms.MayAllow("iam:CreatePolicyVersion") {
		if _, ok := n.allowedSomewhere("iam:CreatePolicyVersion"); ok {
			for _, pol := range s.p.customerPolicies {
				if st, ok := n.allowed("iam:CreatePolicyVersion", pol.arn); ok {
					return fmt.Sprintf("can rewrite %s, which %s attaches (iam:CreatePolicyVersion)", pol.arn, pol.by.label()), st, true
				}
			}
		}
	}
	return "", nil, false
}

// targets indexes the admin principals found so far by how they can be
// reached.
type targets struct {
	byTrustedARN map[string][]*node // roles whose trust names this ARN
	trustRoot    []*node            // roles trusting the account (with an identity grant)
	trustStar    []*node
	byService    map[string][]*node // roles a service can assume
	profiles     []*node            // roles in an instance profile
	users        []*node
	groups       []*node
	functions    []fnTarget // functions running as an admin role
	roles        []*node
}

type fnTarget struct {
	arn  string
	role *node
}

func newTargets(admin []*node, functions []inventory.Function, p *principals) *targets {
	t := &targets{byTrustedARN: map[string][]*node{}, byService: map[string][]*node{}}
	// Nearest first, then by ARN: each edge search can stop at its first
	// target, and the path found is the same on every run.
	admin = append([]*node(nil), admin...)
	sort.Slice(admin, func(i, j int) bool {
		if admin[i].dist != admin[j].dist {
			return admin[i].dist < admin[j].dist
		}
		return admin[i].arn < admin[j].arn
	})
	for _, n := range admin {
		switch n.kind {
		case userKind:
			t.users = append(t.users, n)
		case groupKind:
			t.groups = append(t.groups, n)
		case roleKind:
			t.roles = append(t.roles, n)
			if n.instanceProfile {
				t.profiles = append(t.profiles, n)
			}
			for _, ts := range n.trust {
				for _, a := range ts.aws {
					if a == "*" {
						continue
					}
					if a == p.account || a == fmt.Sprintf("arn:%s:iam::%s:root", arnField(n.arn, 1), p.account) {
						t.trustRoot = append(t.trustRoot, n)
						continue
					}
					t.byTrustedARN[a] = append(t.byTrustedARN[a], n)
				}
				if ts.star {
					t.trustStar = append(t.trustStar, n)
				}
				for _, svc := range ts.services {
					t.byService[svc] = append(t.byService[svc], n)
				}
			}
		}
	}
	for _, f := range functions {
		if r := p.byARN[f.RoleARN]; r != nil && r.dist >= 0 {
			t.functions = append(t.functions, fnTarget{arn: f.ARN, role: r})
		}
	}
	sort.SliceStable(t.functions, func(i, j int) bool {
		a, b := t.functions[i], t.functions[j]
		if a.role.dist != b.role.dist {
			return a.role.dist < b.role.dist
		}
		return a.arn < b.arn
	})
	return t
}
