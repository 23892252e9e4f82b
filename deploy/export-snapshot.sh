#!/usr/bin/env bash
# Writes an offline snapshot of the current account for
# `lambda-role-audit --snapshot DIR`, using only the AWS CLI:
#   DIR/iam.json                             aws iam get-account-authorization-details
#   DIR/lambda-<region>.json                 aws lambda list-functions --region <region>
#   DIR/event-source-mappings-<region>.json  aws lambda list-event-source-mappings --region <region>
# Regions: the arguments after DIR, else $AUDIT_REGIONS (comma-separated),
# else every region enabled for the account. Every file is written to a
# temporary name first, so a failed export never leaves a half-written file.
# Needs: iam:GetAccountAuthorizationDetails, lambda:ListFunctions,
# lambda:ListEventSourceMappings, ec2:DescribeRegions (only without regions).
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  echo "usage: $0 DIR [REGION...]" >&2
  exit 2
fi
dir=$1
shift
regions=("$@")
if [ ${#regions[@]} -eq 0 ] && [ -n "${AUDIT_REGIONS:-}" ]; then
  IFS=',' read -r -a regions <<<"$AUDIT_REGIONS"
fi
if [ ${#regions[@]} -eq 0 ]; then
  read -r -a regions <<<"$(aws ec2 describe-regions --query 'Regions[].RegionName' --output text)"
fi
mkdir -p "$dir"

export_to() { # export_to FILE COMMAND...
  local file=$1
  shift
  "$@" --output json >"$file.tmp"
  mv "$file.tmp" "$file"
}

export_to "$dir/iam.json" aws iam get-account-authorization-details
# The alias only names the account in alerts: skipped when denied.
export_to "$dir/account-aliases.json" aws iam list-account-aliases 2>/dev/null || rm -f "$dir/account-aliases.json.tmp"
for region in "${regions[@]}"; do
  [ -n "$region" ] || continue
  export_to "$dir/lambda-$region.json" aws lambda list-functions --region "$region"
  export_to "$dir/event-source-mappings-$region.json" aws lambda list-event-source-mappings --region "$region"
done
echo "snapshot written to $dir (${#regions[@]} regions)" >&2
