package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// LambdaAPI is the part of the Lambda client the collector uses.
type LambdaAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	ListFunctions(ctx context.Context, in *lambda.ListFunctionsInput, opts ...func(*lambda.Options)) (*lambda.ListFunctionsOutput, error)
	ListEventSourceMappings(ctx context.Context, in *lambda.ListEventSourceMappingsInput, opts ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error)
}

// IAMAPI is the part of the IAM client the collector uses: read-only calls.
type IAMAPI interface {
	GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, opts ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error)
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, opts ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	GetPolicy(ctx context.Context, in *iam.GetPolicyInput, opts ...func(*iam.Options)) (*iam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *iam.GetPolicyVersionInput, opts ...func(*iam.Options)) (*iam.GetPolicyVersionOutput, error)
}

// RegionAPI lists the regions enabled for the account.
type RegionAPI interface {
	DescribeRegions(ctx context.Context, in *ec2.DescribeRegionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeRegionsOutput, error)
}

// IAMStrategy is how role data is read.
type IAMStrategy string

const (
	// StrategyBulk reads every role and customer managed policy with
	// GetAccountAuthorizationDetails (up to 1,000 items a call), in parallel
	// with the function listing. Calls grow with pages, not with roles.
	StrategyBulk IAMStrategy = "bulk"
	// StrategyPerRole makes the seed procedure's per-role calls. Used when
	// the bulk call is denied, and available for comparison.
	StrategyPerRole IAMStrategy = "per-role"
)

// Live collects an account through the AWS APIs.
type Live struct {
	Lambda  func(region string) LambdaAPI
	IAM     IAMAPI
	Regions RegionAPI
	// Strategy defaults to StrategyBulk.
	Strategy IAMStrategy
	// IAMConcurrency bounds concurrent per-role and per-policy IAM calls.
	IAMConcurrency int
	// SkipMappings leaves event source mappings unread (they only feed the
	// remediation plan).
	SkipMappings bool
	Logger       *slog.Logger
	// OnIAMRead, when set, is called once the bulk IAM read and the early
	// policy fetch are done, while functions may still be being listed,
	// with the roles Lambda can assume and the managed policies read so far.
	// It runs before Collect returns; it must not change what it is given.
	OnIAMRead func(roles map[string]*Role, policies map[string]*ManagedPolicy)
}

// ListRegions returns the regions enabled for the account.
func (l *Live) ListRegions(ctx context.Context) ([]string, error) {
	out, err := l.Regions.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
	if err != nil {
		return nil, fmt.Errorf("list enabled regions: %w", err)
	}
	var regions []string
	for _, r := range out.Regions {
		if name := aws.ToString(r.RegionName); name != "" {
			regions = append(regions, name)
		}
	}
	sort.Strings(regions)
	if len(regions) == 0 {
		return nil, errors.New("list enabled regions: the account has none")
	}
	return regions, nil
}

