package inventory

import (
	"regexp"
	"sort"
	"strings"
)

// Reference is a resource a function's configuration points at: an
// environment value that names one (Source "env:NAME").
type Reference struct {
	Source   string `json:"source"`
	Resource string `json:"resource"`
}

var (
	arnValue = regexp.MustCompile(`^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:\S+$`)
	// https://sqs.<region>.amazonaws.com/<account>/<name>, and the legacy
	// https://<region>.queue.amazonaws.com/... form.
	queueURL = regexp.MustCompile(`^https://(?:sqs\.([a-z0-9-]+)|([a-z0-9-]+)\.queue)\.amazonaws\.com(?:\.cn)?/(\d{12})/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?$`)
	s3URI    = regexp.MustCompile(`^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/\S*)?$`)
)

// environmentReferences keeps, of a function's environment, only the
// values that name an AWS resource (an ARN, an SQS queue URL, an s3://
// location), as that resource. Every other value is dropped here and never
// stored: environment values may be secrets.
func environmentReferences(vars map[string]string, partition string) []Reference {
	var out []Reference
	for name, value := range vars {
		if r := referencedResource(strings.TrimSpace(value), partition); r != "" {
			out = append(out, Reference{Source: "env:" + name, Resource: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}

func referencedResource(v, partition string) string {
	if arnValue.MatchString(v) {
		return v
	}
	if m := queueURL.FindStringSubmatch(v); m != nil {
		region := m[1]
		if region == "" {
			region = m[2]
		}
		return "arn:" + partition + ":sqs:" + region + ":" + m[3] + ":" + m[4]
	}
	if m := s3URI.FindStringSubmatch(v); m != nil {
		return "arn:" + partition + ":s3:::" + m[1]
	}
	return ""
}

// partitionOf is the partition of an ARN ("aws" when it has none).
func partitionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 3)
	if len(parts) < 3 || parts[1] == "" {
		return "aws"
	}
	return parts[1]
}
