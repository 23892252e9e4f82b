package handler

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"lambda-role-audit/pkg/notify"
)

const topic = "arn:aws:sns:us-east-1:123456789012:lambda-role-audit-AlertTopic-1AB2"

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{
		"ALERT_TOPIC_ARN": topic, "AUDIT_REGIONS": "us-east-1, eu-west-1", "NOTIFY_ON": "change",
		"MIN_SEVERITY": "HIGH", "SUPPRESS_ROLES": "break-glass, arn:aws:iam::123456789012:role/legacy", "STATE_BUCKET": "lra-state",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TopicARN != topic || strings.Join(c.Regions, ",") != "us-east-1,eu-west-1" || c.NotifyOn != "change" || c.MinSeverity != "high" || len(c.SuppressRoles) != 2 {
		t.Fatalf("config = %+v", c)
	}
	d, err := loadConfig(envOf(map[string]string{"ALERT_TOPIC_ARN": topic}))
	if err != nil || d.NotifyOn != "findings" || d.MinSeverity != "medium" || d.Regions != nil || d.SecurityHub {
		t.Fatalf("defaults = %+v, %v", d, err)
	}
	h, err := loadConfig(envOf(map[string]string{"ALERT_TOPIC_ARN": topic, "SECURITY_HUB": "on", "AWS_REGION": "eu-west-1"}))
	if err != nil || !h.SecurityHub || h.SecurityHubRegion != "eu-west-1" {
		t.Fatalf("security hub = %+v, %v", h, err)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing topic", map[string]string{}, "ALERT_TOPIC_ARN is required"},
		{"malformed topic", map[string]string{"ALERT_TOPIC_ARN": "arn:aws:sqs:us-east-1:123456789012:q"}, "is not an SNS topic ARN"},
		{"topic without account", map[string]string{"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1::t"}, "is not an SNS topic ARN"},
		{"unknown severity", map[string]string{"ALERT_TOPIC_ARN": topic, "MIN_SEVERITY": "severe"}, `MIN_SEVERITY: unknown severity "severe"`},
		{"bad region", map[string]string{"ALERT_TOPIC_ARN": topic, "AUDIT_REGIONS": "us-east-1,narnia"}, `AUDIT_REGIONS: "narnia" is not a region name`},
		{"bad notify", map[string]string{"ALERT_TOPIC_ARN": topic, "NOTIFY_ON": "sometimes"}, `NOTIFY_ON: "sometimes" is not a notify mode`},
		{"change without state", map[string]string{"ALERT_TOPIC_ARN": topic, "NOTIFY_ON": "change"}, "STATE_BUCKET is required"},
		{"security hub typo", map[string]string{"ALERT_TOPIC_ARN": topic, "SECURITY_HUB": "yes"}, `SECURITY_HUB: "yes" is neither on nor off`},
		{"security hub without region", map[string]string{"ALERT_TOPIC_ARN": topic, "SECURITY_HUB": "on"}, "SECURITY_HUB=on needs AWS_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envOf(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  Request
		err   string
	}{
		{"empty", ``, Request{Scheduled: true}, ""},
		{"null", `null`, Request{Scheduled: true}, ""},
		{"empty object", `{}`, Request{}, ""},
		{"scheduler", `{"detail-type":"Scheduled Event","source":"lambda-role-audit.schedule"}`, Request{Scheduled: true}, ""},
		{"eventbridge rule", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, Request{Scheduled: true}, ""},
		{"dry run", `{"dryRun": true}`, Request{DryRun: true}, ""},
		{"all fields", `{"dryRun": false, "regions": ["eu-west-1"], "notify": "always"}`, Request{Regions: []string{"eu-west-1"}, Notify: "always"}, ""},
		{"unknown field", `{"dryrun": true}`, Request{}, `unknown field(s) "dryrun"; accepted fields: dryRun (bool`},
		{"wrong type", `{"dryRun": "yes"}`, Request{}, `field dryRun must be true or false, got "yes"`},
		{"null dry run", `{"dryRun": null}`, Request{}, "field dryRun must be true or false"},
		{"regions not a list", `{"regions": "us-east-1"}`, Request{}, "field regions must be a list"},
		{"bad region", `{"regions": ["us-east-1", "mars"]}`, Request{}, `"mars" is not a region name`},
		{"empty regions", `{"regions": []}`, Request{}, "field regions is empty"},
		{"bad notify", `{"notify": "loud"}`, Request{}, `"loud" is not a notify mode`},
		{"not an object", `[1,2]`, Request{}, "event must be a JSON object"},
		{"string", `"run"`, Request{}, "event must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeEvent(json.RawMessage(tt.event))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "accepted fields") {
					t.Fatalf("error = %v, want %q and the accepted fields", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Scheduled != tt.want.Scheduled || got.DryRun != tt.want.DryRun || got.Notify != tt.want.Notify || strings.Join(got.Regions, ",") != strings.Join(tt.want.Regions, ",") {
				t.Fatalf("request = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The example events shipped for the console's Test button must decode.
func TestExampleEventsDecode(t *testing.T) {
	files, _ := filepath.Glob("../../deploy/events/*.json")
	if len(files) < 3 {
		t.Fatalf("found %d example events, want at least 3", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if isBatch(data) {
			// A change queue's batch, as the SQS event source sends it.
			if triggers, malformed, _, err := readBatch(data, ""); err != nil || len(triggers) != 1 || len(malformed) != 0 {
				t.Errorf("%s: %d triggers, %d malformed, %v", f, len(triggers), len(malformed), err)
			}
			continue
		}
		if _, err := decodeEvent(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{`{"dryRun":true}`, `{"regions":["us-east-1"],"notify":"change"}`, `{"detail-type":"x"}`, `[]`, `{"regions":[1]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeEvent(data)
		if err == nil && req.Notify != "" && notify.CheckMode(req.Notify) != nil {
			t.Fatalf("accepted invalid notify %q", req.Notify)
		}
	})
}