// Collect lists functions in every region and reads the roles they use.
// Failures in one region or for one role become Problems on the account and
// the rest is still collected; only a failure to know which regions to
// audit is returned as an error.
//
// The critical path is the longest chain of sequential ListFunctions pages
// in one region. Everything else runs beside it: the bulk IAM read starts
// first (it depends on nothing), and the AWS-managed policies attached to
// roles that Lambda can assume are fetched as soon as it ends.
func (l *Live) Collect(ctx context.Context, regions []string) (*Account, error) {
	log := l.logger()
	acct := &Account{
		Source:   "live",
		Roles:    map[string]*Role{},
		Policies: map[string]*ManagedPolicy{},
		Mappings: map[string][]EventSourceMapping{},
	}
	var mu sync.Mutex
	addProblem := func(p Problem) {
		mu.Lock()
		acct.Problems = append(acct.Problems, p)
		mu.Unlock()
	}

	var bulk *bulkIAM
	var bulkErr error
	var prefetched map[string]policyResult
	iamDone := make(chan struct{})
	if l.strategy() == StrategyBulk {
		go func() {
			defer close(iamDone)
			if bulk, bulkErr = l.readBulk(ctx); bulkErr == nil {
				prefetched = l.fetchPolicies(ctx, bulk.lambdaAWSManaged())
				if l.OnIAMRead != nil {
					l.OnIAMRead(bulk.lambdaView(prefetched))
				}
			}
		}()
	} else {
		close(iamDone)
	}

	if len(regions) == 0 {
		var err error
		if regions, err = l.ListRegions(ctx); err != nil {
			<-iamDone
			return nil, err
		}
	}

	var wg sync.WaitGroup
	for _, region := range regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Mappings only feed remediation plans; list them beside the
			// functions rather than after.
			var maps []EventSourceMapping
			var mapsErr error
			mapsDone := make(chan struct{})
			if l.SkipMappings {
				close(mapsDone)
			} else {
				go func() {
					defer close(mapsDone)
					maps, mapsErr = l.listMappings(ctx, region)
				}()
			}
			fns, err := l.listFunctions(ctx, region)
			<-mapsDone
			if err != nil {
				addProblem(Problem{Region: region, Operation: "lambda:ListFunctions", Message: describeAPIError(err)})
				log.Warn("region failed", "region", region, "error", err)
				return
			}
			if mapsErr != nil {
				log.Warn("event source mappings unread", "region", region, "error", mapsErr)
			}
			mu.Lock()
			acct.Functions = append(acct.Functions, fns...)
			acct.Regions = append(acct.Regions, region)
			if !l.SkipMappings && mapsErr == nil {
				acct.Mappings[region] = maps
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	<-iamDone

	roleARNs := acct.RoleARNs()
	if l.strategy() == StrategyBulk && bulkErr == nil {
		for _, arn := range roleARNs {
			if r, ok := bulk.roles[arn]; ok {
				acct.Roles[arn] = r
			} else {
				acct.Roles[arn] = &Role{ARN: arn, Name: RoleNameFromARN(arn), Missing: true}
			}
		}
	} else {
		if bulkErr != nil {
			log.Warn("bulk IAM read failed; reading roles one by one", "error", bulkErr)
		}
		l.readRoles(ctx, roleARNs, acct, addProblem)
	}

	// Managed policies: each distinct one once, however many roles use it.
	needed := map[string]bool{}
	for _, r := range acct.Roles {
		for _, p := range r.AttachedPolicyARNs {
			needed[p] = true
		}
		if r.BoundaryARN != "" {
			needed[r.BoundaryARN] = true
		}
	}
	results := map[string]policyResult{}
	var toFetch []string
	for arn := range needed {
		switch {
		case bulk != nil && bulk.policies[arn] != nil:
			results[arn] = policyResult{policy: bulk.policies[arn]}
		case prefetched != nil && (prefetched[arn].policy != nil || prefetched[arn].problem != nil):
			results[arn] = prefetched[arn]
		default:
			toFetch = append(toFetch, arn)
		}
	}
	for arn, r := range l.fetchPolicies(ctx, toFetch) {
		results[arn] = r
	}
	for arn, r := range results {
		if r.policy != nil {
			acct.Policies[arn] = r.policy
		} else if r.problem != nil {
			acct.Problems = append(acct.Problems, *r.problem)
		}
	}

	acct.normalize()
	return acct, nil
}

func (l *Live) strategy() IAMStrategy {
	if l.Strategy == "" {
		return StrategyBulk
	}
	return l.Strategy
}

func (l *Live) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.Logger
}

func (l *Live) iamConcurrency() int {
	if l.IAMConcurrency <= 0 {
		return 8
	}
	return l.IAMConcurrency
}

func (l *Live) listFunctions(ctx context.Context, region string) ([]Function, error) {
	client := l.Lambda(region)
	var out []Function
	in := &lambda.ListFunctionsInput{MaxItems: aws.Int32(50)}
	for {
		page, err := client.ListFunctions(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list functions in %s: %w", region, err)
		}
		for _, f := range page.Functions {
			out = append(out, functionFromAPI(f, region))
		}
		marker := aws.ToString(page.NextMarker)
		if marker == "" {
			return out, nil
		}
		if in.Marker != nil && *in.Marker == marker {
			return nil, fmt.Errorf("list functions in %s: the service returned the same marker twice", region)
		}
		in = &lambda.ListFunctionsInput{MaxItems: aws.Int32(50), Marker: aws.String(marker)}
	}
}

