// Package faultproxy is a reverse proxy for tests: it sits between the AWS
// SDK and a local AWS emulator (moto) on loopback and, per service,
// operation or region, injects latency, throttling errors in the service's
// own wire format, 5xx responses, connection resets and access-denied
// errors. It only ever listens on, and forwards to, loopback addresses.
package faultproxy

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Fault is what a rule does to a matching request.
type Fault string

const (
	Throttle    Fault = "throttle"     // the service's throttling error
	ServerError Fault = "server-error" // 500 or 503
	Reset       Fault = "reset"        // close the connection without an answer
	Deny        Fault = "deny"         // the service's access-denied error
	NotEnabled  Fault = "not-enabled"  // what a region not enabled for the account answers
	Delay       Fault = "delay"        // only the latency, then forward
	// NotSubscribed is what Security Hub answers in an account and region
	// where it is not enabled (moto accepts findings regardless).
	NotSubscribed Fault = "not-subscribed"
)

// Rule matches requests and injects a fault into a share of them.
type Rule struct {
	Service   string // e.g. "lambda", "iam", "ec2", "sns"; "" matches any
	Operation string // e.g. "ListFunctions"; "" matches any
	Region    string // "" matches any
	// Contains, when set, must occur in the request's path, query or body
	// (for instance "RoleName=payments-role").
	Contains    string
	Fault       Fault
	Probability float64 // 0 means always
	Latency     time.Duration
}

// Request is what the proxy knows of one call.
type Request struct {
	Service, Operation, Region string
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	URL    string
	target *url.URL
	server *httptest.Server
	rp     *httputil.ReverseProxy

	mu       sync.Mutex
	rules    []Rule
	rng      *rand.Rand
	injected map[string]int
	seen     map[string]int
	// budget, when positive, is how many faults one call (the same method,
	// path, query and body: a call and its retries) can draw in all; spent
	// counts them. With a budget below the client's retry limit, random
	// faults slow calls down but can never make one fail, whatever order
	// concurrent calls draw the random numbers in.
	budget int
	spent  map[string]int
	// served are operations the proxy answers itself (what the target
	// does not serve), by "service:Operation", after the fault rules.
	served map[string]http.Handler
}

// Serve answers one operation with h instead of forwarding it (faults
// still apply first): for an operation the target does not implement.
func (p *Proxy) Serve(service, operation string, h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.served == nil {
		p.served = map[string]http.Handler{}
	}
	p.served[service+":"+operation] = h
}

// Start proxies to target, which must be a loopback URL.
func Start(target string, seed uint64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("faultproxy only forwards to loopback, not %s", u.Host)
	}
	p := &Proxy{target: u, rng: rand.New(rand.NewPCG(seed, seed+1)), injected: map[string]int{}, seen: map[string]int{}, spent: map[string]int{}}
	p.rp = httputil.NewSingleHostReverseProxy(u)
	p.server = httptest.NewServer(p)
	p.URL = p.server.URL
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.server.Close() }

// SetRules replaces the rules and resets the fault budgets. Each request
// goes down the list: the first rule that matches it and wins its
// probability roll applies.
func (p *Proxy) SetRules(rules ...Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = rules
	p.spent = map[string]int{}
}

// SetFaultBudget caps the faults one call and its retries can draw (0: no
// cap), from now on.
func (p *Proxy) SetFaultBudget(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.budget = n
	p.spent = map[string]int{}
}

// Injected counts injected faults by "service:Operation fault".
func (p *Proxy) Injected() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.injected)
}

// Seen counts proxied requests by "service:Operation".
func (p *Proxy) Seen() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.seen)
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := Identify(r, body)

	p.mu.Lock()
	p.seen[req.Service+":"+req.Operation]++
	call := r.Method + " " + r.URL.RequestURI() + "\x00" + string(body)
	var rule *Rule
	for i := range p.rules {
		if p.budget > 0 && p.spent[call] >= p.budget {
			break
		}
		if p.rules[i].matches(req, r, body) && (p.rules[i].Probability == 0 || p.rng.Float64() < p.rules[i].Probability) {
			rule = &p.rules[i]
			break
		}
	}
	if rule != nil && p.budget > 0 {
		p.spent[call]++
	}
	var status int
	if rule != nil {
		p.injected[req.Service+":"+req.Operation+" "+string(rule.Fault)]++
		status = []int{500, 503}[p.rng.IntN(2)]
	}
	p.mu.Unlock()

	if rule == nil {
		p.mu.Lock()
		h := p.served[req.Service+":"+req.Operation]
		p.mu.Unlock()
		if h != nil {
			h.ServeHTTP(w, r)
			return
		}
		p.rp.ServeHTTP(w, r)
		return
	}
	if rule.Latency > 0 {
		select {
		case <-time.After(rule.Latency):
		case <-r.Context().Done():
			return
		}
	}
	switch rule.Fault {
	case Delay:
		p.rp.ServeHTTP(w, r)
	case Reset:
		resetConnection(w)
	case Throttle:
		writeThrottle(w, req)
	case ServerError:
		writeServerError(w, req, status)
	case Deny:
		writeDenied(w, req)
	case NotEnabled:
		writeNotEnabled(w, req)
	case NotSubscribed:
		restJSONError(w, http.StatusUnauthorized, "InvalidAccessException", "Account is not subscribed to AWS Security Hub")
	}
}

