package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"lambda-role-audit/pkg/inventory"
	"lambda-role-audit/pkg/notify"
)

// Request is what one invocation asks for, after decoding its event.
type Request struct {
	// Scheduled is true for EventBridge schedule events.
	Scheduled bool
	DryRun    bool
	Regions   []string
	Notify    string // "" keeps the configured mode
}

// manualFields are the fields a manual test event may carry.
var manualFields = map[string]string{
	"dryRun":  "bool: run and return the report, publish nothing",
	"regions": "list of region names to audit instead of the configured ones",
	"notify":  "findings | change | always: override NOTIFY_ON for this run",
}

// acceptedFields describes the manual event for error messages.
func acceptedFields() string {
	names := make([]string, 0, len(manualFields))
	for k := range manualFields {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " (" + manualFields[n] + ")"
	}
	return strings.Join(parts, ", ")
}

// decodeEvent accepts the schedule's events (an EventBridge Scheduler or
// EventBridge rule event: an object with "detail-type"), an empty event,
// and a manual test event with only the fields dryRun, regions and notify.
// Anything else is rejected with an error that names the problem.
func decodeEvent(raw json.RawMessage) (Request, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return Request{Scheduled: true}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return Request{}, fmt.Errorf("event must be a JSON object: %v; accepted fields: %s", err, acceptedFields())
	}
	if _, ok := fields["detail-type"]; ok {
		return Request{Scheduled: true}, nil
	}
	var req Request
	var unknown []string
	for name, value := range fields {
		var err error
		switch name {
		case "dryRun":
			err = json.Unmarshal(value, &req.DryRun)
			if err != nil || bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
				err = fmt.Errorf("field dryRun must be true or false, got %s", value)
			}
		case "regions":
			var list []string
			if json.Unmarshal(value, &list) != nil || list == nil {
				err = fmt.Errorf("field regions must be a list of region names, got %s", value)
				break
			}
			req.Regions, err = inventory.ParseRegions(strings.Join(list, ","))
			if err == nil && len(req.Regions) == 0 {
				err = errors.New("field regions is empty: omit it to audit the configured regions")
			}
			if err != nil {
				err = fmt.Errorf("field regions: %w", err)
			}
		case "notify":
			if json.Unmarshal(value, &req.Notify) != nil {
				err = fmt.Errorf("field notify must be a string, got %s", value)
			} else if verr := notify.CheckMode(req.Notify); verr != nil {
				err = fmt.Errorf("field notify: %w", verr)
			}
		default:
			unknown = append(unknown, name)
		}
		if err != nil {
			return Request{}, fmt.Errorf("invalid event: %w; accepted fields: %s", err, acceptedFields())
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Request{}, fmt.Errorf("invalid event: unknown field(s) %s; accepted fields: %s", strings.Join(quoteAll(unknown), ", "), acceptedFields())
	}
	return req, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprintf("%q", v)
	}
	return out
}