func (l *Live) listMappings(ctx context.Context, region string) ([]EventSourceMapping, error) {
	client := l.Lambda(region)
	var out []EventSourceMapping
	in := &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(100)}
	for {
		page, err := client.ListEventSourceMappings(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list event source mappings in %s: %w", region, err)
		}
		for _, m := range page.EventSourceMappings {
			out = append(out, mappingFromAPI(m))
		}
		marker := aws.ToString(page.NextMarker)
		if marker == "" {
			return out, nil
		}
		in = &lambda.ListEventSourceMappingsInput{MaxItems: aws.Int32(100), Marker: aws.String(marker)}
	}
}

// Function reads one function's configuration and event source mappings
// (mappingsRead is false when they could not be listed).
func (l *Live) Function(ctx context.Context, arn string) (fn Function, mappings []EventSourceMapping, mappingsRead bool, err error) {
	region := arnRegion(arn)
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":function:") || !ValidRegion(region) {
		return Function{}, nil, false, fmt.Errorf("%q is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)", arn)
	}
	client := l.Lambda(region)
	out, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)})
	if err != nil {
		return Function{}, nil, false, fmt.Errorf("get function %s: %w", arn, err)
	}
	if out.Configuration == nil {
		return Function{}, nil, false, fmt.Errorf("get function %s: no configuration returned", arn)
	}
	fn = functionFromAPI(*out.Configuration, region)
	// By name: Lambda accepts a name or an ARN here, and some emulators
	// only a name. The client is bound to the function's region.
	in := &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(fn.Name)}
	for {
		page, err := client.ListEventSourceMappings(ctx, in)
		if err != nil {
			l.logger().Warn("event source mappings unread", "function", arn, "error", err)
			return fn, nil, false, nil
		}
		for _, m := range page.EventSourceMappings {
			if arn := aws.ToString(m.FunctionArn); arn != fn.ARN && arn != fn.ARN+":$LATEST" {
				continue
			}
			mappings = append(mappings, mappingFromAPI(m))
		}
		if aws.ToString(page.NextMarker) == "" {
			return fn, mappings, true, nil
		}
		in = &lambda.ListEventSourceMappingsInput{FunctionName: aws.String(fn.Name), Marker: page.NextMarker}
	}
}

// mappingFromAPI converts an SDK event source mapping. Self-managed Kafka
// has a source but no source ARN.
func mappingFromAPI(m lambdatypes.EventSourceMappingConfiguration) EventSourceMapping {
	return EventSourceMapping{
		UUID:             aws.ToString(m.UUID),
		FunctionARN:      aws.ToString(m.FunctionArn),
		EventSourceARN:   aws.ToString(m.EventSourceArn),
		SelfManagedKafka: m.EventSourceArn == nil && m.SelfManagedEventSource != nil,
	}
}

func functionFromAPI(f lambdatypes.FunctionConfiguration, region string) Function {
	fn := Function{
		ARN:       aws.ToString(f.FunctionArn),
		Name:      aws.ToString(f.FunctionName),
		Region:    region,
		RoleARN:   aws.ToString(f.Role),
		KMSKeyARN: aws.ToString(f.KMSKeyArn),
	}
	if f.VpcConfig != nil && len(f.VpcConfig.SubnetIds) > 0 {
		fn.SubnetIDs = append([]string(nil), f.VpcConfig.SubnetIds...)
	}
	if f.TracingConfig != nil {
		fn.TracingMode = string(f.TracingConfig.Mode)
	}
	if f.DeadLetterConfig != nil {
		fn.DeadLetter = aws.ToString(f.DeadLetterConfig.TargetArn)
	}
	for _, layer := range f.Layers {
		fn.LayerARNs = append(fn.LayerARNs, aws.ToString(layer.Arn))
	}
	for _, fs := range f.FileSystemConfigs {
		fn.FileSystems = append(fn.FileSystems, FileSystem{ARN: aws.ToString(fs.Arn), LocalMountPath: aws.ToString(fs.LocalMountPath)})
	}
	return fn
}

type bulkIAM struct {
	roles    map[string]*Role
	policies map[string]*ManagedPolicy
	// lambdaRoles are the roles whose trust policy names Lambda: the only
	// ones a function can use.
	lambdaRoles map[string]bool
}

