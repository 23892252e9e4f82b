package inventory

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// regionPattern accepts AWS region names such as us-east-1, eu-central-2,
// us-gov-west-1, ap-southeast-5 or cn-northwest-1.
var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d{1,2}$`)

// ValidRegion reports whether s is shaped like an AWS region name.
func ValidRegion(s string) bool { return regionPattern.MatchString(s) }

// ParseRegions parses a comma-separated region list ("" gives nil, meaning
// every enabled region). Each name must look like a region; duplicates are
// dropped.
func ParseRegions(list string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !ValidRegion(r) {
			return nil, fmt.Errorf("%q is not a region name (expected something like us-east-1)", r)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
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
