package escalation

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"lambda-role-audit/pkg/inventory"
)

const acct = "123456789012"

func roleARN(n string) string   { return "arn:aws:iam::" + acct + ":role/" + n }
func userARN(n string) string   { return "arn:aws:iam::" + acct + ":user/" + n }
func groupARN(n string) string  { return "arn:aws:iam::" + acct + ":group/" + n }
func policyARN(n string) string { return "arn:aws:iam::" + acct + ":policy/" + n }
func fnARN(n string) string     { return "arn:aws:lambda:us-east-1:" + acct + ":function:" + n }

const adminManaged = "arn:aws:iam::aws:policy/AdministratorAccess"

// allow is an identity statement.
func allow(resource string, actions ...string) string {
	a, _ := json.Marshal(actions)
	return fmt.Sprintf(`{"Effect":"Allow","Action":%s,"Resource":%q}`, a, resource)
}

func deny(resource string, actions ...string) string {
	return strings.Replace(allow(resource, actions...), "Allow", "Deny", 1)
}

func doc(stmts ...string) json.RawMessage {
	return json.RawMessage(`{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`)
}

func inline(stmts ...string) []inventory.InlinePolicy {
	return []inventory.InlinePolicy{{Name: "p", Document: doc(stmts...)}}
}

// trust lets principals (an ARN, "root", "*" or a service) assume a role.
func trust(principals ...string) json.RawMessage {
	var stmts []string
	for _, p := range principals {
		switch {
		case p == "root":
			stmts = append(stmts, `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+acct+`:root"},"Action":"sts:AssumeRole"}`)
		case p == "*":
			stmts = append(stmts, `{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}`)
		case strings.HasPrefix(p, "arn:"):
			stmts = append(stmts, `{"Effect":"Allow","Principal":{"AWS":"`+p+`"},"Action":"sts:AssumeRole"}`)
		default:
			stmts = append(stmts, `{"Effect":"Allow","Principal":{"Service":"`+p+`"},"Action":"sts:AssumeRole"}`)
		}
	}
	return doc(stmts...)
}

// world is an account: an execution role "exec" used by function f1, and
// whatever else a case adds.
type world struct {
	exec     []string // exec's inline statements
	roles    []*inventory.Role
	users    []*inventory.User
	groups   []*inventory.Group
	policies []*inventory.ManagedPolicy
	fns      []inventory.Function
	boundary string
}

func (w world) account() *inventory.Account {
	exec := &inventory.Role{ARN: roleARN("exec"), Name: "exec", Inline: inline(w.exec...), TrustPolicy: trust("lambda.amazonaws.com"), BoundaryARN: w.boundary}
	if len(w.exec) == 0 {
		exec.Inline = nil
	}
	a := &inventory.Account{ID: acct, Regions: []string{"us-east-1"},
		Functions: append([]inventory.Function{{ARN: fnARN("f1"), Name: "f1", Region: "us-east-1", RoleARN: exec.ARN}}, w.fns...),
		Roles:     map[string]*inventory.Role{exec.ARN: exec}, Policies: map[string]*inventory.ManagedPolicy{},
		Directory: &inventory.Directory{Roles: map[string]*inventory.Role{exec.ARN: exec}, Users: map[string]*inventory.User{}, Groups: map[string]*inventory.Group{}}}
	for _, r := range w.roles {
		a.Directory.Roles[r.ARN] = r
	}
	for _, u := range w.users {
		a.Directory.Users[u.ARN] = u
	}
	for _, g := range w.groups {
		a.Directory.Groups[g.ARN] = g
	}
	for _, p := range w.policies {
		a.Policies[p.ARN] = p
	}
	return a
}

// adminRole holds AdministratorAccess and trusts the given principals.
func adminRole(name string, trusted ...string) *inventory.Role {
	return &inventory.Role{ARN: roleARN(name), Name: name, AttachedPolicyARNs: []string{adminManaged}, TrustPolicy: trust(trusted...)}
}

func adminUser(name string) *inventory.User {
	return &inventory.User{ARN: userARN(name), Name: name, AttachedPolicyARNs: []string{adminManaged}}
}

func plainUser(name string) *inventory.User {
	return &inventory.User{ARN: userARN(name), Name: name, Inline: inline(allow("*", "s3:GetObject"))}
}

func TestEdges(t *testing.T) {
	lambdaCombo := []string{"iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"}
	tests := []struct {
		name  string
		w     world
		steps int    // -1: no path; 0: admin-equivalent by itself
		via   string // an action the path or reason must name
	}{
		// sts:AssumeRole
		{"trust names the role", world{roles: []*inventory.Role{adminRole("admin", roleARN("exec"))}}, 1, "sts:AssumeRole"},
		{"trust names another role", world{roles: []*inventory.Role{adminRole("admin", roleARN("other"))}}, -1, ""},
		{"explicit deny beats a naming trust", world{exec: []string{deny("*", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", roleARN("exec"))}}, -1, ""},
		{"trust root with a grant", world{exec: []string{allow(roleARN("admin"), "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "root")}}, 1, "sts:AssumeRole"},
		{"trust root without a grant", world{roles: []*inventory.Role{adminRole("admin", "root")}}, -1, ""},
		{"trust anyone with a grant", world{exec: []string{allow("*", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "*")}}, 1, "sts:AssumeRole"},
		{"assume a role that is not admin", world{exec: []string{allow("*", "sts:AssumeRole")}, roles: []*inventory.Role{{ARN: roleARN("weak"), Name: "weak", TrustPolicy: trust("root"), Inline: inline(allow("*", "s3:*"))}}}, -1, ""},
		// iam:UpdateAssumeRolePolicy
		{"rewrite trust and assume", world{exec: []string{allow(roleARN("admin"), "iam:UpdateAssumeRolePolicy", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "ec2.amazonaws.com")}}, 1, "iam:UpdateAssumeRolePolicy"},
		{"rewrite trust without assume", world{exec: []string{allow(roleARN("admin"), "iam:UpdateAssumeRolePolicy")}, roles: []*inventory.Role{adminRole("admin", "ec2.amazonaws.com")}}, -1, ""},
		// users
		{"access key of an admin user", world{exec: []string{allow(userARN("*"), "iam:CreateAccessKey")}, users: []*inventory.User{adminUser("boss")}}, 1, "iam:CreateAccessKey"},
		{"login profile of an admin user", world{exec: []string{allow(userARN("boss"), "iam:CreateLoginProfile")}, users: []*inventory.User{adminUser("boss")}}, 1, "iam:CreateLoginProfile"},
		{"update login profile", world{exec: []string{allow("*", "iam:UpdateLoginProfile")}, users: []*inventory.User{adminUser("boss")}}, 1, "iam:UpdateLoginProfile"},
		{"access key of a plain user", world{exec: []string{allow("*", "iam:CreateAccessKey")}, users: []*inventory.User{plainUser("bob")}}, -1, ""},
		{"admin through the user's group", world{exec: []string{allow("*", "iam:CreateAccessKey")}, users: []*inventory.User{{ARN: userARN("ops"), Name: "ops", Groups: []string{"admins"}}},
			groups: []*inventory.Group{{ARN: groupARN("admins"), Name: "admins", AttachedPolicyARNs: []string{adminManaged}}}}, 1, "iam:CreateAccessKey"},
		// groups
		{"join an admin group", world{exec: []string{allow(groupARN("admins"), "iam:AddUserToGroup")}, groups: []*inventory.Group{{ARN: groupARN("admins"), Name: "admins", AttachedPolicyARNs: []string{adminManaged}}}}, 1, "iam:AddUserToGroup"},
		{"join a plain group", world{exec: []string{allow("*", "iam:AddUserToGroup")}, groups: []*inventory.Group{{ARN: groupARN("readers"), Name: "readers", Inline: inline(allow("*", "s3:Get*"))}}}, -1, ""},
		// iam:PassRole to a service that runs code
		{"pass to a new function", world{exec: []string{allow("*", lambdaCombo...)}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, 1, "lambda:CreateFunction"},
		{"pass, but the role does not trust lambda", world{exec: []string{allow("*", lambdaCombo...)}, roles: []*inventory.Role{adminRole("admin", "ecs-tasks.amazonaws.com")}}, -1, ""},
		{"pass, but no stronger role exists", world{exec: []string{allow("*", lambdaCombo...)}, roles: []*inventory.Role{{ARN: roleARN("weak"), Name: "weak", TrustPolicy: trust("lambda.amazonaws.com"), Inline: inline(allow("*", "s3:*"))}}}, -1, ""},
		{"pass without a way to run it", world{exec: []string{allow("*", "iam:PassRole", "lambda:CreateFunction")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, -1, ""},
		{"a Deny removes one action of the combination", world{exec: []string{allow("*", lambdaCombo...), deny("*", "lambda:InvokeFunction")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, -1, ""},
		{"combination split across two policies", world{exec: []string{allow("*", "iam:PassRole"), allow("arn:aws:lambda:*:*:function:*", "lambda:CreateFunction", "lambda:AddPermission")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, 1, "lambda:AddPermission"},
		{"PassRole only on another role", world{exec: []string{allow(roleARN("weak"), "iam:PassRole"), allow("*", "lambda:CreateFunction", "lambda:InvokeFunction")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, -1, ""},
		{"EC2 with an instance profile", world{exec: []string{allow("*", "iam:PassRole", "ec2:RunInstances")}, roles: []*inventory.Role{withProfile(adminRole("admin", "ec2.amazonaws.com"))}}, 1, "ec2:RunInstances"},
		{"EC2 without an instance profile", world{exec: []string{allow("*", "iam:PassRole", "ec2:RunInstances")}, roles: []*inventory.Role{adminRole("admin", "ec2.amazonaws.com")}}, -1, ""},
		{"EC2, making the instance profile", world{exec: []string{allow("*", "iam:PassRole", "ec2:RunInstances", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile")}, roles: []*inventory.Role{adminRole("admin", "ec2.amazonaws.com")}}, 1, "iam:AddRoleToInstanceProfile"},
		{"spot instance", world{exec: []string{allow("*", "iam:PassRole", "ec2:RequestSpotInstances")}, roles: []*inventory.Role{withProfile(adminRole("admin", "ec2.amazonaws.com"))}}, 1, "ec2:RequestSpotInstances"},
		// Functions that already run as an admin role.
		{"update a stronger function's code", world{exec: []string{allow(fnARN("deployer"), "lambda:UpdateFunctionCode")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")},
			fns: []inventory.Function{{ARN: fnARN("deployer"), Name: "deployer", Region: "us-east-1", RoleARN: roleARN("admin")}}}, 1, "lambda:UpdateFunctionCode"},
		{"update a weaker function's code", world{exec: []string{allow("*", "lambda:UpdateFunctionCode")}, roles: []*inventory.Role{{ARN: roleARN("weak"), Name: "weak", TrustPolicy: trust("lambda.amazonaws.com")}},
			fns: []inventory.Function{{ARN: fnARN("w"), Name: "w", Region: "us-east-1", RoleARN: roleARN("weak")}}}, -1, ""},
		// Existing compute the export does not list.
		{"send a command to an instance", world{exec: []string{allow("*", "ssm:SendCommand")}, roles: []*inventory.Role{withProfile(adminRole("admin", "ec2.amazonaws.com"))}}, 1, "ssm:SendCommand"},
		{"send a command, no admin instance role", world{exec: []string{allow("*", "ssm:SendCommand")}, roles: []*inventory.Role{adminRole("admin", "ec2.amazonaws.com")}}, -1, ""},
		{"start a session", world{exec: []string{allow("*", "ssm:StartSession")}, roles: []*inventory.Role{withProfile(adminRole("admin", "ec2.amazonaws.com"))}}, 1, "ssm:StartSession"},
		{"push an SSH key", world{exec: []string{allow("*", "ec2-instance-connect:SendSSHPublicKey")}, roles: []*inventory.Role{withProfile(adminRole("admin", "ec2.amazonaws.com"))}}, 1, "ec2-instance-connect:SendSSHPublicKey"},
		{"update a Glue endpoint", world{exec: []string{allow("*", "glue:UpdateDevEndpoint")}, roles: []*inventory.Role{adminRole("admin", "glue.amazonaws.com")}}, 1, "glue:UpdateDevEndpoint"},
		{"open a SageMaker notebook", world{exec: []string{allow("*", "sagemaker:CreatePresignedNotebookInstanceUrl")}, roles: []*inventory.Role{adminRole("admin", "sagemaker.amazonaws.com")}}, 1, "sagemaker:CreatePresignedNotebookInstanceUrl"},
		{"update a stack", world{exec: []string{allow("*", "cloudformation:UpdateStack")}, roles: []*inventory.Role{adminRole("admin", "cloudformation.amazonaws.com")}}, 1, "cloudformation:UpdateStack"},
		{"update a stack set", world{exec: []string{allow("*", "cloudformation:UpdateStackSet")}, roles: []*inventory.Role{adminRole("admin", "cloudformation.amazonaws.com")}}, 1, "cloudformation:UpdateStackSet"},
		{"update a stack, no admin role for CloudFormation", world{exec: []string{allow("*", "cloudformation:UpdateStack")}, roles: []*inventory.Role{adminRole("admin", "lambda.amazonaws.com")}}, -1, ""},
		// Granting admin to another principal.
		{"attach a policy to a user", world{exec: []string{allow(userARN("*"), "iam:AttachUserPolicy")}, users: []*inventory.User{plainUser("bob")}}, 0, "iam:AttachUserPolicy"},
		{"attach to users when there are none", world{exec: []string{allow(userARN("*"), "iam:AttachUserPolicy")}}, -1, ""},
		{"write a group's policy", world{exec: []string{allow("*", "iam:PutGroupPolicy")}, groups: []*inventory.Group{{ARN: groupARN("g"), Name: "g"}}}, 0, "iam:PutGroupPolicy"},
		{"attach to another role", world{exec: []string{allow(roleARN("other-*"), "iam:AttachRolePolicy")}, roles: []*inventory.Role{{ARN: roleARN("other-x"), Name: "other-x", TrustPolicy: trust("ec2.amazonaws.com")}}}, 0, "iam:AttachRolePolicy"},
		{"rewrite a policy someone attaches", world{exec: []string{allow("arn:aws:iam::*:policy/app-*", "iam:CreatePolicyVersion")},
			users:    []*inventory.User{{ARN: userARN("u"), Name: "u", AttachedPolicyARNs: []string{policyARN("app-x")}}},
			policies: []*inventory.ManagedPolicy{{ARN: policyARN("app-x"), Name: "app-x", DefaultVersionID: "v1", Document: doc(allow("*", "s3:GetObject"))}}}, 0, "iam:CreatePolicyVersion"},
		{"AWS-managed policies cannot be rewritten", world{exec: []string{allow("arn:aws:iam::aws:policy/*", "iam:CreatePolicyVersion")},
			users: []*inventory.User{{ARN: userARN("u"), Name: "u", AttachedPolicyARNs: []string{adminManaged}}}}, -1, ""},
		{"a user who can raise itself", world{exec: []string{allow("*", "iam:CreateAccessKey")},
			users: []*inventory.User{{ARN: userARN("dev"), Name: "dev", Inline: inline(allow(userARN("dev"), "iam:AttachUserPolicy"))}}}, 1, "iam:CreateAccessKey"},
		{"detach the Deny that holds it back", world{exec: []string{allow("*", "*")}, roles: nil,
			policies: []*inventory.ManagedPolicy{{ARN: policyARN("guard"), Name: "guard", DefaultVersionID: "v1",
				Document: doc(`{"Effect":"Deny","NotAction":"iam:DetachRolePolicy","Resource":"*"}`)}}}, -2, "iam:DetachRolePolicy"},
		// Chains, cycles, conditions, boundaries.
		{"two steps: pass to a role that assumes admin", world{exec: []string{allow("*", lambdaCombo...)},
			roles: []*inventory.Role{{ARN: roleARN("hop"), Name: "hop", TrustPolicy: trust("lambda.amazonaws.com"), Inline: inline(allow(roleARN("admin"), "sts:AssumeRole"))}, adminRole("admin", "root")}}, 2, "sts:AssumeRole"},
		{"a cycle without admin", world{exec: []string{allow("*", "sts:AssumeRole")},
			roles: []*inventory.Role{{ARN: roleARN("a"), Name: "a", TrustPolicy: trust(roleARN("exec"), roleARN("b")), Inline: inline(allow("*", "sts:AssumeRole"))},
				{ARN: roleARN("b"), Name: "b", TrustPolicy: trust(roleARN("a")), Inline: inline(allow("*", "sts:AssumeRole"))}}}, -1, ""},
		{"boundary without sts:AssumeRole", world{exec: []string{allow("*", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "root")}, boundary: policyARN("b"),
			policies: []*inventory.ManagedPolicy{{ARN: policyARN("b"), Name: "b", DefaultVersionID: "v1", Document: doc(allow("*", "s3:*"))}}}, -1, ""},
		{"admin capped by a boundary that lets AssumeRole through", world{exec: []string{allow("*", "*")}, roles: []*inventory.Role{adminRole("admin", "root")}, boundary: policyARN("b"),
			policies: []*inventory.ManagedPolicy{{ARN: policyARN("b"), Name: "b", DefaultVersionID: "v1", Document: doc(allow("*", "sts:AssumeRole", "s3:*"))}}}, 1, "sts:AssumeRole"},
		{"boundary with sts:AssumeRole", world{exec: []string{allow("*", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "root")}, boundary: policyARN("b"),
			policies: []*inventory.ManagedPolicy{{ARN: policyARN("b"), Name: "b", DefaultVersionID: "v1", Document: doc(allow("*", "sts:AssumeRole", "s3:*"))}}}, 1, "sts:AssumeRole"},
	}
	for _, svc := range runAsServices {
		for _, set := range svc.sets {
			role := adminRole("admin", svc.service)
			if svc.profile {
				role = withProfile(role)
			}
			actions := append([]string{"iam:PassRole"}, set...)
			tests = append(tests,
				struct {
					name  string
					w     world
					steps int
					via   string
				}{"run as " + svc.service + " with " + strings.Join(set, "+"), world{exec: []string{allow("*", actions...)}, roles: []*inventory.Role{role}}, 1, set[len(set)-1]},
				struct {
					name  string
					w     world
					steps int
					via   string
				}{"no " + svc.service + " role for " + strings.Join(set, "+"), world{exec: []string{allow("*", actions...)}, roles: []*inventory.Role{adminRole("admin", "other.amazonaws.com")}}, -1, ""})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.w.account()
			if tt.steps == -2 {
				// exec attaches the guard policy.
				a.Roles[roleARN("exec")].AttachedPolicyARNs = []string{policyARN("guard")}
				tt.steps = 0
			}
			res := Find(a, nil, nil)
			esc := res.Escalations[roleARN("exec")]
			switch {
			case tt.steps < 0 && esc != nil:
				t.Fatalf("found a path that does not exist: %+v (%s)", esc.Steps, esc.Admin)
			case tt.steps < 0:
				return
			case esc == nil:
				t.Fatalf("no path found; want %d step(s)", tt.steps)
			case len(esc.Steps) != tt.steps:
				t.Fatalf("path of %d step(s), want %d: %+v (%s)", len(esc.Steps), tt.steps, esc.Steps, esc.Admin)
			}
			text := esc.Admin
			for _, s := range esc.Steps {
				text += " " + strings.Join(s.Actions, " ")
				if len(s.AllowedBy) == 0 || s.From == "" || s.To == "" {
					t.Errorf("step without evidence: %+v", s)
				}
			}
			if tt.steps == 0 && esc.Via == nil {
				t.Errorf("admin-equivalent by itself without the statement that allows it")
			}
			if !strings.Contains(text, tt.via) {
				t.Errorf("the path does not name %s: %s", tt.via, text)
			}
		})
	}
}

func withProfile(r *inventory.Role) *inventory.Role {
	r.InstanceProfile = true
	return r
}

// TestConditionalPath: a step allowed only under a Condition makes the
// path conditional.
func TestConditionalPath(t *testing.T) {
	cond := `{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}`
	res := Find(world{exec: []string{cond}, roles: []*inventory.Role{adminRole("admin", "root")}}.account(), nil, nil)
	esc := res.Escalations[roleARN("exec")]
	if esc == nil || !esc.Conditional() {
		t.Fatalf("want a conditional path: %+v", esc)
	}
}

// TestWithoutDirectory: with only the functions' roles read, paths among
// them are still found, and the report is told what was not searched.
func TestWithoutDirectory(t *testing.T) {
	a := world{}.account()
	admin := adminRole("admin", roleARN("exec"))
	a.Roles[admin.ARN] = admin
	a.Functions = append(a.Functions, inventory.Function{ARN: fnARN("f2"), RoleARN: admin.ARN})
	a.Directory = nil
	res := Find(a, nil, nil)
	if res.Escalations[roleARN("exec")] == nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "functions' own roles only") {
		t.Fatalf("escalations %v warnings %q", res.Escalations, res.Warnings)
	}
}

// TestFunctionRoleLambdaNoLongerTrusts: a function's role whose trust was
// changed after the function was created is still searched from.
func TestFunctionRoleLambdaNoLongerTrusts(t *testing.T) {
	a := world{exec: []string{allow("*", "sts:AssumeRole")}, roles: []*inventory.Role{adminRole("admin", "root")}}.account()
	a.Roles[roleARN("exec")].TrustPolicy = trust("ec2.amazonaws.com")
	g := Prepare(acct, a.Directory, a.Policies, nil)
	if esc := Find(a, g, nil).Escalations[roleARN("exec")]; esc == nil || len(esc.Steps) != 1 {
		t.Fatalf("no path from a role Lambda's trust no longer names: %+v", esc)
	}
}

// TestNothingToSearch: when no role Lambda can assume can take a step, the
// rest of the account is not judged (the cheap, common case).
func TestNothingToSearch(t *testing.T) {
	a := world{roles: []*inventory.Role{adminRole("admin", "root")}}.account()
	g := Prepare(acct, a.Directory, a.Policies, nil)
	if n := g.s.p.byARN[roleARN("admin")]; n.judged {
		t.Error("the admin role was judged though no start can move")
	}
	if len(Find(a, g, nil).Escalations) != 0 {
		t.Error("a path from a role that cannot move")
	}
}