// lambdaView is what the bulk read knows of the roles Lambda can assume:
// those roles, and every managed policy read so far.
func (b *bulkIAM) lambdaView(prefetched map[string]policyResult) (map[string]*Role, map[string]*ManagedPolicy) {
	roles := make(map[string]*Role, len(b.lambdaRoles))
	for arn := range b.lambdaRoles {
		roles[arn] = b.roles[arn]
	}
	policies := make(map[string]*ManagedPolicy, len(b.policies)+len(prefetched))
	for arn, p := range b.policies {
		policies[arn] = p
	}
	for arn, r := range prefetched {
		if r.policy != nil {
			policies[arn] = r.policy
		}
	}
	return roles, policies
}

// lambdaAWSManaged lists the AWS-managed policies (absent from the bulk
// read) attached to roles Lambda can assume, to fetch them early.
func (b *bulkIAM) lambdaAWSManaged() []string {
	seen := map[string]bool{}
	var out []string
	for arn := range b.lambdaRoles {
		r := b.roles[arn]
		for _, p := range append(append([]string(nil), r.AttachedPolicyARNs...), r.BoundaryARN) {
			if p != "" && !seen[p] && b.policies[p] == nil {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// readBulk pages through GetAccountAuthorizationDetails for roles and
// customer managed policies. AWS-managed policies are left out on purpose:
// an account uses a few of them, and they are fetched one by one.
func (l *Live) readBulk(ctx context.Context) (*bulkIAM, error) {
	out := &bulkIAM{roles: map[string]*Role{}, policies: map[string]*ManagedPolicy{}, lambdaRoles: map[string]bool{}}
	in := &iam.GetAccountAuthorizationDetailsInput{
		Filter:   []iamtypes.EntityType{iamtypes.EntityTypeRole, iamtypes.EntityTypeLocalManagedPolicy},
		MaxItems: aws.Int32(1000),
	}
	for {
		page, err := l.IAM.GetAccountAuthorizationDetails(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("get account authorization details: %w", err)
		}
		for _, rd := range page.RoleDetailList {
			r := roleFromDetail(rd)
			out.roles[r.ARN] = r
			// The service name survives URL encoding unchanged.
			if strings.Contains(aws.ToString(rd.AssumeRolePolicyDocument), "lambda.amazonaws.com") {
				out.lambdaRoles[r.ARN] = true
			}
		}
		for _, p := range page.Policies {
			for _, v := range p.PolicyVersionList {
				if v.IsDefaultVersion {
					out.policies[aws.ToString(p.Arn)] = &ManagedPolicy{
						ARN: aws.ToString(p.Arn), Name: aws.ToString(p.PolicyName),
						DefaultVersionID: aws.ToString(v.VersionId), Document: jsonString(v.Document),
					}
				}
			}
		}
		if !page.IsTruncated || aws.ToString(page.Marker) == "" {
			return out, nil
		}
		in = &iam.GetAccountAuthorizationDetailsInput{Filter: in.Filter, MaxItems: in.MaxItems, Marker: page.Marker}
	}
}

func roleFromDetail(rd iamtypes.RoleDetail) *Role {
	r := &Role{ARN: aws.ToString(rd.Arn), Name: aws.ToString(rd.RoleName)}
	for _, p := range rd.RolePolicyList {
		r.Inline = append(r.Inline, InlinePolicy{Name: aws.ToString(p.PolicyName), Document: jsonString(p.PolicyDocument)})
	}
	for _, p := range rd.AttachedManagedPolicies {
		r.AttachedPolicyARNs = append(r.AttachedPolicyARNs, aws.ToString(p.PolicyArn))
	}
	if rd.PermissionsBoundary != nil {
		r.BoundaryARN = aws.ToString(rd.PermissionsBoundary.PermissionsBoundaryArn)
	}
	r.Tags = tagMap(rd.Tags)
	return r
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// jsonString keeps an API document (URL-encoded text) as a JSON string value,
// the form the policy package decodes.
func jsonString(s *string) json.RawMessage {
	b, _ := json.Marshal(aws.ToString(s)) // marshalling a string cannot fail
	return b
}

// readRoles reads each role with the per-role calls, a bounded number at a
// time. A role that cannot be read becomes a Problem, never a clean role.
func (l *Live) readRoles(ctx context.Context, arns []string, acct *Account, addProblem func(Problem)) {
	sem := make(chan struct{}, l.iamConcurrency())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			role, op, err := l.readRole(ctx, arn)
			if err != nil {
				addProblem(Problem{RoleARN: arn, Operation: op, Message: describeAPIError(err)})
				return
			}
			mu.Lock()
			acct.Roles[arn] = role
			mu.Unlock()
		}()
	}
	wg.Wait()
}

func (l *Live) readRole(ctx context.Context, arn string) (*Role, string, error) {
	name := RoleNameFromARN(arn)
	got, err := l.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return &Role{ARN: arn, Name: name, Missing: true}, "", nil
		}
		return nil, "iam:GetRole", fmt.Errorf("get role %s: %w", name, err)
	}
	role := &Role{ARN: arn, Name: name, Tags: tagMap(got.Role.Tags)}
	if got.Role.PermissionsBoundary != nil {
		role.BoundaryARN = aws.ToString(got.Role.PermissionsBoundary.PermissionsBoundaryArn)
	}
	var marker *string
	for {
		page, err := l.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(name), Marker: marker})
		if err != nil {
			return nil, "iam:ListRolePolicies", fmt.Errorf("list inline policies of %s: %w", name, err)
		}
		for _, pn := range page.PolicyNames {
			doc, err := l.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)})
			if err != nil {
				return nil, "iam:GetRolePolicy", fmt.Errorf("get inline policy %s of %s: %w", pn, name, err)
			}
			role.Inline = append(role.Inline, InlinePolicy{Name: pn, Document: jsonString(doc.PolicyDocument)})
		}
		if !page.IsTruncated {
			break
		}
		marker = page.Marker
	}
	marker = nil
	for {
		page, err := l.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name), Marker: marker})
		if err != nil {
			return nil, "iam:ListAttachedRolePolicies", fmt.Errorf("list attached policies of %s: %w", name, err)
		}
		for _, p := range page.AttachedPolicies {
			role.AttachedPolicyARNs = append(role.AttachedPolicyARNs, aws.ToString(p.PolicyArn))
		}
		if !page.IsTruncated {
			break
		}
		marker = page.Marker
	}
	return role, "", nil
}

