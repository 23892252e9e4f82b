package remediation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"lambda-role-audit/pkg/inventory"
)

// IAMAPI is what applying a plan needs from IAM: reads, and writes to the
// new role only.
type IAMAPI interface {
	GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, opts ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	AttachRolePolicy(ctx context.Context, in *iam.AttachRolePolicyInput, opts ...func(*iam.Options)) (*iam.AttachRolePolicyOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *iam.ListAttachedRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListAttachedRolePoliciesOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, opts ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
	ListRolePolicies(ctx context.Context, in *iam.ListRolePoliciesInput, opts ...func(*iam.Options)) (*iam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *iam.GetRolePolicyInput, opts ...func(*iam.Options)) (*iam.GetRolePolicyOutput, error)
}

// STSAPI tells whose credentials apply the plan.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// LambdaAPI is what applying a plan needs from Lambda.
type LambdaAPI interface {
	GetFunction(ctx context.Context, in *lambda.GetFunctionInput, opts ...func(*lambda.Options)) (*lambda.GetFunctionOutput, error)
	UpdateFunctionConfiguration(ctx context.Context, in *lambda.UpdateFunctionConfigurationInput, opts ...func(*lambda.Options)) (*lambda.UpdateFunctionConfigurationOutput, error)
}

// CreatedForTag marks roles this tool created, with the function's ARN.
const CreatedForTag = "lambda-role-audit:created-for"

// Applier carries a plan out. It creates (or reuses) the new role and
// switches the function to it; it never reads, modifies, detaches or
// deletes anything on the function's old role.
type Applier struct {
	IAM    IAMAPI
	Lambda LambdaAPI
	STS    STSAPI
	// Log receives one line per step.
	Log io.Writer
	// RoleReadyTimeout bounds the wait for IAM's eventual consistency (a
	// new role cannot be assumed by Lambda at once). Default two minutes.
	RoleReadyTimeout time.Duration
	// Poll is the interval between readiness checks. Default two seconds.
	Poll time.Duration
	// WithObserved also puts the plan's observed-usage policy (drafted
	// from CloudTrail) on the role: opt-in, as it is a draft to review.
	WithObserved bool
}

// ObservedPolicyName names the inline policy drafted from CloudTrail.
const ObservedPolicyName = "observed-usage"

// inlinePolicies are the inline policies the role gets, by name.
func (a *Applier) inlinePolicies(p Plan) (map[string]string, error) {
	out := map[string]string{}
	if p.HasInline() {
		out[p.InlinePolicyName] = string(p.InlinePolicy)
	}
	if a.WithObserved {
		switch {
		case len(p.ObservedPolicyParts) > 0:
			return nil, fmt.Errorf("the observed-usage policy of %s does not fit beside the role's inline policy (IAM allows 10,240 characters a role): create its %d parts as managed policies (plan --usage --format cli prints them) instead of --with-observed", p.FunctionName, len(p.ObservedPolicyParts))
		case len(p.ObservedPolicy) == 0:
			return nil, fmt.Errorf("--with-observed: the plan of %s has no observed-usage policy (no calls were observed)", p.FunctionName)
		}
		out[ObservedPolicyName] = string(p.ObservedPolicy)
	}
	return out, nil
}

// Apply carries out p. Running it again is harmless: a role that already
// matches the plan is reused, and a function already on it is left alone.
func (a *Applier) Apply(ctx context.Context, p Plan) error {
	if err := a.checkAccount(ctx, p); err != nil {
		return err
	}
	fn, err := a.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p.FunctionARN)})
	if err != nil {
		return fmt.Errorf("read function %s: %w", p.FunctionARN, err)
	}
	oldRole := aws.ToString(fn.Configuration.Role)

	if err := a.ensureRole(ctx, p); err != nil {
		return err
	}
	if oldRole == p.RoleARN {
		a.logf("function %s already uses %s: nothing to change", p.FunctionName, p.RoleARN)
		return nil
	}
	if err := a.switchFunction(ctx, p); err != nil {
		return err
	}
	back, err := a.waitUpdated(ctx, p)
	if err != nil {
		return err
	}
	if got := aws.ToString(back.Role); got != p.RoleARN {
		return fmt.Errorf("function %s reads back role %s, not %s", p.FunctionARN, got, p.RoleARN)
	}
	a.logf("function %s now uses %s (was %s, which was not changed)", p.FunctionName, p.RoleARN, oldRole)
	return nil
}

