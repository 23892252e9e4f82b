package inventory_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"lambda-role-audit/internal/awsfake"
	"lambda-role-audit/pkg/audit"
	"lambda-role-audit/pkg/inventory"
)

func fakeCollector(url string) *inventory.Live { return awsfake.Collector(url) }

func keysOf(r *audit.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule+"/"+string(f.Severity)+"/"+f.RoleName+"/"+f.Functions[0])
	}
	return out
}

// TestPaginationFollowsEveryPage runs the real SDK clients against a server
// that pages like Lambda (50 functions a page, Marker) and like IAM
// (IsTruncated/Marker), which moto does not do.
func TestPaginationFollowsEveryPage(t *testing.T) {
	acct := awsfake.Generate(awsfake.Spec{Functions: 437, Regions: 3, Roles: 90, Policies: 25, Seed: 7})
	srv := awsfake.Start(acct, awsfake.Options{IAMPageSize: 40})
	defer srv.Close()

	ctx := context.Background()
	results := map[inventory.IAMStrategy]*audit.Report{}
	for _, strategy := range []inventory.IAMStrategy{inventory.StrategyBulk, inventory.StrategyPerRole} {
		srv.ResetStats()
		c := fakeCollector(srv.URL)
		c.Strategy = strategy
		var prepared *audit.Prepared
		got, err := c.Collect(ctx, inventory.Request{OnIAMRead: func(read inventory.IAMRead) {
			prepared = audit.Prepare(read.Roles, read.Policies, nil)
		}})
		if err != nil {
			t.Fatal(err)
		}
		if (prepared != nil) != (strategy == inventory.StrategyBulk) {
			t.Fatalf("%s: OnIAMRead called = %v", strategy, prepared != nil)
		}
		if len(got.Problems) != 0 {
			t.Fatalf("%s: problems %+v", strategy, got.Problems)
		}
		if len(got.Functions) != 437 || len(got.Regions) != 3 || len(got.Roles) != 90 {
			t.Fatalf("%s: %d functions, %d regions, %d roles; want 437, 3, 90", strategy, len(got.Functions), len(got.Regions), len(got.Roles))
		}
		st := srv.Stats()
		// 437 functions over 3 regions: 146+146+145, so 3 pages per region.
		if st.Calls["lambda:ListFunctions"] != 9 || st.Calls["lambda:GetFunction"] != 0 {
			t.Errorf("%s: Lambda calls %v, want 9 ListFunctions pages and no GetFunction", strategy, st.Calls)
		}
		if strategy == inventory.StrategyBulk {
			// 90 roles + 25 policies at 40 a page: 3 pages; then each
			// AWS-managed policy in use, once (GetPolicy + GetPolicyVersion).
			awsManaged := map[string]bool{}
			for _, r := range acct.Roles {
				for _, p := range r.Attached {
					if strings.Contains(p, ":iam::aws:") {
						awsManaged[p] = true
					}
				}
			}
			if n := len(awsManaged); n < 2 || st.Calls["iam:GetAccountAuthorizationDetails"] != 3 || st.Calls["iam:GetRole"] != 0 || st.Calls["iam:GetPolicy"] != n || st.Calls["iam:GetPolicyVersion"] != n {
				t.Errorf("bulk IAM calls %v", st.Calls)
			}
		} else if st.Calls["iam:GetRole"] != 90 || st.Calls["iam:GetPolicy"] > 28 {
			t.Errorf("per-role IAM calls %v", st.Calls)
		}
		results[strategy] = audit.Evaluate(got, audit.Options{Now: func() time.Time { return time.Time{} }})
		if prepared != nil {
			if early := audit.Evaluate(got, audit.Options{Now: func() time.Time { return time.Time{} }, Prepared: prepared}); !reflect.DeepEqual(early, results[strategy]) {
				t.Fatalf("verdicts prepared during collection change the report")
			}
		}
	}
	bulk, perRole := results[inventory.StrategyBulk], results[inventory.StrategyPerRole]
	if len(bulk.Findings) == 0 || !reflect.DeepEqual(keysOf(bulk), keysOf(perRole)) || !reflect.DeepEqual(bulk.Findings, perRole.Findings) {
		t.Fatalf("strategies disagree:\nbulk     %v\nper-role %v", keysOf(bulk), keysOf(perRole))
	}
}

