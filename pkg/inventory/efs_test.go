package inventory

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"

	"lambda-role-audit/internal/testenv"
)

// TestResolveFileSystemsOnMoto: the file system behind an access point is
// read from EFS itself (moto), since a function's configuration names only
// the access point; an access point EFS does not know stays unresolved.
func TestResolveFileSystemsOnMoto(t *testing.T) {
	moto := testenv.SharedMoto(t)
	ctx := testenv.Context(t)
	client := efs.NewFromConfig(moto.Config())
	fsOut, err := client.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("audit-test")})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := client.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: fsOut.FileSystemId, ClientToken: aws.String("ap")})
	if err != nil {
		t.Fatal(err)
	}
	l := &Live{EFS: func(string) EFSAPI { return client }}
	fn := Function{Region: "us-east-1", FileSystems: []FileSystem{
		{ARN: aws.ToString(ap.AccessPointArn), LocalMountPath: "/mnt/data"},
		{ARN: "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-00000000000000000", LocalMountPath: "/mnt/gone"},
	}}
	l.resolveFileSystems(ctx, &fn)
	if got := fn.FileSystems[0].FileSystemID; got != aws.ToString(fsOut.FileSystemId) {
		t.Errorf("file system = %q, want %q", got, aws.ToString(fsOut.FileSystemId))
	}
	if got := fn.FileSystems[1].FileSystemID; got != "" {
		t.Errorf("an unknown access point resolved to %q", got)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopShared()
	os.Exit(code)
}
