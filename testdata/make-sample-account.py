"""Seeds a moto server with the bundled sample account.

Run through `make sample`, which starts moto, runs this script, and exports
the account with deploy/export-snapshot.sh into testdata/sample-account/.
The names follow the rule's knowledge-base page (cc-process-app-queue,
cc-app-function-execution-role, ...). Every rule fires more than once.
"""
import io
import json
import os
import zipfile

import boto3

ACCOUNT = "123456789012"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
AWS = "arn:aws:iam::aws:policy/"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def code():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def main():
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    lam = {r: boto3.client("lambda", endpoint_url=endpoint, region_name=r) for r in ("us-east-1", "eu-west-1")}
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")

    def policy(name, *versions):
        arn = iam.create_policy(PolicyName=name, PolicyDocument=versions[0])["Policy"]["Arn"]
        for v in versions[1:]:
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=v, SetAsDefault=True)
        return arn

    def role(name, attached=(), inline=None, boundary=None):
        kw = {"PermissionsBoundary": boundary} if boundary else {}
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **kw)["Role"]["Arn"]
        for p in attached:
            iam.attach_role_policy(RoleName=name, PolicyArn=p)
        for pname, pdoc in (inline or {}).items():
            iam.put_role_policy(RoleName=name, PolicyName=pname, PolicyDocument=pdoc)
        return arn

    def function(region, name, role_arn, **extra):
        return lam[region].create_function(FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="index.handler",
                                           Code={"ZipFile": code()}, **extra)["FunctionArn"]

    managed = policy("cc-lambda-managed-policy",
                     doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::cc-app-data/*"}),
                     doc({"Action": "*", "Resource": "*", "Effect": "Allow"}))
    app_role = role("cc-app-function-execution-role", [managed],
                    {"cc-lambda-inline-policy": doc({"Action": ["*"], "Resource": ["*"], "Effect": "Allow", "Sid": "FullAccess"})})
    queue_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="cc-app-queue")["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName="cc-app-dlq")["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    function("us-east-1", "cc-process-app-queue", app_role,
             VpcConfig={"SubnetIds": ["subnet-abcd1234", "subnet-1234abcd"], "SecurityGroupIds": ["sg-0abcd1234abcd1234"]},
             DeadLetterConfig={"TargetArn": dlq_arn})
    lam["us-east-1"].create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="cc-process-app-queue")
    function("us-east-1", "cc-export-user-data", app_role, TracingConfig={"Mode": "Active"},
             KMSKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    function("eu-west-1", "cc-get-ec2-log-data", app_role)

    ops_role = role("cc-ops-automation-role", [AWS + "PowerUserAccess"])
    function("us-east-1", "cc-ops-cleanup", ops_role)
    function("eu-west-1", "cc-ops-rotate-keys", ops_role)

    deploy_role = role("cc-deploy-helper-role", [AWS + "service-role/AWSLambdaBasicExecutionRole"],
                       {"cc-deploy-permissions": doc({"Sid": "ManageRoles", "Effect": "Allow", "Action": ["iam:Put*", "iam:PassRole"], "Resource": "*"})})
    function("us-east-1", "cc-deploy-stack", deploy_role)
    function("us-east-1", "cc-deploy-rollback", deploy_role)

    boundary = policy("cc-sandbox-boundary", doc({"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}))
    sandbox_role = role("cc-sandbox-role", [AWS + "AdministratorAccess"], boundary=boundary)
    function("us-east-1", "cc-sandbox-experiment-1", sandbox_role)
    function("us-east-1", "cc-sandbox-experiment-2", sandbox_role)

    worker_role = role("LambdaExecutionRole", [AWS + "AdministratorAccess", AWS + "service-role/AWSLambdaBasicExecutionRole", AWS + "AWSXRayDaemonWriteAccess"])
    function("us-east-1", "cc-app-worker-function", worker_role,
             VpcConfig={"SubnetIds": ["subnet-abcd1234", "subnet-1234abcd"], "SecurityGroupIds": ["sg-0abcd1234abcd1234"]},
             TracingConfig={"Mode": "Active"})

    report_role = role("cc-report-builder-role", [AWS + "IAMFullAccess"])
    function("eu-west-1", "cc-report-builder", report_role)

    logging_role = role("cc-shared-logging-role", [AWS + "service-role/AWSLambdaBasicExecutionRole"])
    function("us-east-1", "cc-log-shipper", logging_role)
    function("eu-west-1", "cc-log-shipper", logging_role)

    table = ddb.create_table(TableName="cc-user-events", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
                             StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    stream_role = role("cc-stream-reader-role", [AWS + "service-role/AWSLambdaDynamoDBExecutionRole"])
    function("us-east-1", "cc-user-events-indexer", stream_role)
    function("us-east-1", "cc-user-events-archiver", stream_role)
    lam["us-east-1"].create_event_source_mapping(EventSourceArn=table["TableDescription"]["LatestStreamArn"],
                                                 FunctionName="cc-user-events-indexer", StartingPosition="LATEST")

    locked = role("cc-quarantined-role", [AWS + "AdministratorAccess"],
                  {"cc-quarantine": doc({"Sid": "Quarantine", "Effect": "Deny", "Action": "*", "Resource": "*"})})
    function("us-east-1", "cc-legacy-import", locked)
    function("us-east-1", "cc-legacy-export", locked)

    old = policy("cc-archive-policy",
                 doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
                 doc({"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::cc-archive/*"}))
    function("eu-west-1", "cc-archive-writer", role("cc-archive-writer-role", [old, AWS + "service-role/AWSLambdaBasicExecutionRole"]))

    new_role = role("cc-new-app-function-role", [AWS + "service-role/AWSLambdaSQSQueueExecutionRole"])
    function("us-east-1", "cc-new-app-function", new_role)

    # A role no function uses is not part of the audit.
    role("cc-unused-admin-role", [AWS + "AdministratorAccess"])


if __name__ == "__main__":
    main()
