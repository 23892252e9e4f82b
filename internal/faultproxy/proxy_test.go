package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIdentify(t *testing.T) {
	sig := func(region, service string) string {
		return "AWS4-HMAC-SHA256 Credential=AKID/20261128/" + region + "/" + service + "/aws4_request, SignedHeaders=host, Signature=x"
	}
	tests := []struct {
		method, path, body, target, auth string
		want                             Request
	}{
		{"GET", "/2015-03-31/functions/", "", "", sig("eu-west-1", "lambda"), Request{"lambda", "ListFunctions", "eu-west-1"}},
		{"GET", "/2015-03-31/functions/fn", "", "", sig("us-east-1", "lambda"), Request{"lambda", "GetFunction", "us-east-1"}},
		{"PUT", "/2015-03-31/functions/fn/configuration", "{}", "", sig("us-east-1", "lambda"), Request{"lambda", "UpdateFunctionConfiguration", "us-east-1"}},
		{"GET", "/2015-03-31/event-source-mappings/", "", "", sig("ap-south-1", "lambda"), Request{"lambda", "ListEventSourceMappings", "ap-south-1"}},
		{"POST", "/", "Action=GetRole&RoleName=r&Version=2010-05-08", "", sig("us-east-1", "iam"), Request{"iam", "GetRole", "us-east-1"}},
		{"POST", "/", `{"Name":"p"}`, "AmazonSSM.GetParameter", sig("us-east-1", "ssm"), Request{"ssm", "GetParameter", "us-east-1"}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
		r.Header.Set("Authorization", tt.auth)
		if tt.target != "" {
			r.Header.Set("X-Amz-Target", tt.target)
		}
		if got := Identify(r, []byte(tt.body)); got != tt.want {
			t.Errorf("%s %s: %+v, want %+v", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestRulesAndWireFormats(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	p, err := Start(backend.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetRules(
		Rule{Service: "lambda", Region: "eu-west-1", Fault: Throttle},
		Rule{Service: "iam", Contains: "RoleName=secret&", Fault: Deny},
	)
	call := func(region, service, body string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", p.URL+"/", strings.NewReader(body))
		if service == "lambda" {
			req, _ = http.NewRequest("GET", p.URL+"/2015-03-31/functions/", nil)
		}
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20261128/"+region+"/"+service+"/aws4_request")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	if resp, _ := call("eu-west-1", "lambda", ""); resp.StatusCode != 429 || resp.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Errorf("lambda throttle: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body := call("us-east-1", "lambda", ""); resp.StatusCode != 200 || body != "ok" {
		t.Errorf("other region must pass through: %d %s", resp.StatusCode, body)
	}
	if resp, body := call("us-east-1", "iam", "Action=GetRole&RoleName=secret&Version=2010-05-08"); resp.StatusCode != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") || !strings.Contains(body, "iam:GetRole") {
		t.Errorf("iam deny: %d %s", resp.StatusCode, body)
	}
	if _, body := call("us-east-1", "iam", "Action=GetRole&RoleName=public&Version=2010-05-08"); body != "ok" {
		t.Errorf("unmatched iam call was not forwarded: %s", body)
	}
	if got := p.Injected(); got["lambda:ListFunctions throttle"] != 1 || got["iam:GetRole deny"] != 1 {
		t.Errorf("injected = %v", got)
	}
	if _, err := Start("http://10.0.0.1:80", 1); err == nil {
		t.Error("the proxy must refuse a target off loopback")
	}
}