func (rule *Rule) matches(req Request, r *http.Request, body []byte) bool {
	if rule.Service != "" && rule.Service != req.Service {
		return false
	}
	if rule.Operation != "" && rule.Operation != req.Operation {
		return false
	}
	if rule.Region != "" && rule.Region != req.Region {
		return false
	}
	if rule.Contains != "" && !strings.Contains(r.URL.Path+"?"+r.URL.RawQuery+" "+string(body), rule.Contains) {
		return false
	}
	return true
}

// Identify reads the service and region from the SigV4 credential scope,
// and the operation from the protocol: the Action form field (query
// protocols), the X-Amz-Target header (JSON protocols) or the REST path.
func Identify(r *http.Request, body []byte) Request {
	req := Request{Region: "us-east-1"}
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		req.Region, req.Service = m[1], m[2]
	}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		req.Operation = target[strings.LastIndex(target, ".")+1:]
		return req
	}
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		req.Operation = form.Get("Action")
		return req
	}
	switch req.Service {
	case "lambda":
		req.Operation = lambdaOperation(r.Method, r.URL.Path)
	case "securityhub":
		req.Operation = map[string]string{"/findings": "GetFindings", "/findings/import": "BatchImportFindings"}[r.URL.Path]
		if req.Operation == "" {
			req.Operation = r.Method + " " + r.URL.Path
		}
	}
	return req
}

func lambdaOperation(method, path string) string {
	p := strings.TrimPrefix(path, "/2015-03-31/")
	switch {
	case strings.HasPrefix(p, "functions") && strings.Count(strings.Trim(p, "/"), "/") == 0:
		if method == http.MethodPost {
			return "CreateFunction"
		}
		return "ListFunctions"
	case strings.HasPrefix(p, "event-source-mappings"):
		if method == http.MethodPost {
			return "CreateEventSourceMapping"
		}
		return "ListEventSourceMappings"
	case strings.HasSuffix(p, "/configuration") && method == http.MethodPut:
		return "UpdateFunctionConfiguration"
	case strings.HasPrefix(p, "functions/") && method == http.MethodGet:
		return "GetFunction"
	}
	return method + " " + path
}

// service protocols, by SigV4 signing name.
func protocol(service string) string {
	switch service {
	case "lambda", "securityhub":
		return "rest-json"
	case "ssm", "sqs", "kms", "cloudtrail":
		return "json"
	case "ec2":
		return "ec2"
	}
	return "query" // iam, sns, sts
}

func writeThrottle(w http.ResponseWriter, req Request) {
	switch protocol(req.Service) {
	case "rest-json":
		restJSONError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate exceeded")
	case "json":
		jsonError(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
	case "ec2":
		ec2Error(w, http.StatusServiceUnavailable, "RequestLimitExceeded", "Request limit exceeded.")
	default:
		queryError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
	}
}

func writeServerError(w http.ResponseWriter, req Request, status int) {
	code := map[int]string{500: "InternalFailure", 503: "ServiceUnavailable"}[status]
	switch protocol(req.Service) {
	case "rest-json":
		restJSONError(w, status, "ServiceException", "injected server error")
	case "json":
		jsonError(w, status, code, "injected server error")
	case "ec2":
		ec2Error(w, status, code, "injected server error")
	default:
		queryError(w, status, code, "injected server error")
	}
}

func writeDenied(w http.ResponseWriter, req Request) {
	msg := fmt.Sprintf("User: arn:aws:sts::123456789012:assumed-role/lambda-role-audit/audit is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action", req.Service, req.Operation, req.Service, req.Operation)
	switch protocol(req.Service) {
	case "rest-json":
		restJSONError(w, http.StatusForbidden, "AccessDeniedException", msg)
	case "json":
		jsonError(w, http.StatusBadRequest, "AccessDeniedException", msg)
	case "ec2":
		ec2Error(w, http.StatusForbidden, "UnauthorizedOperation", msg)
	default:
		code := "AccessDenied"
		if req.Service == "sns" {
			code = "AuthorizationError"
		}
		queryError(w, http.StatusForbidden, code, msg)
	}
}

// writeNotEnabled answers as AWS does in a region the account has not
// opted in to: the credentials are not recognised there.
func writeNotEnabled(w http.ResponseWriter, req Request) {
	const msg = "The security token included in the request is invalid."
	switch protocol(req.Service) {
	case "rest-json":
		restJSONError(w, http.StatusForbidden, "UnrecognizedClientException", msg)
	case "json":
		jsonError(w, http.StatusBadRequest, "UnrecognizedClientException", msg)
	case "ec2":
		ec2Error(w, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	default:
		queryError(w, http.StatusForbidden, "InvalidClientTokenId", msg)
	}
}

func restJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"Type":"User","message":%q}`, msg)
}

func jsonError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>0</RequestId></ErrorResponse>`, code, xmlText(msg))
}

func ec2Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>0</RequestID></Response>`, code, xmlText(msg))
}

func xmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// resetConnection drops the TCP connection with a reset, as a failing
// network path or load balancer would.
func resetConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot reset", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}
