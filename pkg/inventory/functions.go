package inventory

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

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
	parsed, err := ParseFunctionARN(arn)
	if err != nil {
		return Function{}, nil, false, err
	}
	region := parsed.Region
	client := l.Lambda(region)
	out, err := client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(arn)})
	if err != nil {
		return Function{}, nil, false, fmt.Errorf("get function %s: %w", arn, err)
	}
	if out.Configuration == nil {
		return Function{}, nil, false, fmt.Errorf("get function %s: no configuration returned", arn)
	}
	fn = functionFromAPI(*out.Configuration, region)
	l.resolveFileSystems(ctx, &fn)
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
	if f.Environment != nil {
		fn.References = environmentReferences(f.Environment.Variables, partitionOf(fn.ARN))
	}
	return fn
}

// resolveFileSystems finds the file system behind each access point the
// function mounts: EFS authorises clients on the file system's ARN, and a
// function's configuration names only the access point. One that cannot be
// read stays unknown, and the plan says so.
func (l *Live) resolveFileSystems(ctx context.Context, fn *Function) {
	for i := range fn.FileSystems {
		fs := &fn.FileSystems[i]
		id := fs.ARN[strings.LastIndex(fs.ARN, "/")+1:]
		if fs.FileSystemID != "" || l.EFS == nil || !strings.Contains(fs.ARN, ":access-point/") {
			continue
		}
		out, err := l.EFS(fn.Region).DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: aws.String(id)})
		if err != nil || len(out.AccessPoints) != 1 {
			l.logger().Warn("file system of access point unread", "accessPoint", fs.ARN, "error", err)
			continue
		}
		fs.FileSystemID = aws.ToString(out.AccessPoints[0].FileSystemId)
	}
}
