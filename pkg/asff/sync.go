package asff

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"lambda-role-audit/pkg/audit"
)

// BatchSize is BatchImportFindings' limit of findings per call.
const BatchSize = 100

// API is the part of Security Hub that Sync calls: exactly the two
// actions the function's role is given.
type API interface {
	BatchImportFindings(ctx context.Context, in *securityhub.BatchImportFindingsInput, opts ...func(*securityhub.Options)) (*securityhub.BatchImportFindingsOutput, error)
	GetFindings(ctx context.Context, in *securityhub.GetFindingsInput, opts ...func(*securityhub.Options)) (*securityhub.GetFindingsOutput, error)
}

// Result says what one Sync did.
type Result struct {
	Imported int `json:"imported"`
	Archived int `json:"archived"`
}

// ErrNotEnabled is returned (wrapped) when Security Hub is not enabled in
// the account and region.
var ErrNotEnabled = errors.New("Security Hub is not enabled in this account and region (enable it, or turn the Security Hub export off)")

// Sync imports the report's findings at or above min, keeping the
// creation time of those imported before, and archives (compliance
// PASSED, record state ARCHIVED) every earlier finding of this tool that a
// complete report no longer has. An incomplete report archives nothing:
// what it could not see is unknown, not fixed.
func Sync(ctx context.Context, api API, r *audit.Report, w Where, min audit.Severity, now time.Time) (Result, error) {
	var res Result
	earlier, err := active(ctx, api, w)
	if err != nil {
		return res, err
	}
	created := map[string]string{}
	for id, f := range earlier {
		created[id] = aws.ToString(f.CreatedAt)
	}
	findings := Map(r, w, min, now, created)
	batch := make([]types.AwsSecurityFinding, 0, len(findings))
	current := map[string]bool{}
	for _, f := range findings {
		batch = append(batch, f.sdk())
		current[f.ID] = true
	}
	if r.Complete {
		for id, f := range earlier {
			if !current[id] {
				batch = append(batch, archived(f, now))
				res.Archived++
			}
		}
	}
	if err := importAll(ctx, api, batch); err != nil {
		return Result{}, err
	}
	res.Imported = len(findings)
	return res, nil
}

// active reads this tool's active findings in the account's default
// product. The filter is applied again here: a finding is taken as this
// tool's only if its product, generator, id and account all say so.
func active(ctx context.Context, api API, w Where) (map[string]types.AwsSecurityFinding, error) {
	in := &securityhub.GetFindingsInput{
		MaxResults: aws.Int32(100),
		Filters: &types.AwsSecurityFindingFilters{
			ProductArn:   []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(w.ProductArn())}},
			GeneratorId:  []types.StringFilter{{Comparison: types.StringFilterComparisonPrefix, Value: aws.String(Prefix)}},
			AwsAccountId: []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(w.Account)}},
			RecordState:  []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(string(types.RecordStateActive))}},
		},
	}
	out := map[string]types.AwsSecurityFinding{}
	for page := 1; ; page++ {
		resp, err := api.GetFindings(ctx, in)
		if err != nil {
			return nil, wrap("securityhub:GetFindings", err)
		}
		for _, f := range resp.Findings {
			if ours(f, w) {
				out[aws.ToString(f.Id)] = f
			}
		}
		if aws.ToString(resp.NextToken) == "" {
			return out, nil
		}
		if page == 1000 {
			return nil, &OpError{Op: "securityhub:GetFindings", Err: errors.New("more than 100,000 active findings of this tool; stopped paging")}
		}
		in.NextToken = resp.NextToken
	}
}

func ours(f types.AwsSecurityFinding, w Where) bool {
	return aws.ToString(f.ProductArn) == w.ProductArn() &&
		strings.HasPrefix(aws.ToString(f.GeneratorId), Prefix) &&
		strings.HasPrefix(aws.ToString(f.Id), Prefix) &&
		aws.ToString(f.AwsAccountId) == w.Account &&
		f.RecordState == types.RecordStateActive
}

