package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// TrailEvent is one record of CloudTrail event history, in the shape
// LookupEvents returns it: the record itself (Record, as CloudTrail wrote
// it) and the summary fields LookupEvents adds.
type TrailEvent struct {
	Region    string
	Username  string
	Time      time.Time
	Resources []TrailResource
	Record    map[string]any
}

// TrailResource is one entry of an event's Resources.
type TrailResource struct{ Type, Name string }

// Trail serves CloudTrail's LookupEvents (the JSON protocol) from a fixed
// event history, for what moto does not serve. It filters by Username and
// time, per region (from the request's SigV4 scope), and pages by
// PageSize, newest first, as CloudTrail does.
type Trail struct {
	Events   []TrailEvent
	PageSize int
}

type lookupRequest struct {
	LookupAttributes []struct{ AttributeKey, AttributeValue string }
	StartTime        *float64
	EndTime          *float64
	NextToken        string
}

func (tr *Trail) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region := "us-east-1"
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region = m[1]
	}
	var req lookupRequest
	if r.Header.Get("X-Amz-Target") != "CloudTrail_20131101.LookupEvents" || json.NewDecoder(r.Body).Decode(&req) != nil {
		trailError(w, "InvalidLookupAttributesException", "only LookupEvents is served here")
		return
	}
	user := ""
	for _, a := range req.LookupAttributes {
		if a.AttributeKey == "Username" {
			user = a.AttributeValue
		}
	}
	var matched []TrailEvent
	for i := len(tr.Events) - 1; i >= 0; i-- {
		e := tr.Events[i]
		t := float64(e.Time.Unix())
		if e.Region != region || (user != "" && e.Username != user) || (req.StartTime != nil && t < *req.StartTime) || (req.EndTime != nil && t > *req.EndTime) {
			continue
		}
		matched = append(matched, e)
	}
	start, _ := strconv.Atoi(req.NextToken)
	size := tr.PageSize
	if size <= 0 {
		size = 50
	}
	end := min(start+size, len(matched))
	out := map[string]any{"Events": []any{}}
	var events []any
	for i, e := range matched[start:end] {
		record, _ := json.Marshal(e.Record)
		var res []any
		for _, rr := range e.Resources {
			res = append(res, map[string]string{"ResourceType": rr.Type, "ResourceName": rr.Name})
		}
		events = append(events, map[string]any{
			"EventId": fmt.Sprintf("evt-%d", start+i), "EventName": e.Record["eventName"], "EventSource": e.Record["eventSource"],
			"EventTime": float64(e.Time.Unix()), "Username": e.Username, "ReadOnly": "true", "Resources": res, "CloudTrailEvent": string(record),
		})
	}
	if events != nil {
		out["Events"] = events
	}
	if end < len(matched) {
		out["NextToken"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func trailError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
