package handler

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"lambda-role-audit/pkg/usage"
)

// trailOf answers every lookup with one page holding one call of the
// function asked about, by its own session.
type trailOf struct {
	role  string
	calls *int
}

func (t trailOf) LookupEvents(_ context.Context, in *cloudtrail.LookupEventsInput, _ ...func(*cloudtrail.Options)) (*cloudtrail.LookupEventsOutput, error) {
	*t.calls++
	name := aws.ToString(in.LookupAttributes[0].AttributeValue)
	rec, _ := json.Marshal(map[string]any{"eventSource": "ssm.amazonaws.com", "eventName": "GetParameter", "awsRegion": "us-east-1",
		"userIdentity": map[string]any{"arn": "arn:aws:sts::123456789012:assumed-role/" + t.role + "/" + name}, "requestParameters": map[string]any{"name": "/" + name}})
	return &cloudtrail.LookupEventsOutput{Events: []cttypes.Event{{EventTime: aws.Time(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)), CloudTrailEvent: aws.String(string(rec))}}}, nil
}

// TestUsageEvidenceInTheScheduledRun: with USAGE_EVIDENCE on, the plans of
// alerting findings get their functions' own calls, within the total call
// budget; the rest keep the plain note.
func TestUsageEvidenceInTheScheduledRun(t *testing.T) {
	store, pub := &memS3{}, &snsRecorder{}
	h := sampleHandler(t, store, pub, time.Date(2026, 11, 28, 6, 0, 0, 0, time.UTC))
	h.Config.UsageEvidence, h.Config.UsageMaxCalls = true, 2
	calls := 0
	h.CloudTrail = func(string) usage.CloudTrailAPI {
		return trailOf{role: "cc-app-function-execution-role", calls: &calls}
	}
	rep, _ := h.audit(context.Background(), nil)
	h.addUsageEvidence(context.Background(), rep)
	if calls != 2 {
		t.Fatalf("%d LookupEvents calls, budget 2", calls)
	}
	with, without := 0, 0
	for _, f := range rep.Findings {
		for _, p := range f.Remediation {
			if p.UsageWindow != nil {
				with++
				if f.RoleName == "cc-app-function-execution-role" && (len(p.Observed) != 1 || !strings.HasSuffix(p.Observed[0].Resources[0], ":parameter/"+p.FunctionName)) {
					t.Errorf("%s observed %+v", p.FunctionName, p.Observed)
				}
			} else {
				without++
				if !strings.Contains(strings.Join(p.Unknowns, " "), "plan --usage") {
					t.Errorf("%s without evidence keeps the plain note: %q", p.FunctionName, p.Unknowns)
				}
			}
		}
	}
	if with == 0 || without == 0 {
		t.Errorf("%d plans with evidence, %d without: the budget of 2 calls must cover some and not all", with, without)
	}
}
