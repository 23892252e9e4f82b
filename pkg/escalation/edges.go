package escalation

import (
	"fmt"
	"strings"

	"lambda-role-audit/pkg/audit"
)

// runAs is a way to run code as a role passed to a service: any one of
// the action sets, with iam:PassRole on the role, to a role the service
// can assume.
type runAs struct {
	service string
	what    string
	sets    [][]string
	// profile: the role must be in an instance profile, or the principal
	// able to put it in one.
	profile bool
}

var runAsServices = []runAs{
	{"lambda.amazonaws.com", "a new Lambda function", [][]string{
		{"lambda:CreateFunction", "lambda:InvokeFunction"},
		{"lambda:CreateFunction", "lambda:CreateEventSourceMapping"},
		{"lambda:CreateFunction", "lambda:AddPermission"}}, false},
	{"ec2.amazonaws.com", "a new EC2 instance", [][]string{{"ec2:RunInstances"}, {"ec2:RequestSpotInstances"}}, true},
	{"cloudformation.amazonaws.com", "a new CloudFormation stack", [][]string{
		{"cloudformation:CreateStack"},
		{"cloudformation:CreateStackSet", "cloudformation:CreateStackInstances"},
		{"cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"}}, false},
	{"glue.amazonaws.com", "a new Glue endpoint or job", [][]string{
		{"glue:CreateDevEndpoint"},
		{"glue:CreateJob", "glue:StartJobRun"}, {"glue:CreateJob", "glue:CreateTrigger"},
		{"glue:UpdateJob", "glue:StartJobRun"}, {"glue:UpdateJob", "glue:CreateTrigger"}}, false},
	{"datapipeline.amazonaws.com", "a new Data Pipeline", [][]string{{"datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"}}, false},
	{"codebuild.amazonaws.com", "a new CodeBuild project", [][]string{
		{"codebuild:CreateProject", "codebuild:StartBuild"}, {"codebuild:CreateProject", "codebuild:StartBuildBatch"}}, false},
	{"sagemaker.amazonaws.com", "a new SageMaker notebook or job", [][]string{
		{"sagemaker:CreateNotebookInstance"}, {"sagemaker:CreateTrainingJob"}, {"sagemaker:CreateProcessingJob"}}, false},
	{"ecs-tasks.amazonaws.com", "a new ECS task", [][]string{
		{"ecs:RegisterTaskDefinition", "ecs:RunTask"}, {"ecs:RegisterTaskDefinition", "ecs:StartTask"},
		{"ecs:RegisterTaskDefinition", "ecs:CreateService"}}, false},
	{"tasks.apprunner.amazonaws.com", "a new App Runner service", [][]string{{"apprunner:CreateService"}}, false},
}

// existing is a way to run code as a role through compute that already
// runs as it; the export does not list that compute, so every role the
// service can assume is a target, and the step says so.
type existing struct {
	action  string
	service string // "" for roles in an instance profile
	what    string
}

var existingCompute = []existing{
	{"glue:UpdateDevEndpoint", "glue.amazonaws.com", "a Glue development endpoint"},
	{"sagemaker:CreatePresignedNotebookInstanceUrl", "sagemaker.amazonaws.com", "a SageMaker notebook instance"},
	{"cloudformation:UpdateStack", "cloudformation.amazonaws.com", "a CloudFormation stack"},
	{"cloudformation:UpdateStackSet", "cloudformation.amazonaws.com", "a CloudFormation stack set"},
	{"ssm:SendCommand", "", "an EC2 instance"},
	{"ssm:StartSession", "", "an EC2 instance"},
	{"ec2-instance-connect:SendSSHPublicKey", "", "an EC2 instance"},
}

// step finds the edge from n to the nearest admin principal indexed in t.
func (s *search) step(n *node, t *targets) *edge {
	best := s.assume(n, t)
	if !n.moves {
		return best
	}
	for _, find := range []func(*node, *targets) *edge{s.updateTrust, s.takeUser, s.joinGroup, s.passRole, s.updateCode, s.existingCompute} {
		best = nearest(best, find(n, t))
	}
	return best
}

// Targets come nearest first (newTargets): each search below returns the
// first edge it finds. nearest picks among the searches.
func nearest(best, e *edge) *edge {
	if e != nil && (best == nil || e.to.dist < best.to.dist || (e.to.dist == best.to.dist && e.to.arn < best.to.arn)) {
		return e
	}
	return best
}

// assume: sts:AssumeRole into a role whose trust allows n: naming n's ARN
// is enough on its own; trusting the account or anyone needs n's own
// grant.
func (s *search) assume(n *node, t *targets) *edge {
	var best *edge
	for _, r := range t.byTrustedARN[n.arn] {
		if r == n || n.perms.Denied("sts:AssumeRole", r.arn) {
			continue
		}
		ts := trustFor(r, func(a string) bool { return a == n.arn })
		best = nearest(best, &edge{to: r, actions: []string{"sts:AssumeRole"}, allowedBy: []audit.StatementRef{ts.ref},
			conditional: ts.conditional, note: "its trust policy names " + n.label()})
		break
	}
	if !n.may("sts:AssumeRole") {
		return best
	}
	for _, group := range [][]*node{t.trustRoot, t.trustStar} {
		for _, r := range group {
			if r == n {
				continue
			}
			st, ok := n.allowed("sts:AssumeRole", r.arn)
			if !ok {
				continue
			}
			ts := trustFor(r, func(a string) bool {
				return a == "*" || a == s.p.account || strings.HasSuffix(a, ":"+s.p.account+":root")
			})
			best = nearest(best, &edge{to: r, actions: []string{"sts:AssumeRole"}, allowedBy: []audit.StatementRef{n.ref(st), ts.ref},
				conditional: st.HasCondition || ts.conditional, note: "its trust policy trusts the account"})
			break
		}
	}
	return best
}

