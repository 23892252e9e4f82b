package notify

import (
	"fmt"
	"strings"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/render"
)

// short is the "default" body: a few lines for protocols without their own.
func short(r *audit.Report, c Context) string {
	var b strings.Builder
	if changeLed(r, c) {
		fmt.Fprintf(&b, "%s\n", changeLine(r, c))
	} else {
		fmt.Fprintf(&b, "Account %s\n", c.account())
	}
	if !r.Complete {
		fmt.Fprintf(&b, "%s\n", incompleteLine(r))
	}
	if len(r.DeliveryErrors) > 0 {
		fmt.Fprintf(&b, "%s\n", deliveryLine(r))
	}
	fmt.Fprintln(&b, render.SummaryLine(r))
	alerting := r.Alerting(c.MinSeverity)
	for i, f := range alerting {
		if i == 5 {
			fmt.Fprintf(&b, "... and %d more at %s or above.\n", len(alerting)-5, c.MinSeverity)
			break
		}
		fmt.Fprintf(&b, "- %s %s: role %s used by %d function(s)\n", strings.ToUpper(string(f.Severity)), f.Rule, f.RoleName, len(f.Functions))
	}
	return b.String()
}

// incompleteLine says that, and why, an audit is incomplete.
func incompleteLine(r *audit.Report) string {
	var reasons []string
	for i, e := range r.Errors {
		if i == 3 {
			reasons = append(reasons, fmt.Sprintf("and %d more", len(r.Errors)-3))
			break
		}
		reasons = append(reasons, render.ErrorLine(e))
	}
	return "INCOMPLETE AUDIT: " + strings.Join(reasons, "; ")
}

// deliveryLine says which exports failed: the findings below did not all
// reach where they were sent.
func deliveryLine(r *audit.Report) string {
	var reasons []string
	for _, e := range r.DeliveryErrors {
		reasons = append(reasons, render.ErrorLine(e))
	}
	return "NOT DELIVERED: " + strings.Join(reasons, "; ")
}

// email is a readable plain-text report: every finding (the first k in
// full), its functions and evidence, what was not audited, and how to fix.
func email(r *audit.Report, c Context, k int) string {
	if changeLed(r, c) {
		return changeEmail(r, c, k)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Lambda execution role audit of account %s", c.account())
	if !c.Now.IsZero() {
		fmt.Fprintf(&b, " at %s", c.Now.UTC().Format("2006-01-02 15:04 UTC"))
	}
	b.WriteString("\n")
	if !r.Complete || len(r.DeliveryErrors) > 0 {
		b.WriteString("\n")
	}
	if !r.Complete {
		fmt.Fprintf(&b, "%s\n\n", incompleteLine(r))
	}
	if len(r.DeliveryErrors) > 0 {
		fmt.Fprintf(&b, "%s\n\n", deliveryLine(r))
	}
	fmt.Fprintf(&b, "%s\n", render.SummaryLine(r))
	fmt.Fprintf(&b, "Alerting on unsuppressed findings at %s or above: %d.\n", c.MinSeverity, len(r.Alerting(c.MinSeverity)))
	render.WriteAttention(&b, r, max(k, 20))

	if len(r.Findings) > 0 {
		fmt.Fprint(&b, "\nFINDINGS\n========\n")
	}
	for i, f := range r.Findings {
		if i == k {
			fmt.Fprintf(&b, "\n%s\n", moreLine(len(r.Findings)-k, c))
			break
		}
		var notes []string
		if f.Suppressed {
			notes = append(notes, "suppressed (accepted risk): "+f.SuppressReason)
		} else if !f.Severity.AtLeast(c.MinSeverity) {
			notes = append(notes, fmt.Sprintf("below the alert threshold (%s); listed for completeness", c.MinSeverity))
		}
		render.WriteFinding(&b, i+1, f, notes...)
	}
	if len(r.Findings) > 0 {
		b.WriteString(remediationSteps)
	}
	return b.String()
}

// remediationSteps are the rule's remediation, in short: one role per
// function with only the managed policies it needs.
const remediationSteps = `
HOW TO FIX
==========
Give each function its own execution role with only the permissions it needs,
then move the function to it. For each function listed above:
  1. Create a role that Lambda can assume:
       aws iam create-role --role-name <function>-role \
         --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
  2. Attach only the AWS-managed policies the function uses:
       AWSLambdaBasicExecutionRole (logs), AWSLambdaVPCAccessExecutionRole (VPC),
       AWSLambdaSQSQueueExecutionRole, AWSLambdaKinesisExecutionRole,
       AWSLambdaDynamoDBExecutionRole, AWSLambdaMSKExecutionRole (event sources),
       AWSXRayDaemonWriteAccess (tracing), CloudWatchLambdaInsightsExecutionRolePolicy:
       aws iam attach-role-policy --role-name <function>-role --policy-arn arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
  3. Add an inline policy for the function's own data, scoped to exact ARNs.
  4. Switch the function to the new role:
       aws lambda update-function-configuration --region <region> --function-name <function> --role <new role ARN>
  5. Once no function uses the shared admin role, remove its admin policies.
Repeat in every region. Each finding above lists these commands for its
functions, worked out from their configuration; "lambda-role-audit plan
--function <ARN> --format cloudformation|terraform" prints them as code.
`

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}
