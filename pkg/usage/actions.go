package usage

import (
	"fmt"
	"regexp"
	"strings"
)

// servicePrefixes are the event sources whose IAM service prefix is not
// the first label of the source's host name.
var servicePrefixes = map[string]string{
	"monitoring.amazonaws.com":       "cloudwatch",
	"email.amazonaws.com":            "ses",
	"streams.dynamodb.amazonaws.com": "dynamodb",
	"execute-api.amazonaws.com":      "execute-api",
}

// versioned is the API version Lambda's (and a few other services')
// event names carry: CreateFunction20150331, UpdateFunctionConfiguration20150331v2.
var versioned = regexp.MustCompile(`\d{8}(v\d+)?$`)

// ActionOf is the IAM action of a CloudTrail event: the event source's
// service prefix and the event name, without an API-version suffix.
func ActionOf(eventSource, eventName string) string {
	prefix, ok := servicePrefixes[eventSource]
	if !ok {
		prefix = strings.TrimSuffix(strings.TrimSuffix(eventSource, ".amazonaws.com"), ".amazonaws.com.cn")
	}
	return prefix + ":" + versioned.ReplaceAllString(eventName, "")
}

// noResourceType are actions IAM authorises only on "*": they are
// observed, and granted, on "*".
var noResourceType = map[string]bool{
	"sts:GetCallerIdentity": true, "s3:ListAllMyBuckets": true, "secretsmanager:ListSecrets": true,
	"secretsmanager:GetRandomPassword": true, "ssm:DescribeParameters": true, "kms:ListKeys": true,
	"kms:ListAliases": true, "kms:GenerateRandom": true, "dynamodb:ListTables": true, "sqs:ListQueues": true,
	"sns:ListTopics": true, "lambda:ListFunctions": true, "xray:PutTraceSegments": true,
	"xray:PutTelemetryRecords": true, "cloudwatch:PutMetricData": true, "logs:DescribeLogGroups": true,
	"ec2:CreateNetworkInterface": true, "ec2:DescribeNetworkInterfaces": true, "ec2:DeleteNetworkInterface": true,
}

// HasNoResourceType reports whether IAM authorises the action only on "*".
func HasNoResourceType(action string) bool {
	return noResourceType[action] || strings.HasPrefix(action, "ec2:Describe")
}

// where is the event's own place: the region, account and partition its
// resources live in.
type where struct{ partition, region, account string }

func (w where) arn(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", w.partition, service, w.region, w.account, resource)
}

// ResourcesOf names the resources an event acted on: built from its
// request parameters for the common services, else the ARNs the event
// lists; "*" for an action with no resource type; none when the event
// does not say.
func resourcesOf(action string, w where, params map[string]any, listed []string) []string {
	if HasNoResourceType(action) {
		return []string{"*"}
	}
	if built := fromParameters(action, w, params); len(built) > 0 {
		return built
	}
	var out []string
	for _, r := range listed {
		if strings.HasPrefix(r, "arn:") {
			out = append(out, r)
		}
	}
	return out
}

func fromParameters(action string, w where, params map[string]any) []string {
	str := func(key string) string { s, _ := params[key].(string); return s }
	orARN := func(v string, build func(string) string) []string {
		switch {
		case v == "":
			return nil
		case strings.HasPrefix(v, "arn:"):
			return []string{v}
		}
		return []string{build(v)}
	}
	service := action[:strings.Index(action, ":")]
	switch service {
	case "secretsmanager":
		// A secret's ARN ends in six random characters the name lacks.
		return orARN(str("secretId"), func(n string) string { return w.arn("secretsmanager", "secret:"+n+"-??????") })
	case "ssm":
		return ssmParameters(w, params)
	case "kms":
		return orARN(str("keyId"), func(k string) string {
			if strings.HasPrefix(k, "alias/") {
				return w.arn("kms", k)
			}
			return w.arn("kms", "key/"+k)
		})
	case "dynamodb":
		return orARN(str("tableName"), func(n string) string { return w.arn("dynamodb", "table/"+n) })
	case "sqs":
		if u := str("queueUrl"); u != "" {
			parts := strings.Split(strings.TrimSuffix(u, "/"), "/")
			// https://sqs.<region>.amazonaws.com/<account>/<name>
			if len(parts) >= 2 {
				return []string{fmt.Sprintf("arn:%s:sqs:%s:%s:%s", w.partition, w.region, parts[len(parts)-2], parts[len(parts)-1])}
			}
		}
	case "sns":
		if a := str("topicArn"); strings.HasPrefix(a, "arn:") {
			return []string{a}
		}
	case "s3":
		if b := str("bucketName"); b != "" {
			return []string{fmt.Sprintf("arn:%s:s3:::%s", w.partition, b)}
		}
	case "lambda":
		return orARN(str("functionName"), func(n string) string { return w.arn("lambda", "function:"+n) })
	case "sts":
		if a := str("roleArn"); strings.HasPrefix(a, "arn:") {
			return []string{a}
		}
	}
	return nil
}

// ssmParameters: GetParameter's name, GetParameters' names, and
// GetParametersByPath's path (everything under it).
func ssmParameters(w where, params map[string]any) []string {
	param := func(name string) string { return w.arn("ssm", "parameter/"+strings.TrimPrefix(name, "/")) }
	var out []string
	if n, ok := params["name"].(string); ok && n != "" {
		out = append(out, param(n))
	}
	if names, ok := params["names"].([]any); ok {
		for _, n := range names {
			if s, ok := n.(string); ok && s != "" {
				out = append(out, param(s))
			}
		}
	}
	if p, ok := params["path"].(string); ok && p != "" {
		out = append(out, param(strings.TrimSuffix(p, "/")+"/*"))
	}
	return out
}