// trustFor returns the first trust statement with an AWS principal that
// matches.
func trustFor(r *node, match func(string) bool) trustStatement {
	for _, ts := range r.trust {
		for _, a := range ts.aws {
			if match(a) {
				return ts
			}
		}
	}
	return trustStatement{}
}

// updateTrust: rewrite a role's trust to let n in, then assume it.
func (s *search) updateTrust(n *node, t *targets) *edge {
	if !n.may("iam:UpdateAssumeRolePolicy") || !n.may("sts:AssumeRole") {
		return nil
	}
	for _, r := range t.roles {
		if r == n {
			continue
		}
		if e := s.all(n, r, []string{"iam:UpdateAssumeRolePolicy", "sts:AssumeRole"}, r.arn, "rewrites its trust policy, then assumes it"); e != nil {
			return e
		}
	}
	return nil
}

// takeUser: create an access key or a console password for a user.
func (s *search) takeUser(n *node, t *targets) *edge {
	var best *edge
	for _, a := range []string{"iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile"} {
		if !n.may(a) {
			continue
		}
		for _, u := range t.users {
			if u == n {
				continue
			}
			if e := s.all(n, u, []string{a}, u.arn, "takes over the user's credentials"); e != nil {
				best = nearest(best, e)
				break
			}
		}
	}
	return best
}

// joinGroup: add a user n controls to a group, and act with its policies.
func (s *search) joinGroup(n *node, t *targets) *edge {
	if !n.may("iam:AddUserToGroup") {
		return nil
	}
	for _, g := range t.groups {
		if e := s.all(n, g, []string{"iam:AddUserToGroup"}, g.arn, "adds a user it controls to the group"); e != nil {
			return e
		}
	}
	return nil
}

// passRole: pass a role a service can assume to new compute of that
// service, and run code as it.
func (s *search) passRole(n *node, t *targets) *edge {
	if !n.may("iam:PassRole") {
		return nil
	}
	var best *edge
	for _, svc := range runAsServices {
		roles := t.byService[svc.service]
		if len(roles) == 0 {
			continue
		}
		actions, refs, conditional := s.someSet(n, svc.sets)
		if actions == nil {
			continue
		}
		for _, r := range roles {
			if r == n {
				continue
			}
			pass, ok := n.allowed("iam:PassRole", r.arn)
			if !ok {
				continue
			}
			stepActions, stepRefs := append([]string{"iam:PassRole"}, actions...), append([]audit.StatementRef{n.ref(pass)}, refs...)
			cond := conditional || pass.HasCondition
			if svc.profile && !r.instanceProfile {
				more, moreRefs, c := s.someSet(n, [][]string{{"iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"}})
				if more == nil {
					continue
				}
				stepActions, stepRefs, cond = append(stepActions, more...), append(stepRefs, moreRefs...), cond || c
			}
			best = nearest(best, &edge{to: r, actions: stepActions, allowedBy: stepRefs, conditional: cond,
				note: fmt.Sprintf("passes the role to %s that runs its code", svc.what)})
			break
		}
	}
	return best
}

// updateCode: change the code of a listed function that runs as an admin
// role.
func (s *search) updateCode(n *node, t *targets) *edge {
	if !n.may("lambda:UpdateFunctionCode") {
		return nil
	}
	for _, f := range t.functions {
		if f.role == n {
			continue
		}
		if st, ok := n.allowed("lambda:UpdateFunctionCode", f.arn); ok {
			return &edge{to: f.role, actions: []string{"lambda:UpdateFunctionCode"}, allowedBy: []audit.StatementRef{n.ref(st)},
				conditional: st.HasCondition, note: "changes the code of " + f.arn + ", which runs as it"}
		}
	}
	return nil
}

// existingCompute: reach code already running as a role (an endpoint, a
// notebook, a stack, an instance), which the export does not list.
func (s *search) existingCompute(n *node, t *targets) *edge {
	var best *edge
	for _, x := range existingCompute {
		if !n.may(x.action) {
			continue
		}
		st, ok := n.allowedSomewhere(x.action)
		if !ok {
			continue
		}
		roles := t.byService[x.service]
		if x.service == "" {
			roles = t.profiles
		}
		for _, r := range roles {
			if r != n {
				best = nearest(best, &edge{to: r, actions: []string{x.action}, allowedBy: []audit.StatementRef{n.ref(st)}, conditional: st.HasCondition,
					note: fmt.Sprintf("if %s runs as %s", x.what, r.label())})
				break
			}
		}
	}
	return best
}

// all is the edge when n may do every action on the resource.
func (s *search) all(n, to *node, actions []string, resource, note string) *edge {
	e := &edge{to: to, actions: actions, note: note}
	for _, a := range actions {
		st, ok := n.allowed(a, resource)
		if !ok {
			return nil
		}
		e.allowedBy = append(e.allowedBy, n.ref(st))
		e.conditional = e.conditional || st.HasCondition
	}
	return e
}

// someSet returns the first action set (in the given order) that n may do
// entirely, each on a resource it names itself.
func (s *search) someSet(n *node, sets [][]string) ([]string, []audit.StatementRef, bool) {
	for _, set := range sets {
		var refs []audit.StatementRef
		conditional := false
		ok := true
		for _, a := range set {
			if !n.may(a) {
				ok = false
				break
			}
			st, allowed := n.allowedSomewhere(a)
			if !allowed {
				ok = false
				break
			}
			refs = append(refs, n.ref(st))
			conditional = conditional || st.HasCondition
		}
		if ok {
			return set, refs, conditional
		}
	}
	return nil, nil, false
}
