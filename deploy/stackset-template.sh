#!/usr/bin/env bash
# Builds the template that deploy/organization.yaml deploys to every
# account: template.yaml built and packaged to BUCKET (`sam build`, `sam
# package`), then expanded to plain CloudFormation (service-managed
# StackSets cannot run the AWS::Serverless transform), uploaded next to the
# code. Prints the TemplateURL to pass to deploy/organization.yaml.
#
# usage: deploy/stackset-template.sh BUCKET [PREFIX]
#
# BUCKET must be in the region the audit runs in (TargetRegions), and its
# bucket policy must let the organization's accounts read PREFIX/* (Lambda
# reads the code, CloudFormation the nested templates, with each member
# account's credentials): see README, "Across an organization".
set -euo pipefail
cd "$(dirname "$0")/.."

bucket=${1:?usage: deploy/stackset-template.sh BUCKET [PREFIX]}
prefix=${2:-lambda-role-audit}
region=$(aws s3api get-bucket-location --bucket "$bucket" --query 'LocationConstraint' --output text)
if [ "$region" = "None" ] || [ -z "$region" ]; then region=us-east-1; fi
suffix=amazonaws.com
case "$region" in cn-*) suffix=amazonaws.com.cn ;; esac

sam build --config-file deploy/samconfig.toml
sam package --config-file deploy/samconfig.toml --s3-bucket "$bucket" --s3-prefix "$prefix" \
  --region "$region" --output-template-file .aws-sam/packaged.yaml
python3 deploy/expand_sam.py .aws-sam/packaged.yaml "$region" >.aws-sam/stackset-template.json
cfn-lint .aws-sam/stackset-template.json
aws s3 cp .aws-sam/stackset-template.json "s3://$bucket/$prefix/stackset-template.json" --region "$region"
echo "https://$bucket.s3.$region.$suffix/$prefix/stackset-template.json"
