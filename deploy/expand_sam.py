"""Expand a packaged SAM template into plain CloudFormation.

Service-managed StackSets cannot run the AWS::Serverless transform, so
deploy/organization.yaml deploys this expansion of the packaged
template.yaml. It uses the SAM translator that cfn-lint ships with, as
CloudFormation would; S3 locations written by `sam package` are kept.

usage: python3 deploy/expand_sam.py PACKAGED_TEMPLATE REGION > expanded.json
"""
import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    path, region = sys.argv[1], sys.argv[2]
    template, matches = decode(path)
    if matches:
        sys.exit("\n".join(str(m) for m in matches))
    transform = Transform(path, template, region)
    matches = transform.transform_template()
    if matches:
        sys.exit("\n".join(str(m) for m in matches))
    expanded = transform.template()
    if "Transform" in expanded:
        sys.exit("the expansion still names a transform: " + json.dumps(expanded["Transform"]))
    json.dump(expanded, sys.stdout, indent=1, sort_keys=True, default=str)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
