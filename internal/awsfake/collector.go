package awsfake

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"lambda-role-audit/pkg/awsenv"
	"lambda-role-audit/pkg/inventory"
)

// Collector is the live collector, with the tool's retry policy, bound to
// a server at url (this one, or a proxy in front of it).
func Collector(url string) *inventory.Live {
	return awsenv.Collector(aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint: aws.String(url),
		Retryer:      awsenv.NewRetryer,
	})
}
