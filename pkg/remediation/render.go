package remediation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Formats that Render accepts.
var Formats = []string{"cli", "cloudformation", "terraform"}

// Render writes a plan in one of Formats.
func Render(p Plan, format string) (string, error) {
	switch format {
	case "cli":
		return CLI(p), nil
	case "cloudformation":
		return cloudFormation(p), nil
	case "terraform":
		return terraform(p), nil
	}
	return "", fmt.Errorf("unknown format %q (expected %s)", format, strings.Join(Formats, ", "))
}

// CLI renders the plan as AWS CLI commands, ready to paste: create the
// role, attach its policies, put its inline policy, and switch the
// function once Lambda can assume the new role. Nothing touches the old
// role.
func CLI(p Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Least-privilege execution role for %s\n", p.FunctionARN)
	for _, u := range p.Unknowns {
		fmt.Fprintf(&b, "# NOTE: %s\n", u)
	}
	b.WriteString(retryNote)
	writeCommands(&b, p, shellQuote(compact(p.TrustPolicy)))
	return b.String()
}

// CLIBlock renders several plans (one finding's functions) as one block of
// commands: what they all need to know is said once, the trust policy is
// set once, and each function keeps its own notes.
func CLIBlock(plans []Plan) string {
	if len(plans) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# FIRST: %s\n", DataAccessUnknown)
	b.WriteString(retryNote)
	fmt.Fprintf(&b, "trust=%s\n", shellQuote(compact(plans[0].TrustPolicy)))
	for _, p := range plans {
		fmt.Fprintf(&b, "# %s\n", p.FunctionARN)
		for _, u := range p.Unknowns {
			if u != DataAccessUnknown {
				fmt.Fprintf(&b, "# NOTE: %s\n", u)
			}
		}
		trust := `"$trust"`
		if string(p.TrustPolicy) != string(plans[0].TrustPolicy) {
			trust = shellQuote(compact(p.TrustPolicy))
		}
		writeCommands(&b, p, trust)
	}
	return b.String()
}

const retryNote = "# A new role exists before Lambda may assume it (IAM propagates it in seconds): the switch retries until it can.\n"

func writeCommands(b *strings.Builder, p Plan, trust string) {
	fmt.Fprintf(b, "aws iam create-role --role-name %s --assume-role-policy-document %s\n", p.RoleName, trust)
	for _, arn := range p.ManagedPolicyARNs {
		fmt.Fprintf(b, "aws iam attach-role-policy --role-name %s --policy-arn %s\n", p.RoleName, arn)
	}
	if p.HasInline() {
		fmt.Fprintf(b, "aws iam put-role-policy --role-name %s --policy-name %s --policy-document %s\n", p.RoleName, p.InlinePolicyName, shellQuote(compact(p.InlinePolicy)))
	}
	writeObservedCommands(b, p)
	fmt.Fprintf(b, "until aws lambda update-function-configuration --region %s --function-name %s --role %s >/dev/null; do sleep 5; done\n", p.Region, p.FunctionName, p.RoleARN)
}

// cloudFormation renders the plan as an AWS::IAM::Role resource, to paste
// under a template's Resources.
func cloudFormation(p Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Least-privilege execution role for %s\n", p.FunctionARN)
	for _, u := range p.Unknowns {
		fmt.Fprintf(&b, "# NOTE: %s\n", u)
	}
	fmt.Fprintf(&b, "%s:\n  Type: AWS::IAM::Role\n  Properties:\n", logicalID(p.FunctionName)+"Role")
	fmt.Fprintf(&b, "    RoleName: %s\n", p.RoleName)
	fmt.Fprintf(&b, "    AssumeRolePolicyDocument: %s\n", compact(p.TrustPolicy))
	b.WriteString("    ManagedPolicyArns:\n")
	for _, arn := range p.ManagedPolicyARNs {
		fmt.Fprintf(&b, "      - %s\n", arn)
	}
	observedInline := len(p.ObservedPolicy) > 0 && len(p.ObservedPolicyParts) == 0
	if p.HasInline() || observedInline {
		b.WriteString("    Policies:\n")
	}
	if p.HasInline() {
		fmt.Fprintf(&b, "      - PolicyName: %s\n        PolicyDocument: %s\n", p.InlinePolicyName, compact(p.InlinePolicy))
	}
	if observedInline {
		fmt.Fprintf(&b, "      # %s\n      - PolicyName: %s\n        PolicyDocument: %s\n", observedComment(p), ObservedPolicyName, compact(p.ObservedPolicy))
	}
	for i, part := range p.ObservedPolicyParts {
		if i == 0 {
			fmt.Fprintf(&b, "# %s\n", observedComment(p))
		}
		fmt.Fprintf(&b, "%sObservedUsage%d:\n  Type: AWS::IAM::ManagedPolicy\n  Properties:\n    ManagedPolicyName: %s\n    Roles: [!Ref %sRole]\n    PolicyDocument: %s\n",
			logicalID(p.FunctionName), i+1, observedPartName(p, i), logicalID(p.FunctionName), compact(part))
	}
	fmt.Fprintf(&b, "# Then set the function's Role to !GetAtt %sRole.Arn\n", logicalID(p.FunctionName))
	return b.String()
}