// checkAccount refuses, before anything is read or written, a function
// that is not in the account (and partition) of the credentials: the role
// would be created in one account for a function in another.
func (a *Applier) checkAccount(ctx context.Context, p Plan) error {
	fn, err := inventory.ParseFunctionARN(p.FunctionARN)
	if err != nil {
		return err
	}
	id, err := a.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("read the caller's account (sts:GetCallerIdentity): %w", err)
	}
	account, partition := aws.ToString(id.Account), strings.SplitN(aws.ToString(id.Arn), ":", 3)
	if len(partition) < 3 || account != fn.Account || partition[1] != fn.Partition {
		return fmt.Errorf("function %s is in account %s (partition %s), but the credentials are for account %s (%s): refusing; nothing was changed",
			p.FunctionARN, fn.Account, fn.Partition, account, aws.ToString(id.Arn))
	}
	return nil
}

// ensureRole creates the role, or checks that an existing one of that name
// is exactly what the plan describes. A mismatch is an error: the tool
// never overwrites a role it did not plan.
func (a *Applier) ensureRole(ctx context.Context, p Plan) error {
	wantInline, err := a.inlinePolicies(p)
	if err != nil {
		return err
	}
	got, err := a.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(p.RoleName)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		_, err := a.IAM.CreateRole(ctx, &iam.CreateRoleInput{
			RoleName:                 aws.String(p.RoleName),
			AssumeRolePolicyDocument: aws.String(string(p.TrustPolicy)),
			Description:              aws.String("Least-privilege execution role for " + p.FunctionName + " (lambda-role-audit)"),
			Tags:                     []iamtypes.Tag{{Key: aws.String(CreatedForTag), Value: aws.String(p.FunctionARN)}},
		})
		if err != nil {
			return fmt.Errorf("create role %s: %w", p.RoleName, err)
		}
		a.logf("created role %s", p.RoleName)
		return a.completeRole(ctx, p, nil, nil, wantInline)
	case err != nil:
		return fmt.Errorf("read role %s: %w", p.RoleName, err)
	}

	// The role exists: from an earlier run, or someone else's. Only a role
	// this tool made for this function, with exactly the plan's path,
	// trust, boundary and policies, is reused; anything else is refused.
	problems := roleDifferences(got.Role, p)
	attached, err := a.attached(ctx, p.RoleName)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, arn := range p.ManagedPolicyARNs {
		want[arn] = true
	}
	for _, arn := range attached {
		if !want[arn] {
			problems = append(problems, "it attaches "+arn+", which the plan does not")
		}
	}
	inline, err := a.inline(ctx, p.RoleName)
	if err != nil {
		return err
	}
	for name, doc := range inline {
		if want, ok := wantInline[name]; !ok || !sameJSON(doc, want) {
			problems = append(problems, "its inline policy "+name+" differs from the plan")
		}
	}
	complete := len(attached) == len(p.ManagedPolicyARNs) && len(inline) == len(wantInline)
	if len(problems) > 0 {
		return fmt.Errorf("role %s already exists but does not match the plan (%s): refusing to change it; remove it or pick another name", p.RoleName, strings.Join(problems, "; "))
	}
	if complete {
		a.logf("role %s already exists and matches the plan: reusing it", p.RoleName)
		return nil
	}
	// An earlier run created the role and stopped part-way: finish it.
	a.logf("role %s was created by an earlier run: completing it", p.RoleName)
	return a.completeRole(ctx, p, attached, inline, wantInline)
}

func (a *Applier) completeRole(ctx context.Context, p Plan, attached []string, inline, wantInline map[string]string) error {
	have := map[string]bool{}
	for _, arn := range attached {
		have[arn] = true
	}
	for _, arn := range p.ManagedPolicyARNs {
		if have[arn] {
			continue
		}
		if _, err := a.IAM.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(p.RoleName), PolicyArn: aws.String(arn)}); err != nil {
			return fmt.Errorf("attach %s to %s: %w", arn, p.RoleName, err)
		}
		a.logf("attached %s", arn)
	}
	names := make([]string, 0, len(wantInline))
	for name := range wantInline {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := inline[name]; ok {
			continue
		}
		if _, err := a.IAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(p.RoleName), PolicyName: aws.String(name), PolicyDocument: aws.String(wantInline[name])}); err != nil {
			return fmt.Errorf("put inline policy %s on %s: %w", name, p.RoleName, err)
		}
		a.logf("put inline policy %s", name)
	}
	return nil
}