type policyResult struct {
	policy  *ManagedPolicy
	problem *Problem
}

// fetchPolicies reads the default version of each managed policy, a
// bounded number at a time. A policy that cannot be read comes back as a
// Problem; the audit then falls back to the well-known table or marks the
// roles using it unevaluated.
func (l *Live) fetchPolicies(ctx context.Context, arns []string) map[string]policyResult {
	out := make(map[string]policyResult, len(arns))
	sem := make(chan struct{}, l.iamConcurrency())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, arn := range arns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			mp, op, err := l.readPolicy(ctx, arn)
			r := policyResult{policy: mp}
			if err != nil {
				r = policyResult{problem: &Problem{PolicyARN: arn, Operation: op, Message: describeAPIError(err)}}
			}
			mu.Lock()
			out[arn] = r
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (l *Live) readPolicy(ctx context.Context, arn string) (*ManagedPolicy, string, error) {
	p, err := l.IAM.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})
	if err != nil {
		return nil, "iam:GetPolicy", fmt.Errorf("get policy %s: %w", arn, err)
	}
	version := aws.ToString(p.Policy.DefaultVersionId)
	v, err := l.IAM.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn), VersionId: aws.String(version)})
	if err != nil {
		return nil, "iam:GetPolicyVersion", fmt.Errorf("get policy %s version %s: %w", arn, version, err)
	}
	return &ManagedPolicy{ARN: arn, Name: aws.ToString(p.Policy.PolicyName), DefaultVersionID: version, Document: jsonString(v.PolicyVersion.Document)}, "", nil
}

// describeAPIError renders an SDK error for a report: the service's error
// code and message when there is one, and a plain note when the audit ran
// out of time.
func describeAPIError(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return "skipped: the audit ran out of time (" + err.Error() + ")"
	}
	prefix := ""
	var gaveUp *retry.MaxAttemptsError
	if errors.As(err, &gaveUp) {
		prefix = fmt.Sprintf("gave up after %d attempts: ", gaveUp.Attempt)
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		msg := apiErr.ErrorCode()
		if m := apiErr.ErrorMessage(); m != "" {
			msg += ": " + m
		}
		return prefix + msg
	}
	if gaveUp != nil {
		return prefix + gaveUp.Err.Error()
	}
	return err.Error()
}
