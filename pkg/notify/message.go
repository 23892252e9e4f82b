// Package notify turns an audit report into one SNS alert (a subject, a body
// per delivery protocol, attributes for subscription filters), publishes it,
// and remembers what was last alerted for change-only notification.
package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/render"
)

// MaxMessageBytes is SNS's limit for one message, attributes included.
const MaxMessageBytes = 262144

// safetyMargin leaves room for SNS's own accounting of attribute names and
// types, so a message computed to fit is never rejected.
const safetyMargin = 2048

// Context is what the alert says about where the run happened.
type Context struct {
	AccountID string
	// AccountAlias, when set, follows the id wherever the account is
	// named: a channel that receives many accounts stays readable.
	AccountAlias string
	// LogGroup and LogStream locate the full report when a message had to
	// be shortened.
	LogGroup, LogStream string
	// MinSeverity is the lowest severity that alerts.
	MinSeverity audit.Severity
	// Now stamps the message.
	Now time.Time
	// ChangeMode leads the alert with what changed since the last
	// complete run (the report's Change).
	ChangeMode bool
}

// Message is one SNS publish.
type Message struct {
	Subject string
	// Body is the MessageStructure=json document: a JSON object with one
	// string per protocol.
	Body       string
	Attributes map[string]Attribute
	// Detailed is how many findings the bodies describe in full; the rest
	// were left out to fit under MaxMessageBytes.
	Detailed, Omitted int
}

// Attribute is an SNS message attribute.
type Attribute struct {
	DataType, Value string
}

// Size is the message's size as SNS counts it: body, subject and attributes.
func (m Message) Size() int {
	n := len(m.Body) + len(m.Subject)
	for k, a := range m.Attributes {
		n += len(k) + len(a.DataType) + len(a.Value)
	}
	return n
}

// Build renders the alert for a report, describing as many findings in full
// as fit under SNS's limit, most severe first.
func Build(r *audit.Report, c Context) (Message, error) {
	if c.MinSeverity == "" {
		c.MinSeverity = audit.Medium
	}
	if c.AccountID == "" {
		c.AccountID = r.AccountID
	}
	if c.AccountAlias == "" {
		c.AccountAlias = r.AccountAlias
	}
	alerting := r.Alerting(c.MinSeverity)
	m := Message{Subject: subject(r, c), Attributes: attributes(r, alerting)}
	fits := func(k int) (string, bool, error) {
		body, err := bodies(r, alerting, c, k)
		if err != nil {
			return "", false, err
		}
		m.Body = body
		return body, m.Size() <= MaxMessageBytes-safetyMargin, nil
	}
	// Findings are the only part that grows without bound; find the
	// largest number that fits by bisection.
	total := len(r.Findings)
	body, ok, err := fits(total)
	if err != nil {
		return Message{}, err
	}
	if ok {
		m.Body, m.Detailed = body, total
		return m, nil
	}
	lo, hi := 0, total // lo fits (or is zero), hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, ok, err := fits(mid); err != nil {
			return Message{}, err
		} else if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	body, ok, err = fits(lo)
	if err != nil {
		return Message{}, err
	}
	if !ok {
		return Message{}, fmt.Errorf("alert does not fit in %d bytes even without findings (%d bytes)", MaxMessageBytes, len(body))
	}
	m.Body, m.Detailed, m.Omitted = body, lo, total-lo
	return m, nil
}

// subject is ASCII, under 100 characters, and says first whether the audit
// was incomplete and why: "lambda-role-audit 123456789012: 2 critical,
// 1 high", or "lambda-role-audit 123456789012: INCOMPLETE (eu-west-1:
// AccessDenied +1); 1 high" (+1: one more error).
func subject(r *audit.Report, c Context) string {
	prefix := "lambda-role-audit " + c.account() + ": "
	counts := render.SeverityCounts(r.Alerting(c.MinSeverity))
	switch {
	case changeLed(r, c):
		counts = r.Change.Line(r)
	case counts == "" && r.Complete:
		counts = "all clear"
	case counts == "":
		counts = "no findings"
	}
	if len(r.DeliveryErrors) > 0 {
		counts += "; export failed"
	}
	if r.Complete {
		return fitSubject(prefix + counts)
	}
	reason := "unknown reason"
	if len(r.Errors) > 0 {
		reason = shortReason(r.Errors[0])
	}
	if len(r.Errors) > 1 {
		reason += fmt.Sprintf(" +%d", len(r.Errors)-1)
	}
	room := 99 - len(prefix) - len("INCOMPLETE (); ") - len(counts)
	reason = asciiOnly(reason)
	if room < len(reason) {
		reason = reason[:max(0, room-3)] + "..."
	}
	return fitSubject(prefix + "INCOMPLETE (" + reason + "); " + counts)
}

