package policy

import (
	"fmt"
	"strings"
)

// Class is how dangerous an Allow statement is.
type Class string

const (
	// ClassAdmin: Allow with Action "*" (or "*:*"): every action.
	ClassAdmin Class = "admin"
	// ClassNearAdmin: Allow with NotAction on Resource "*": everything but a
	// short list, which in practice is admin.
	ClassNearAdmin Class = "near-admin"
	// ClassEscalation: Allow on Resource "*" of an action that lets the role
	// grant itself more (attach or write role policies, swap versions...).
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

// EscalationActions are the IAM actions with which a role can raise its own
// privileges to admin. A statement allowing any of them on every resource is
// as good as admin.
var EscalationActions = []string{
	"iam:AttachRolePolicy",
	"iam:PutRolePolicy",
	"iam:CreatePolicyVersion",
	"iam:SetDefaultPolicyVersion",
	"iam:UpdateAssumeRolePolicy",
	"iam:DeleteRolePermissionsBoundary",
}

// Grant is one statement that grants admin, near-admin or escalation rights.
type Grant struct {
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

// Analysis is what a document grants, statement by statement.
type Analysis struct {
	Grants []Grant
	// Cancel is set when a Deny statement on Action "*", Resource "*" with
	// no Condition makes the policy's holder unable to do anything at all.
	Cancel *Grant
}

// Analyze classifies every statement of a document.
func Analyze(doc *Document) Analysis {
	var a Analysis
	for i, st := range doc.Statement {
		if st.Effect == Deny {
			if a.Cancel == nil && hasAny(st.Action, isAllActions) && contains(st.Resource, "*") && !st.HasCondition {
				a.Cancel = &Grant{Index: i, Sid: st.Sid, Reason: "Deny of Action \"*\" on Resource \"*\" without Condition cancels every grant"}
			}
			continue
		}
		if g, ok := classifyAllow(st); ok {
			g.Index = i
			g.Sid = st.Sid
			a.Grants = append(a.Grants, g)
		}
	}
	return a
}

func classifyAllow(st Statement) (Grant, bool) {
	resourceAll := contains(st.Resource, "*")
	unrestricted := resourceAll && !st.HasCondition
	if action, ok := first(st.Action, isAllActions); ok {
		return Grant{
			Class:        ClassAdmin,
			Unrestricted: unrestricted,
			Reason:       fmt.Sprintf("Allow of Action %q %s", action, scope(st)),
		}, true
	}
	if st.NotAction != nil && resourceAll {
		return Grant{
			Class:        ClassNearAdmin,
			Unrestricted: unrestricted,
			Reason:       fmt.Sprintf("Allow with NotAction %s %s: every action except those listed", quoteList(st.NotAction), scope(st)),
		}, true
	}
	if resourceAll {
		for _, pattern := range st.Action {
			for _, target := range EscalationActions {
				if MatchAction(pattern, target) {
					return Grant{
						Class:        ClassEscalation,
						Unrestricted: unrestricted,
						Reason:       fmt.Sprintf("Allow of Action %q (matches %s) %s: the role can grant itself admin", pattern, target, scope(st)),
					}, true
				}
			}
		}
	}
	return Grant{}, false
}

func scope(st Statement) string {
	s := "on Resource " + quoteList(st.Resource)
	if st.Resource == nil && st.NotResource != nil {
		s = "on NotResource " + quoteList(st.NotResource)
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

func isAllActions(a string) bool { return a == "*" || a == "*:*" }

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

func contains(items []string, want string) bool {
	for _, it := range items {
		if it == want {
			return true
		}
	}
	return false
}
