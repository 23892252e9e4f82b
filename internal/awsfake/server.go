package awsfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits are a service's throttle: a token bucket refilled at Rate per
// second holding at most Burst tokens. Zero Rate disables throttling.
type Limits struct {
	Rate  float64
	Burst float64
}

// Options configure a server.
type Options struct {
	// Latency is added to every call, throttled or not.
	Latency time.Duration
	// Lambda is per region (AWS throttles the control plane per region);
	// IAM is for the whole account; EC2 per region.
	Lambda, IAM, EC2 Limits
	// PageSize caps ListFunctions pages (Lambda's own cap is 50).
	PageSize int
	// IAMPageSize, when set, caps GetAccountAuthorizationDetails pages below
	// the caller's MaxItems, so small accounts still take several pages.
	IAMPageSize int
}

// Server serves an Account.
type Server struct {
	URL  string
	opts Options
	acct *Account
	http *httptest.Server

	// Pre-rendered per region: each function's JSON, in name order.
	functionJSON map[string][][]byte
	functionByID map[string][]byte // region/name → JSON
	roles        map[string]*Role
	policies     map[string]*Policy

	// encoded caches URL-encoded documents: the server's own CPU should
	// not weigh on what a benchmark measures of the client.
	encoded sync.Map

	mu      sync.Mutex
	buckets map[string]*bucket
	calls   map[string]int
	thrott  atomic.Int64
}

// Start serves acct on a loopback port until Close.
func Start(acct *Account, opts Options) *Server {
	if opts.PageSize <= 0 || opts.PageSize > 50 {
		opts.PageSize = 50
	}
	s := &Server{opts: opts, acct: acct, buckets: map[string]*bucket{}, calls: map[string]int{},
		functionJSON: map[string][][]byte{}, functionByID: map[string][]byte{}, roles: map[string]*Role{}, policies: map[string]*Policy{}}
	for region, fns := range acct.Functions {
		for _, f := range fns {
			b := s.renderFunction(region, f)
			s.functionJSON[region] = append(s.functionJSON[region], b)
			s.functionByID[region+"/"+f.Name] = b
		}
	}
	for i := range acct.Roles {
		s.roles[strings.ToLower(acct.Roles[i].Name)] = &acct.Roles[i]
	}
	for i := range acct.Policies {
		s.policies[acct.Policies[i].ARN] = &acct.Policies[i]
	}
	s.http = httptest.NewServer(s)
	s.URL = s.http.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Stats is what the server saw.
type Stats struct {
	Calls     map[string]int // by "service:Operation"
	Total     int
	Throttled int
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Calls: map[string]int{}, Throttled: int(s.thrott.Load())}
	for k, v := range s.calls {
		st.Calls[k] = v
		st.Total += v
	}
	return st
}

// ResetStats zeroes the counters and refills every bucket.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.buckets = map[string]*bucket{}
	s.thrott.Store(0)
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	region, service := "us-east-1", ""
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region, service = m[1], m[2]
	}
	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/2015-03-31/"):
		s.serveLambda(w, r, region)
	case service == "ec2" || service == "iam" || r.Method == http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("Version") == "2016-11-15" {
			s.serveEC2(w, r, region)
		} else {
			s.serveIAM(w, r)
		}
	default:
		http.Error(w, "unknown API", http.StatusNotFound)
	}
}

