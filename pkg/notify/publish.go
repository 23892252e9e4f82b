package notify

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

var topicARN = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$`)

// CheckTopicARN rejects anything that is not an SNS topic ARN.
func CheckTopicARN(arn string) error {
	if !topicARN.MatchString(arn) {
		return fmt.Errorf("%q is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)", arn)
	}
	return nil
}

// TopicRegion is the region in a topic ARN: SNS must be called there,
// whatever region the caller runs in.
func TopicRegion(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

// SNSAPI is the part of the SNS client the publisher uses.
type SNSAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Publish sends one message to a topic and returns SNS's message id.
func Publish(ctx context.Context, client SNSAPI, topicARN string, m Message) (string, error) {
	in := &sns.PublishInput{
		TopicArn:          aws.String(topicARN),
		Subject:           aws.String(m.Subject),
		Message:           aws.String(m.Body),
		MessageStructure:  aws.String("json"),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{},
	}
	for k, a := range m.Attributes {
		in.MessageAttributes[k] = snstypes.MessageAttributeValue{DataType: aws.String(a.DataType), StringValue: aws.String(a.Value)}
	}
	out, err := client.Publish(ctx, in)
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", topicARN, err)
	}
	return aws.ToString(out.MessageId), nil
}