// TestThrottlingIsRetried throttles hard (AWS's error formats, tiny
// buckets) and expects the same account as an unthrottled read.
func TestThrottlingIsRetried(t *testing.T) {
	acct := awsfake.Generate(awsfake.Spec{Functions: 150, Regions: 2, Roles: 24, Policies: 8, Seed: 3})
	clean := awsfake.Start(acct, awsfake.Options{})
	defer clean.Close()
	want, err := fakeCollector(clean.URL).Collect(context.Background(), inventory.Request{Regions: []string{"us-east-1", "us-east-2"}})
	if err != nil {
		t.Fatal(err)
	}

	throttled := awsfake.Start(acct, awsfake.Options{
		Lambda: awsfake.Limits{Rate: 20, Burst: 2},
		IAM:    awsfake.Limits{Rate: 40, Burst: 2},
	})
	defer throttled.Close()
	for _, strategy := range []inventory.IAMStrategy{inventory.StrategyBulk, inventory.StrategyPerRole} {
		throttled.ResetStats()
		c := fakeCollector(throttled.URL)
		c.Strategy = strategy
		got, err := c.Collect(context.Background(), inventory.Request{Regions: []string{"us-east-1", "us-east-2"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Problems) != 0 {
			t.Fatalf("%s: throttling leaked out as problems: %+v", strategy, got.Problems)
		}
		if st := throttled.Stats(); st.Throttled == 0 {
			t.Fatalf("%s: the server throttled nothing; the test proves nothing", strategy)
		}
		if !reflect.DeepEqual(got.Functions, want.Functions) || !reflect.DeepEqual(got.Roles, want.Roles) {
			t.Fatalf("%s: throttled read differs from a clean one", strategy)
		}
		// The bulk read also holds the policies of principals no function
		// uses, and their other versions; the roles' policies' default
		// versions must be the same either way.
		for _, r := range got.Roles {
			for _, p := range r.AttachedPolicyARNs {
				g, w := *got.Policies[p], *want.Policies[p]
				if strategy == inventory.StrategyPerRole {
					w.OtherVersions = nil
				}
				if !reflect.DeepEqual(g, w) {
					t.Fatalf("%s: policy %s differs from a clean read", strategy, p)
				}
			}
		}
	}
}

// roleLookupAccount: AdminRole (admin) used by one function as IAM spells
// it and by another in lower case; a third function names a role that does
// not exist, a fourth a role in another account.
func roleLookupAccount() *awsfake.Account {
	admin := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	return &awsfake.Account{
		ID: "123456789012", Regions: []string{"us-east-1"},
		Functions: map[string][]awsfake.Function{"us-east-1": {
			{Name: "a", Role: "AdminRole"},
			{Name: "b", Role: "adminrole"},
			{Name: "ghost", Role: "deleted-role"},
			{Name: "foreign", RoleARN: "arn:aws:iam::999999999999:role/AdminRole"},
		}},
		Roles: []awsfake.Role{{Name: "AdminRole", Inline: []awsfake.NamedDoc{{Name: "all", Doc: admin}}}},
	}
}

// TestRoleLookupLikeIAM: role names match whatever their case, in bulk and
// per role; only IAM's NoSuchEntity makes a role missing; a role in another
// account is never read from this one.
func TestRoleLookupLikeIAM(t *testing.T) {
	srv := awsfake.Start(roleLookupAccount(), awsfake.Options{})
	defer srv.Close()
	const canonical = "arn:aws:iam::123456789012:role/AdminRole"
	for _, strategy := range []inventory.IAMStrategy{inventory.StrategyBulk, inventory.StrategyPerRole} {
		t.Run(string(strategy), func(t *testing.T) {
			c := fakeCollector(srv.URL)
			c.Strategy = strategy
			acct, err := c.Collect(context.Background(), inventory.Request{Regions: []string{"us-east-1"}})
			if err != nil {
				t.Fatal(err)
			}
			rep := audit.Evaluate(acct, audit.Options{})
			var shared *audit.Finding
			for i, f := range rep.Findings {
				if f.RoleARN == canonical {
					shared = &rep.Findings[i]
				}
			}
			if shared == nil || shared.Rule != audit.RuleSharedAdminRole || shared.Severity != audit.Critical || len(shared.Functions) != 2 {
				t.Fatalf("AdminRole under two spellings must be one critical shared-admin-role finding: %+v", rep.Findings)
			}
			if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "deleted-role does not exist") {
				t.Errorf("warnings = %q, want the deleted role named", rep.Warnings)
			}
			if rep.Complete || len(rep.Errors) != 1 || rep.Errors[0].RoleARN != "arn:aws:iam::999999999999:role/AdminRole" ||
				!strings.Contains(rep.Errors[0].Message, "not the audited account 123456789012") {
				t.Errorf("a role in another account must be unevaluated: complete %v errors %+v", rep.Complete, rep.Errors)
			}
		})
	}
}