// archived is an earlier finding, closed: the fields BatchImportFindings
// requires, kept as they were, with the new state.
func archived(f types.AwsSecurityFinding, now time.Time) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		SchemaVersion: f.SchemaVersion, Id: f.Id, ProductArn: f.ProductArn, GeneratorId: f.GeneratorId,
		AwsAccountId: f.AwsAccountId, Types: f.Types, CreatedAt: f.CreatedAt,
		UpdatedAt: aws.String(now.UTC().Format(time.RFC3339)),
		Severity:  f.Severity, Title: f.Title, Description: f.Description, Resources: f.Resources,
		Remediation: f.Remediation, ProductFields: f.ProductFields,
		Compliance:  &types.Compliance{Status: types.ComplianceStatusPassed},
		RecordState: types.RecordStateArchived,
	}
}

// importAll imports in batches of at most BatchSize. A finding Security
// Hub refuses fails the sync, named with its reason.
func importAll(ctx context.Context, api API, findings []types.AwsSecurityFinding) error {
	for start := 0; start < len(findings); start += BatchSize {
		end := min(start+BatchSize, len(findings))
		out, err := api.BatchImportFindings(ctx, &securityhub.BatchImportFindingsInput{Findings: findings[start:end]})
		if err != nil {
			return wrap("securityhub:BatchImportFindings", err)
		}
		if n := aws.ToInt32(out.FailedCount); n > 0 {
			var reasons []string
			for i, f := range out.FailedFindings {
				if i == 3 {
					reasons = append(reasons, fmt.Sprintf("and %d more", len(out.FailedFindings)-3))
					break
				}
				reasons = append(reasons, fmt.Sprintf("%s: %s %s", aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
			}
			return &OpError{Op: "securityhub:BatchImportFindings", Err: fmt.Errorf("%d of %d findings refused: %s", n, end-start, strings.Join(reasons, "; "))}
		}
	}
	return nil
}

// OpError is a failed Security Hub call, named by its IAM action: the
// report's delivery error takes both apart.
type OpError struct {
	Op  string
	Err error
}

func (e *OpError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *OpError) Unwrap() error { return e.Err }

func wrap(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && api.ErrorCode() == "InvalidAccessException" {
		err = fmt.Errorf("%w: %s", ErrNotEnabled, api.ErrorMessage())
	}
	return &OpError{Op: op, Err: err}
}

// sdk is the finding as the SDK sends it.
func (f Finding) sdk() types.AwsSecurityFinding {
	out := types.AwsSecurityFinding{
		SchemaVersion: aws.String(f.SchemaVersion), Id: aws.String(f.ID), ProductArn: aws.String(f.ProductArn),
		GeneratorId: aws.String(f.GeneratorID), AwsAccountId: aws.String(f.AwsAccountID), Types: f.Types,
		CreatedAt: aws.String(f.CreatedAt), UpdatedAt: aws.String(f.UpdatedAt),
		Severity: &types.Severity{Label: types.SeverityLabel(f.Severity.Label)},
		Title:    aws.String(f.Title), Description: aws.String(f.Description),
		Remediation:   &types.Remediation{Recommendation: &types.Recommendation{Text: aws.String(f.Remediation.Recommendation.Text)}},
		Compliance:    &types.Compliance{Status: types.ComplianceStatus(f.Compliance.Status)},
		RecordState:   types.RecordState(f.RecordState),
		Workflow:      &types.Workflow{Status: types.WorkflowStatus(f.Workflow.Status)},
		ProductFields: f.ProductFields,
	}
	for _, r := range f.Resources {
		out.Resources = append(out.Resources, types.Resource{Type: aws.String(r.Type), Id: aws.String(r.ID), Partition: types.Partition(r.Partition), Region: aws.String(r.Region)})
	}
	return out
}

// Deliver syncs the report into Security Hub in region and, when that
// fails, records why in the report's delivery errors, so that the alert
// and the exit status say it: the audit itself is not made incomplete.
func Deliver(ctx context.Context, api API, r *audit.Report, region string, min audit.Severity, now time.Time) (Result, bool) {
	w, err := WhereFor(r.AccountID, region)
	if err == nil {
		var res Result
		if res, err = Sync(ctx, api, r, w, min, now); err == nil {
			return res, true
		}
	}
	op, msg := "securityhub", err.Error()
	var failed *OpError
	if errors.As(err, &failed) {
		op, msg = failed.Op, failed.Err.Error()
	}
	r.DeliveryErrors = append(r.DeliveryErrors, audit.Error{Region: region, Operation: op, Message: msg})
	return Result{}, false
}
