package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// WatchedCalls are the CloudTrail management events that can create,
// change or resolve a finding, by event source, as CloudTrail records
// them (Lambda's carry their API version). The template's event rule and
// deploy/event-forwarder.yaml match exactly these; a test keeps them in
// step.
var WatchedCalls = map[string][]string{
	"iam.amazonaws.com": {
		"AttachRolePolicy", "DetachRolePolicy", "PutRolePolicy", "DeleteRolePolicy",
		"CreatePolicyVersion", "SetDefaultPolicyVersion", "DeletePolicyVersion",
		"PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary", "UpdateAssumeRolePolicy",
		// The suppression tag.
		"TagRole", "UntagRole",
	},
	"lambda.amazonaws.com": {"CreateFunction20150331", "UpdateFunctionConfiguration20150331v2", "DeleteFunction20150331"},
}

// cloudTrailDetailType is EventBridge's detail-type for CloudTrail
// management events.
const cloudTrailDetailType = "AWS API Call via CloudTrail"

// sqsBatch is the event Lambda's SQS event source mapping sends.
type sqsBatch struct {
	Records []sqsRecord `json:"Records"`
}

type sqsRecord struct {
	MessageID   string `json:"messageId"`
	Body        string `json:"body"`
	EventSource string `json:"eventSource"`
}

// BatchResponse is the partial-batch answer to an SQS batch: the messages
// to retry (every message when the audit failed, none when it succeeded,
// and malformed ones, which then go to the dead-letter queue).
type BatchResponse struct {
	BatchItemFailures []BatchItemFailure `json:"batchItemFailures"`
}

// BatchItemFailure names one message to retry.
type BatchItemFailure struct {
	ItemIdentifier string `json:"itemIdentifier"`
}

// Trigger is one change that asks for an audit, as the log records it.
type Trigger struct {
	EventName string    `json:"eventName"`
	Principal string    `json:"principal"`
	Resource  string    `json:"resource,omitempty"`
	Region    string    `json:"region"`
	Time      time.Time `json:"time"`
}

// cloudTrailEvent is the part of an EventBridge CloudTrail event read here.
type cloudTrailEvent struct {
	DetailType string `json:"detail-type"`
	Detail     *struct {
		EventSource  string    `json:"eventSource"`
		EventName    string    `json:"eventName"`
		EventTime    time.Time `json:"eventTime"`
		AWSRegion    string    `json:"awsRegion"`
		ErrorCode    string    `json:"errorCode"`
		UserIdentity struct {
			ARN            string `json:"arn"`
			SessionContext struct {
				SessionIssuer struct {
					ARN string `json:"arn"`
				} `json:"sessionIssuer"`
			} `json:"sessionContext"`
		} `json:"userIdentity"`
		RequestParameters map[string]any `json:"requestParameters"`
	} `json:"detail"`
}

// isBatch tells an SQS batch from the other events.
func isBatch(raw json.RawMessage) bool {
	var probe struct {
		Records json.RawMessage `json:"Records"`
	}
	return json.Unmarshal(bytes.TrimSpace(raw), &probe) == nil && len(probe.Records) > 0
}

// readBatch sorts a batch's messages: the changes that ask for an audit,
// the messages that are not events at all (malformed: retried, then
// dead-lettered), and how many were ignored (failed calls, the audit's
// own calls, calls it does not watch).
func readBatch(raw json.RawMessage, ownRole string) (triggers []Trigger, malformed []string, ignored int, err error) {
	var batch sqsBatch
	if err := json.Unmarshal(raw, &batch); err != nil {
		return nil, nil, 0, fmt.Errorf("SQS batch is not readable: %w", err)
	}
	for i, rec := range batch.Records {
		if rec.MessageID == "" {
			return nil, nil, 0, fmt.Errorf("SQS batch record %d has no messageId", i)
		}
		t, ok, err := readChange(rec.Body, ownRole)
		switch {
		case err != nil:
			malformed = append(malformed, rec.MessageID)
		case ok:
			triggers = append(triggers, t)
		default:
			ignored++
		}
	}
	sort.SliceStable(triggers, func(i, j int) bool { return triggers[i].Time.Before(triggers[j].Time) })
	return triggers, malformed, ignored, nil
}

// readChange reads one message body: an EventBridge CloudTrail event. ok
// is false for events that cannot change a finding.
func readChange(body, ownRole string) (Trigger, bool, error) {
	var ev cloudTrailEvent
	if err := json.Unmarshal([]byte(body), &ev); err != nil {
		return Trigger{}, false, fmt.Errorf("message body is not an EventBridge event: %w", err)
	}
	if ev.DetailType != cloudTrailDetailType || ev.Detail == nil {
		return Trigger{}, false, nil
	}
	d := ev.Detail
	if !slices.Contains(WatchedCalls[d.EventSource], d.EventName) || d.ErrorCode != "" {
		return Trigger{}, false, nil
	}
	if ownRole != "" && (d.UserIdentity.SessionContext.SessionIssuer.ARN == ownRole || sessionOf(d.UserIdentity.ARN, ownRole)) {
		return Trigger{}, false, nil
	}
	return Trigger{EventName: d.EventName, Principal: d.UserIdentity.ARN, Resource: resourceOf(d.RequestParameters), Region: d.AWSRegion, Time: d.EventTime}, true, nil
}

// sessionOf reports whether an assumed-role ARN is a session of role.
func sessionOf(principal, role string) bool {
	name := role[strings.LastIndex(role, "/")+1:]
	return strings.Contains(principal, ":assumed-role/"+name+"/")
}

// resourceOf names what a call changed, from its request parameters.
func resourceOf(params map[string]any) string {
	for _, key := range []string{"roleName", "functionName", "policyArn"} {
		if v, ok := params[key].(string); ok && v != "" {
			return v
		}
	}
	return ""
}