// admit counts a call and takes a token from its bucket.
func (s *Server) admit(op, bucketKey string, lim Limits) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	if lim.Rate <= 0 {
		return true
	}
	b, ok := s.buckets[bucketKey]
	if !ok {
		b = &bucket{tokens: lim.Burst, last: time.Now()}
		s.buckets[bucketKey] = b
	}
	if b.take(lim) {
		return true
	}
	s.thrott.Add(1)
	return false
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(lim Limits) bool {
	now := time.Now()
	b.tokens += now.Sub(b.last).Seconds() * lim.Rate
	if b.tokens > lim.Burst {
		b.tokens = lim.Burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ---- Lambda (REST-JSON) ----

func (s *Server) serveLambda(w http.ResponseWriter, r *http.Request, region string) {
	path := strings.TrimPrefix(r.URL.Path, "/2015-03-31/")
	var op string
	switch {
	case path == "functions/" || path == "functions":
		op = "ListFunctions"
	case path == "event-source-mappings/" || path == "event-source-mappings":
		op = "ListEventSourceMappings"
	case strings.HasPrefix(path, "functions/"):
		op = "GetFunction"
	default:
		lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "unknown path "+r.URL.Path)
		return
	}
	if !s.admit("lambda:"+op, "lambda/"+region, s.opts.Lambda) {
		w.Header().Set("X-Amzn-ErrorType", "TooManyRequestsException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"Reason":"CallerRateLimitExceeded","Type":"User","message":"Rate exceeded"}`)
		return
	}
	switch op {
	case "ListFunctions":
		s.listFunctions(w, r, region)
	case "ListEventSourceMappings":
		s.listMappings(w, r, region)
	case "GetFunction":
		name := strings.TrimPrefix(path, "functions/")
		if i := strings.LastIndex(name, ":"); i >= 0 {
			name = name[i+1:]
		}
		b, ok := s.functionByID[region+"/"+name]
		if !ok {
			lambdaError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+name)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"Configuration":%s,"Code":{"RepositoryType":"S3","Location":"https://example.invalid/code"}}`, b)
	}
}

func lambdaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"Type": "User", "message": msg})
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, region string) {
	all := s.functionJSON[region]
	start := 0
	if m := r.URL.Query().Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(all) {
			lambdaError(w, http.StatusBadRequest, "InvalidParameterValueException", "invalid Marker")
			return
		}
		start = n
	}
	size := s.opts.PageSize
	if v, err := strconv.Atoi(r.URL.Query().Get("MaxItems")); err == nil && v > 0 && v < size {
		size = v
	}
	end := min(start+size, len(all))
	var buf bytes.Buffer
	buf.WriteString(`{"Functions":[`)
	for i, b := range all[start:end] {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	buf.WriteByte(']')
	if end < len(all) {
		fmt.Fprintf(&buf, `,"NextMarker":"%d"`, end)
	}
	buf.WriteByte('}')
	w.Header().Set("Content-Type", "application/json")
	w.Write(buf.Bytes())
}

func (s *Server) listMappings(w http.ResponseWriter, r *http.Request, region string) {
	type mapping struct {
		UUID           string `json:"UUID"`
		FunctionArn    string `json:"FunctionArn"`
		EventSourceArn string `json:"EventSourceArn"`
		State          string `json:"State"`
	}
	var out []mapping
	for _, f := range s.acct.Functions[region] {
		for i, src := range f.Mappings {
			out = append(out, mapping{UUID: fmt.Sprintf("%s-%d", f.Name, i), FunctionArn: s.acct.FunctionARN(region, f.Name), EventSourceArn: src, State: "Enabled"})
		}
	}
	start := 0
	if m := r.URL.Query().Get("Marker"); m != "" {
		start, _ = strconv.Atoi(m)
		start = max(0, min(start, len(out)))
	}
	end := min(start+100, len(out))
	resp := map[string]any{"EventSourceMappings": out[start:end]}
	if end < len(out) {
		resp["NextMarker"] = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (s *Server) renderFunction(region string, f Function) []byte {
	roleARN := f.RoleARN
	if roleARN == "" {
		roleARN = s.acct.RoleARN(f.Role)
	}
	cfg := map[string]any{
		"FunctionName": f.Name, "FunctionArn": s.acct.FunctionARN(region, f.Name), "Role": roleARN,
		"Runtime": "python3.12", "Handler": "index.handler", "CodeSize": 1024, "Description": "", "Timeout": 30,
		"MemorySize": 256, "LastModified": "2026-01-01T00:00:00.000+0000", "CodeSha256": "aGFzaA==", "Version": "$LATEST",
		"TracingConfig": map[string]string{"Mode": "PassThrough"}, "PackageType": "Zip", "Architectures": []string{"arm64"},
		"EphemeralStorage": map[string]int{"Size": 512}, "LoggingConfig": map[string]string{"LogFormat": "Text", "LogGroup": "/aws/lambda/" + f.Name},
	}
	if f.Tracing {
		cfg["TracingConfig"] = map[string]string{"Mode": "Active"}
	}
	if len(f.Subnets) > 0 {
		cfg["VpcConfig"] = map[string]any{"SubnetIds": f.Subnets, "SecurityGroupIds": []string{"sg-0123456789abcdef0"}, "VpcId": "vpc-0123456789abcdef0"}
	}
	b, _ := json.Marshal(cfg)
	return b
}

// ---- IAM (query/XML) ----

const iamNS = "https://iam.amazonaws.com/doc/2010-05-08/"

func (s *Server) serveIAM(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	op := form.Get("Action")
	if !s.admit("iam:"+op, "iam", s.opts.IAM) {
		queryError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
		return
	}
	var role *Role
	switch op {
	case "GetRole", "ListRolePolicies", "GetRolePolicy", "ListAttachedRolePolicies":
		var ok bool
		// IAM finds a role by name whatever its case.
		if role, ok = s.roles[strings.ToLower(form.Get("RoleName"))]; !ok {
			queryError(w, http.StatusNotFound, "NoSuchEntity", "The role with name "+form.Get("RoleName")+" cannot be found.")
			return
		}
	}
	var body bytes.Buffer
	switch op {
	case "GetAccountAuthorizationDetails":
		if !s.gaad(&body, form) {
			queryError(w, http.StatusBadRequest, "ValidationError", "invalid Marker")
			return
		}
	case "GetRole":
		body.WriteString("<Role>")
		s.writeRoleHead(&body, role)
		body.WriteString("</Role>")
	case "ListRolePolicies":
		body.WriteString("<IsTruncated>false</IsTruncated><PolicyNames>")
		for _, p := range role.Inline {
			elem(&body, "member", p.Name)
		}
		body.WriteString("</PolicyNames>")
	case "GetRolePolicy":
		found := false
		for _, p := range role.Inline {
			if p.Name == form.Get("PolicyName") {
				elem(&body, "RoleName", role.Name)
				elem(&body, "PolicyName", p.Name)
				elem(&body, "PolicyDocument", s.encodeDoc(p.Doc))
				found = true
			}
		}
		if !found {
			queryError(w, http.StatusNotFound, "NoSuchEntity", "policy not found")
			return
		}
	case "ListAttachedRolePolicies":
		body.WriteString("<IsTruncated>false</IsTruncated><AttachedPolicies>")
		for _, arn := range role.Attached {
			fmt.Fprintf(&body, "<member><PolicyArn>%s</PolicyArn><PolicyName>%s</PolicyName></member>", esc(arn), esc(arn[strings.LastIndex(arn, "/")+1:]))
		}
		body.WriteString("</AttachedPolicies>")
	case "GetPolicy":
		p, ok := s.policies[form.Get("PolicyArn")]
		if !ok {
			queryError(w, http.StatusNotFound, "NoSuchEntity", "Policy "+form.Get("PolicyArn")+" does not exist.")
			return
		}
		fmt.Fprintf(&body, "<Policy><PolicyName>%s</PolicyName><Arn>%s</Arn><DefaultVersionId>v%d</DefaultVersionId><AttachmentCount>1</AttachmentCount><IsAttachable>true</IsAttachable></Policy>",
			esc(p.Name), esc(p.ARN), p.Default+1)
	case "GetPolicyVersion":
		p, ok := s.policies[form.Get("PolicyArn")]
		n, err := strconv.Atoi(strings.TrimPrefix(form.Get("VersionId"), "v"))
		if !ok || err != nil || n < 1 || n > len(p.Versions) {
			queryError(w, http.StatusNotFound, "NoSuchEntity", "version not found")
			return
		}
		fmt.Fprintf(&body, "<PolicyVersion><Document>%s</Document><VersionId>v%d</VersionId><IsDefaultVersion>%v</IsDefaultVersion></PolicyVersion>",
			esc(s.encodeDoc(p.Versions[n-1])), n, n-1 == p.Default)
	default:
		queryError(w, http.StatusBadRequest, "InvalidAction", "unsupported action "+op)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s"><%sResult>`, op, iamNS, op)
	w.Write(body.Bytes())
	fmt.Fprintf(w, `</%sResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></%sResponse>`, op, op)
}

// gaad serves GetAccountAuthorizationDetails: roles first, then customer
// managed policies, MaxItems (at most 1,000) items a page, the Marker being
// the index of the next item.
func (s *Server) gaad(body *bytes.Buffer, form url.Values) bool {
	filters := map[string]bool{}
	for k, v := range form {
		if strings.HasPrefix(k, "Filter.member.") {
			filters[v[0]] = true
		}
	}
	all := len(filters) == 0
	var roles []*Role
	if all || filters["Role"] {
		for i := range s.acct.Roles {
			roles = append(roles, &s.acct.Roles[i])
		}
	}
	var policies []*Policy
	for i := range s.acct.Policies {
		p := &s.acct.Policies[i]
		aws := strings.Contains(p.ARN, ":iam::aws:")
		if all || (aws && filters["AWSManagedPolicy"]) || (!aws && filters["LocalManagedPolicy"]) {
			policies = append(policies, p)
		}
	}
	maxItems := 100
	if v, err := strconv.Atoi(form.Get("MaxItems")); err == nil && v > 0 {
		maxItems = min(v, 1000)
	}
	if s.opts.IAMPageSize > 0 {
		maxItems = min(maxItems, s.opts.IAMPageSize)
	}
	start := 0
	if m := form.Get("Marker"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 0 || n > len(roles)+len(policies) {
			return false
		}
		start = n
	}
	end := min(start+maxItems, len(roles)+len(policies))
	fmt.Fprintf(body, "<IsTruncated>%v</IsTruncated>", end < len(roles)+len(policies))
	if end < len(roles)+len(policies) {
		elem(body, "Marker", strconv.Itoa(end))
	}
	body.WriteString("<UserDetailList/><GroupDetailList/><RoleDetailList>")
	for i := start; i < end && i < len(roles); i++ {
		r := roles[i]
		body.WriteString("<member>")
		s.writeRoleHead(body, r)
		body.WriteString("<InstanceProfileList/><RolePolicyList>")
		for _, p := range r.Inline {
			fmt.Fprintf(body, "<member><PolicyName>%s</PolicyName><PolicyDocument>%s</PolicyDocument></member>", esc(p.Name), esc(s.encodeDoc(p.Doc)))
		}
		body.WriteString("</RolePolicyList><AttachedManagedPolicies>")
		for _, arn := range r.Attached {
			fmt.Fprintf(body, "<member><PolicyArn>%s</PolicyArn><PolicyName>%s</PolicyName></member>", esc(arn), esc(arn[strings.LastIndex(arn, "/")+1:]))
		}
		body.WriteString("</AttachedManagedPolicies></member>")
	}
	body.WriteString("</RoleDetailList><Policies>")
	for i := max(start, len(roles)); i < end; i++ {
		p := policies[i-len(roles)]
		fmt.Fprintf(body, "<member><PolicyName>%s</PolicyName><Arn>%s</Arn><DefaultVersionId>v%d</DefaultVersionId><PolicyVersionList>", esc(p.Name), esc(p.ARN), p.Default+1)
		for v, doc := range p.Versions {
			fmt.Fprintf(body, "<member><Document>%s</Document><VersionId>v%d</VersionId><IsDefaultVersion>%v</IsDefaultVersion></member>", esc(s.encodeDoc(doc)), v+1, v == p.Default)
		}
		body.WriteString("</PolicyVersionList></member>")
	}
	body.WriteString("</Policies>")
	return true
}

func (s *Server) writeRoleHead(body *bytes.Buffer, r *Role) {
	elem(body, "Path", "/")
	elem(body, "RoleName", r.Name)
	elem(body, "RoleId", "AROA"+strings.ToUpper(strconv.FormatUint(uint64(len(r.Name))*7919, 36)))
	elem(body, "Arn", s.acct.RoleARN(r.Name))
	elem(body, "CreateDate", "2026-01-01T00:00:00Z")
	elem(body, "AssumeRolePolicyDocument", s.encodeDoc(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`))
	if r.Boundary != "" {
		fmt.Fprintf(body, "<PermissionsBoundary><PermissionsBoundaryType>PermissionsBoundaryPolicy</PermissionsBoundaryType><PermissionsBoundaryArn>%s</PermissionsBoundaryArn></PermissionsBoundary>", esc(r.Boundary))
	}
}

// ---- EC2 (query/XML) ----

func (s *Server) serveEC2(w http.ResponseWriter, r *http.Request, region string) {
	op := r.PostForm.Get("Action")
	if !s.admit("ec2:"+op, "ec2/"+region, s.opts.EC2) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>0</RequestID></Response>`)
		return
	}
	if op != "DescribeRegions" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<Response><Errors><Error><Code>InvalidAction</Code><Message>%s</Message></Error></Errors><RequestID>0</RequestID></Response>`, esc(op))
		return
	}
	regions := append([]string(nil), s.acct.Regions...)
	sort.Strings(regions)
	var body bytes.Buffer
	body.WriteString(`<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>0</requestId><regionInfo>`)
	for _, rg := range regions {
		fmt.Fprintf(&body, "<item><regionName>%s</regionName><regionEndpoint>ec2.%s.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>", rg, rg)
	}
	body.WriteString("</regionInfo></DescribeRegionsResponse>")
	w.Header().Set("Content-Type", "text/xml")
	w.Write(body.Bytes())
}

func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>0</RequestId></ErrorResponse>`, iamNS, code, esc(msg))
}

// encodeDoc URL-encodes a document the way IAM does (RFC 3986: spaces as
// %20, never '+'), XML-escaped and cached.
func (s *Server) encodeDoc(doc string) string {
	if v, ok := s.encoded.Load(doc); ok {
		return v.(string)
	}
	e := strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
	s.encoded.Store(doc, e)
	return e
}

func elem(b *bytes.Buffer, name, value string) {
	fmt.Fprintf(b, "<%s>%s</%s>", name, esc(value), name)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func esc(s string) string { return xmlEscaper.Replace(s) }
