package notify

import (
	"fmt"
	"strings"

	"lambda-role-audit/pkg/audit"
)

// ChatNotification is an AWS Chatbot custom notification: delivered to the
// topic's Chatbot (https) subscription, it renders natively in Slack.
type ChatNotification struct {
	Version  string       `json:"version"`
	Source   string       `json:"source"`
	ID       string       `json:"id,omitempty"`
	Content  ChatContent  `json:"content"`
	Metadata ChatMetadata `json:"metadata"`
}

// ChatContent is what the channel shows.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata threads and summarises the notification.
type ChatMetadata struct {
	ThreadID          string            `json:"threadId"`
	Summary           string            `json:"summary"`
	EventType         string            `json:"eventType"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// chatbot renders the report as a Chatbot custom notification listing the
// first k alerting findings.
func chatbot(r *audit.Report, c Context, k int) ChatNotification {
	alerting := r.Alerting(c.MinSeverity)
	var d strings.Builder
	if changeLed(r, c) {
		fmt.Fprintf(&d, "*%s*\n", changeLine(r, c))
		for _, g := range r.Change.Resolved {
			fmt.Fprintf(&d, "• resolved: `%s` role `%s`\n", g.Rule, g.RoleName)
		}
	} else {
		fmt.Fprintf(&d, "Account %s\n", c.account())
	}
	if !r.Complete {
		fmt.Fprintf(&d, ":warning: *%s*\n", incompleteLine(r))
	}
	if len(r.DeliveryErrors) > 0 {
		fmt.Fprintf(&d, ":warning: *%s*\n", deliveryLine(r))
	}
	fmt.Fprintf(&d, "%d functions in %d regions, %d roles evaluated.\n", r.Functions, len(r.Regions), r.Roles)
	shown := 0
	var related []string
	for _, f := range alerting {
		if shown == k || shown == 20 {
			fmt.Fprintf(&d, "_%s_\n", moreLine(len(alerting)-shown, c))
			break
		}
		fmt.Fprintf(&d, "• *%s* `%s` role `%s`: %d function(s)\n", strings.ToUpper(string(f.Severity)), f.Rule, f.RoleName, len(f.Functions))
		related = append(related, f.RoleARN)
		shown++
	}
	eventType := "LambdaRoleAuditFindings"
	title := fmt.Sprintf(":rotating_light: %s", subject(r, c))
	switch {
	case len(alerting) == 0 && r.Complete:
		eventType, title = "LambdaRoleAuditAllClear", fmt.Sprintf(":white_check_mark: %s", subject(r, c))
	case !r.Complete:
		eventType = "LambdaRoleAuditIncomplete"
	}
	steps := []string{
		"Give each listed function its own execution role with only the policies it needs: `lambda-role-audit plan --function <ARN>` prints the commands.",
		"Read the full report in the email alert or the function's log.",
	}
	if !r.Complete {
		steps = append([]string{"Fix what kept the audit from seeing everything (permissions, regions), then run it again from the Lambda console."}, steps...)
	}
	return ChatNotification{
		Version: "1.0",
		Source:  "custom",
		Content: ChatContent{
			TextType:    "client-markdown",
			Title:       title,
			Description: d.String(),
			NextSteps:   steps,
			Keywords:    keywords(r, alerting),
		},
		Metadata: ChatMetadata{
			ThreadID:         "lambda-role-audit-" + orUnknown(c.AccountID),
			Summary:          subject(r, c),
			EventType:        eventType,
			RelatedResources: related,
			AdditionalContext: map[string]string{
				"accountId":    c.AccountID,
				"accountAlias": c.AccountAlias,
				"complete":     fmt.Sprint(r.Complete),
			},
		},
	}
}

func keywords(r *audit.Report, alerting []audit.Finding) []string {
	kw := []string{"lambda-role-audit"}
	if top := r.Highest(); top != "" && len(alerting) > 0 {
		kw = append(kw, string(top))
	}
	if !r.Complete {
		kw = append(kw, "incomplete")
	}
	return kw
}