// roleDifferences lists how an existing role differs from what the plan
// would create, in what GetRole shows.
func roleDifferences(r *iamtypes.Role, p Plan) []string {
	var problems []string
	ours := false
	for _, t := range r.Tags {
		if aws.ToString(t.Key) == CreatedForTag && aws.ToString(t.Value) == p.FunctionARN {
			ours = true
		}
	}
	if !ours {
		problems = append(problems, fmt.Sprintf("this tool did not create it (no %s tag naming %s)", CreatedForTag, p.FunctionARN))
	}
	if path := aws.ToString(r.Path); path != "" && path != "/" {
		problems = append(problems, "its path is "+path+", not /")
	}
	if r.PermissionsBoundary != nil {
		problems = append(problems, "it has the permissions boundary "+aws.ToString(r.PermissionsBoundary.PermissionsBoundaryArn)+", which the plan does not")
	}
	if !sameJSON(decodeDoc(aws.ToString(r.AssumeRolePolicyDocument)), string(p.TrustPolicy)) {
		problems = append(problems, "its trust policy differs")
	}
	return problems
}

// switchFunction points the function at the new role, retrying while IAM
// has not yet propagated the role to Lambda.
func (a *Applier) switchFunction(ctx context.Context, p Plan) error {
	deadline := time.Now().Add(a.readyTimeout())
	for {
		_, err := a.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(p.FunctionARN), Role: aws.String(p.RoleARN)})
		if err == nil {
			a.logf("updated %s to use %s", p.FunctionName, p.RoleARN)
			return nil
		}
		var invalid *lambdatypes.InvalidParameterValueException
		var conflict *lambdatypes.ResourceConflictException
		retryable := (errors.As(err, &invalid) && strings.Contains(err.Error(), "assumed")) || errors.As(err, &conflict)
		if !retryable || time.Now().After(deadline) {
			return fmt.Errorf("update function %s to role %s: %w", p.FunctionARN, p.RoleARN, err)
		}
		a.logf("role not usable by Lambda yet; retrying")
		if err := a.sleep(ctx); err != nil {
			return err
		}
	}
}

func (a *Applier) waitUpdated(ctx context.Context, p Plan) (*lambdatypes.FunctionConfiguration, error) {
	deadline := time.Now().Add(a.readyTimeout())
	for {
		out, err := a.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(p.FunctionARN)})
		if err != nil {
			return nil, fmt.Errorf("read back function %s: %w", p.FunctionARN, err)
		}
		if out.Configuration.LastUpdateStatus != lambdatypes.LastUpdateStatusInProgress {
			if out.Configuration.LastUpdateStatus == lambdatypes.LastUpdateStatusFailed {
				return nil, fmt.Errorf("function %s update failed: %s", p.FunctionARN, aws.ToString(out.Configuration.LastUpdateStatusReason))
			}
			return out.Configuration, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("function %s is still updating after %s", p.FunctionARN, a.readyTimeout())
		}
		if err := a.sleep(ctx); err != nil {
			return nil, err
		}
	}
}

func (a *Applier) attached(ctx context.Context, role string) ([]string, error) {
	var out []string
	var marker *string
	for {
		page, err := a.IAM.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role), Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("list policies attached to %s: %w", role, err)
		}
		for _, p := range page.AttachedPolicies {
			out = append(out, aws.ToString(p.PolicyArn))
		}
		if !page.IsTruncated {
			sort.Strings(out)
			return out, nil
		}
		marker = page.Marker
	}
}

func (a *Applier) inline(ctx context.Context, role string) (map[string]string, error) {
	out := map[string]string{}
	var marker *string
	for {
		page, err := a.IAM.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(role), Marker: marker})
		if err != nil {
			return nil, fmt.Errorf("list inline policies of %s: %w", role, err)
		}
		for _, name := range page.PolicyNames {
			doc, err := a.IAM.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
			if err != nil {
				return nil, fmt.Errorf("read inline policy %s of %s: %w", name, role, err)
			}
			out[name] = decodeDoc(aws.ToString(doc.PolicyDocument))
		}
		if !page.IsTruncated {
			return out, nil
		}
		marker = page.Marker
	}
}

func (a *Applier) readyTimeout() time.Duration {
	if a.RoleReadyTimeout > 0 {
		return a.RoleReadyTimeout
	}
	return 2 * time.Minute
}

func (a *Applier) sleep(ctx context.Context) error {
	poll := a.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(poll):
		return nil
	}
}

func (a *Applier) logf(format string, args ...any) {
	if a.Log != nil {
		fmt.Fprintf(a.Log, format+"\n", args...)
	}
}

// decodeDoc undoes IAM's URL encoding of a document, if it has any.
func decodeDoc(s string) string {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") {
		return t
	}
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// sameJSON compares two policy documents by meaning: key order, spacing and
// the one-element-array-versus-string choice do not matter.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(x), normalize(y))
}

func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range t {
			out[k] = normalize(val)
		}
		return out
	case []any:
		if len(t) == 1 {
			return normalize(t[0])
		}
		out := make([]any, len(t))
		for i, val := range t {
			out[i] = normalize(val)
		}
		return out
	}
	return v
}
