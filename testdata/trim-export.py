"""Drops the managed policies that no role references from an iam.json export.

moto returns every AWS-managed policy it knows (about 1,500) from
get-account-authorization-details; a real account returns the ones in use.
Trimming keeps the bundled sample small and realistic. Usage: trim-export.py FILE
"""
import json
import sys

path = sys.argv[1]
with open(path) as f:
    data = json.load(f)
used = set()
for role in data.get("RoleDetailList", []):
    used.update(p["PolicyArn"] for p in role.get("AttachedManagedPolicies", []))
    if role.get("PermissionsBoundary"):
        used.add(role["PermissionsBoundary"]["PermissionsBoundaryArn"])
data["Policies"] = [p for p in data.get("Policies", []) if p["Arn"] in used or ":iam::aws:policy/" not in p["Arn"]]
with open(path, "w") as f:
    json.dump(data, f, indent=4, sort_keys=False)
    f.write("\n")