// terraform renders the plan for the current AWS provider: aws_iam_role,
// one aws_iam_role_policy_attachment per managed policy, aws_iam_role_policy.
func terraform(p Plan) string {
	id := terraformID(p.FunctionName)
	var b strings.Builder
	fmt.Fprintf(&b, "# Least-privilege execution role for %s\n", p.FunctionARN)
	for _, u := range p.Unknowns {
		fmt.Fprintf(&b, "# NOTE: %s\n", u)
	}
	fmt.Fprintf(&b, "resource \"aws_iam_role\" %q {\n  name               = %q\n  assume_role_policy = %s\n}\n", id, p.RoleName, heredoc(p.TrustPolicy))
	for _, arn := range p.ManagedPolicyARNs {
		name := terraformID(arn[strings.LastIndex(arn, "/")+1:])
		fmt.Fprintf(&b, "\nresource \"aws_iam_role_policy_attachment\" %q {\n  role       = aws_iam_role.%s.name\n  policy_arn = %q\n}\n", id+"_"+name, id, arn)
	}
	if p.HasInline() {
		fmt.Fprintf(&b, "\nresource \"aws_iam_role_policy\" %q {\n  name   = %q\n  role   = aws_iam_role.%s.id\n  policy = %s\n}\n", id+"_scoped", p.InlinePolicyName, id, heredoc(p.InlinePolicy))
	}
	writeObservedTerraform(&b, p, id)
	fmt.Fprintf(&b, "\n# Then set the function's role = aws_iam_role.%s.arn\n", id)
	return b.String()
}

func compact(doc json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, doc); err != nil {
		return string(doc)
	}
	return buf.String()
}

func heredoc(doc json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, doc, "    ", "  "); err != nil {
		buf.Reset()
		buf.Write(doc)
	}
	return "<<-EOT\n    " + buf.String() + "\n  EOT"
}

// shellQuote wraps s in single quotes for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// logicalID turns a function name into a CloudFormation logical ID
// (alphanumeric, CamelCase): cc-process-app-queue → CcProcessAppQueue.
func logicalID(name string) string {
	var b strings.Builder
	upper := true
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) || r > unicode.MaxASCII {
			upper = true
			continue
		}
		if upper {
			r = unicode.ToUpper(r)
			upper = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 || unicode.IsDigit(rune(b.String()[0])) {
		return "Function" + b.String()
	}
	return b.String()
}

// terraformID turns a name into a Terraform identifier (snake_case):
// AWSLambdaBasicExecutionRole → awslambda_basic_execution_role.
func terraformID(name string) string {
	var b strings.Builder
	var prev rune
	for _, r := range name {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if unicode.IsUpper(r) && (unicode.IsLower(prev) || unicode.IsDigit(prev)) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		case b.Len() > 0 && prev != '_':
			b.WriteByte('_')
			r = '_'
		}
		prev = r
	}
	s := strings.Trim(b.String(), "_")
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "fn_" + s
	}
	return s
}

// observedComment heads the policy drafted from CloudTrail.
func observedComment(p Plan) string {
	w := p.UsageWindow
	if w == nil {
		return "from CloudTrail; review before use"
	}
	cut := ""
	if w.CutShort {
		cut = ", cut short at the call budget"
	}
	return fmt.Sprintf("from CloudTrail, the last %d days (%d events%s); review before use", w.Days, w.Events, cut)
}

// observedPartName names the i-th managed policy of a split observed policy.
func observedPartName(p Plan, i int) string {
	return fmt.Sprintf("%s-%s-%d", p.RoleName, ObservedPolicyName, i+1)
}

func writeObservedCommands(b *strings.Builder, p Plan) {
	switch {
	case len(p.ObservedPolicyParts) > 0:
		fmt.Fprintf(b, "# %s: %d managed policies (too large to sit inline beside the role's own)\n", observedComment(p), len(p.ObservedPolicyParts))
		account := arnPart(p.RoleARN, 4)
		for i, part := range p.ObservedPolicyParts {
			name := observedPartName(p, i)
			fmt.Fprintf(b, "aws iam create-policy --policy-name %s --policy-document %s\n", name, shellQuote(compact(part)))
			fmt.Fprintf(b, "aws iam attach-role-policy --role-name %s --policy-arn arn:%s:iam::%s:policy/%s\n", p.RoleName, arnPart(p.RoleARN, 1), account, name)
		}
	case len(p.ObservedPolicy) > 0:
		fmt.Fprintf(b, "# %s\n", observedComment(p))
		fmt.Fprintf(b, "aws iam put-role-policy --role-name %s --policy-name %s --policy-document %s\n", p.RoleName, ObservedPolicyName, shellQuote(compact(p.ObservedPolicy)))
	}
}

func writeObservedTerraform(b *strings.Builder, p Plan, id string) {
	switch {
	case len(p.ObservedPolicyParts) > 0:
		fmt.Fprintf(b, "\n# %s\n", observedComment(p))
		for i, part := range p.ObservedPolicyParts {
			res := fmt.Sprintf("%s_observed_%d", id, i+1)
			fmt.Fprintf(b, "\nresource \"aws_iam_policy\" %q {\n  name   = %q\n  policy = %s\n}\n", res, observedPartName(p, i), heredoc(part))
			fmt.Fprintf(b, "\nresource \"aws_iam_role_policy_attachment\" %q {\n  role       = aws_iam_role.%s.name\n  policy_arn = aws_iam_policy.%s.arn\n}\n", res, id, res)
		}
	case len(p.ObservedPolicy) > 0:
		fmt.Fprintf(b, "\n# %s\nresource \"aws_iam_role_policy\" %q {\n  name   = %q\n  role   = aws_iam_role.%s.id\n  policy = %s\n}\n", observedComment(p), id+"_observed", ObservedPolicyName, id, heredoc(p.ObservedPolicy))
	}
}
