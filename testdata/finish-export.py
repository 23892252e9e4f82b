"""Finishes a moto export into the bundled sample account.

Usage: finish-export.py DIR

1. Drops the managed policies that no role references from DIR/iam.json: moto
   returns every AWS-managed policy it knows (about 1,500) from
   get-account-authorization-details, a real account the ones in use.
2. Adds to DIR/lambda-us-east-1.json the configuration that moto accepts but
   does not return (dead-letter target, environment KMS key, layers, EFS), and
   an environment, in
   the shape list-functions returns it, so the demo shows every part of a
   remediation plan.
"""
import json
import sys

directory = sys.argv[1]

path = f"{directory}/iam.json"
with open(path) as f:
    data = json.load(f)
used = set()
for role in data.get("RoleDetailList", []):
    used.update(p["PolicyArn"] for p in role.get("AttachedManagedPolicies", []))
    if role.get("PermissionsBoundary"):
        used.add(role["PermissionsBoundary"]["PermissionsBoundaryArn"])
data["Policies"] = [p for p in data.get("Policies", []) if p["Arn"] in used or ":iam::aws:policy/" not in p["Arn"]]
with open(path, "w") as f:
    json.dump(data, f, indent=4)
    f.write("\n")

ACCOUNT = "123456789012"
extra = {
    "cc-process-app-queue": {"DeadLetterConfig": {"TargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:cc-app-dlq"}},
    "cc-export-user-data": {
        "KMSKeyArn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "FileSystemConfigs": [{"Arn": f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}:access-point/fsap-0123456789abcdef0", "LocalMountPath": "/mnt/exports"}],
        # Two values that name resources (kept as referenced) and one that
        # does not (never copied anywhere).
        "Environment": {"Variables": {
            "EXPORT_BUCKET": "s3://cc-user-exports/daily",
            "USERS_TABLE": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/cc-users",
            "DB_PASSWORD": "sample-only-Pa55word",
        }},
    },
    "cc-app-worker-function": {"Layers": [{"Arn": "arn:aws:lambda:us-east-1:580247275435:layer:LambdaInsightsExtension:38", "CodeSize": 4223940}]},
}
path = f"{directory}/lambda-us-east-1.json"
with open(path) as f:
    data = json.load(f)
for fn in data["Functions"]:
    fn.update(extra.get(fn["FunctionName"], {}))
with open(path, "w") as f:
    json.dump(data, f, indent=4)
    f.write("\n")