// account names the account: its id, and its alias when known.
func (c Context) account() string {
	id := c.AccountID
	if id == "" {
		id = "unknown-account"
	}
	if c.AccountAlias != "" {
		return id + " (" + c.AccountAlias + ")"
	}
	return id
}

// shortReason names where an error happened and its error code:
// "eu-west-1: AccessDenied", "role payments: ran out of time".
func shortReason(e audit.Error) string {
	where := e.Region
	if where == "" && e.RoleARN != "" {
		where = "role " + render.RoleLabel(e.RoleARN)
	}
	what := strings.TrimPrefix(e.Message, "role not evaluated: ")
	switch {
	case strings.HasPrefix(what, "skipped: the audit ran out of time"):
		what = "ran out of time"
	case strings.HasPrefix(what, "managed policy "), strings.HasPrefix(what, "inline policy "):
		what = "policy unreadable"
	default:
		if i := strings.IndexAny(what, ":,("); i > 0 {
			what = strings.TrimSuffix(what[:i], "Exception")
		}
	}
	if where == "" {
		return what
	}
	return where + ": " + what
}

func fitSubject(s string) string {
	s = asciiOnly(s)
	if len(s) > 99 {
		s = s[:96] + "..."
	}
	return s
}

func attributes(r *audit.Report, alerting []audit.Finding) map[string]Attribute {
	highest := "none"
	for _, f := range alerting {
		if highest == "none" || f.Severity.Rank() > audit.Severity(highest).Rank() {
			highest = string(f.Severity)
		}
	}
	return map[string]Attribute{
		"severity":     {DataType: "String", Value: highest},
		"findingCount": {DataType: "Number", Value: fmt.Sprint(len(alerting))},
		"complete":     {DataType: "String", Value: fmt.Sprint(r.Complete)},
	}
}

// bodies renders every protocol's body with the first k findings in full.
func bodies(r *audit.Report, alerting []audit.Finding, c Context, k int) (string, error) {
	defaultBody := short(r, c)
	emailBody := email(r, c, k)
	chat, err := json.Marshal(chatbot(r, c, k))
	if err != nil {
		return "", fmt.Errorf("render chat notification: %w", err)
	}
	report, err := json.Marshal(truncatedReport(r, c, k))
	if err != nil {
		return "", fmt.Errorf("render report: %w", err)
	}
	structure := map[string]string{
		"default": defaultBody,
		"email":   emailBody,
		"https":   string(chat),
		"sqs":     string(report),
		"lambda":  string(report),
	}
	b, err := json.Marshal(structure)
	if err != nil {
		return "", fmt.Errorf("render message: %w", err)
	}
	return string(b), nil
}

// Truncation says what a shortened report left out and where to find it.
type Truncation struct {
	OmittedFindings int    `json:"omittedFindings"`
	OmittedErrors   int    `json:"omittedErrors"`
	LogGroup        string `json:"logGroup,omitempty"`
	LogStream       string `json:"logStream,omitempty"`
}

type reportBody struct {
	audit.Report
	Truncated *Truncation `json:"truncated,omitempty"`
}

func truncatedReport(r *audit.Report, c Context, k int) reportBody {
	body := reportBody{Report: *r}
	if k < len(r.Findings) || k < len(r.Errors) {
		body.Findings = r.Findings[:min(k, len(r.Findings))]
		body.Errors = r.Errors[:min(k, len(r.Errors))]
		body.Truncated = &Truncation{
			OmittedFindings: len(r.Findings) - len(body.Findings),
			OmittedErrors:   len(r.Errors) - len(body.Errors),
			LogGroup:        c.LogGroup, LogStream: c.LogStream,
		}
	}
	return body
}

// moreLine tells the reader where the rest is.
func moreLine(omitted int, c Context) string {
	where := "the function's log"
	if c.LogGroup != "" {
		where = fmt.Sprintf("the log stream %s in log group %s", c.LogStream, c.LogGroup)
	}
	return fmt.Sprintf("%d more findings: see %s (the full JSON report is logged there).", omitted, where)
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}
