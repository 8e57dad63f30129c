"""infra/resources.yaml, .chalice/config.json and the IAM policy files agree, for every stage in config.json.

The deployable part of the template is deployed into moto's CloudFormation exactly as devstack does; what moto
cannot show (point-in-time recovery, CloudWatch alarms) is read from the template with its conditions resolved.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import MAX_ATTEMPTS_CAP
from devstack.resources import deploy, load_template
from infra.finalize import is_runtime_provided

from .support import (
    CHALICE_DIR,
    ROOT,
    STAGES,
    TABLE_VARS,
    WORKER_QUEUES,
    Resolver,
    function_setting,
    stage_config,
    stage_env,
)

# What the code calls (chalicelib/storage, directives/queue, Powertools idempotency) and what the SQS event
# source mapping needs from the function's role (ReceiveMessage, DeleteMessage, GetQueueAttributes).
# DynamoDB authorizes TransactWriteItems per item with Put/Update/Delete/ConditionCheckItem.
TABLE_ACTIONS = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                 "dynamodb:Query", "dynamodb:ConditionCheckItem"}
QUEUE_ACTIONS = {"sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                 "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"}


@pytest.fixture(scope="module", params=STAGES)
def deployed(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The stage's stack in moto: its tables, queues (with attributes) and continuous-backup settings."""
    stage = request.param
    with mock_aws():
        deploy(boto3.client("cloudformation", region_name="us-east-1"), stage)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        tables = dynamodb.list_tables()["TableNames"]
        queues = {url.rsplit("/", 1)[1]: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
                  for url in sqs.list_queues().get("QueueUrls", [])}
        return {"stage": stage, "tables": tables, "queues": queues}


def test_stack_creates_exactly_the_tables_and_queues_the_stage_names(deployed: dict[str, Any]) -> None:
    env = stage_env(deployed["stage"])
    assert set(deployed["tables"]) == {env[var] for var in TABLE_VARS}
    main_queues = {env[var] for var in WORKER_QUEUES.values()}
    dlqs = {json.loads(deployed["queues"][q]["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[1]
            for q in main_queues if q in deployed["queues"] and "RedrivePolicy" in deployed["queues"][q]}
    assert len(dlqs) == len(main_queues), "every worker queue needs its own dead-letter queue"
    assert set(deployed["queues"]) == main_queues | dlqs


def test_worker_queues_fit_the_workers(deployed: dict[str, Any]) -> None:
    stage = deployed["stage"]
    env = stage_env(stage)
    max_attempts = int(env["OMNIMAN_DIRECTIVE_MAX_ATTEMPTS"])
    for worker, var in WORKER_QUEUES.items():
        attrs = deployed["queues"][env[var]]
        timeout = function_setting(stage, worker, "lambda_timeout", 60)
        assert int(attrs["VisibilityTimeout"]) >= 6 * timeout, f"{env[var]}: visibility < 6x {worker} timeout"
        # The worker dead-letters a directive itself after its attempts: SQS must never move it earlier.
        max_receives = int(json.loads(attrs["RedrivePolicy"])["maxReceiveCount"])
        assert max_receives > max(max_attempts, MAX_ATTEMPTS_CAP), env[var]
        dlq = json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].rsplit(":", 1)[1]
        assert int(deployed["queues"][dlq]["MessageRetentionPeriod"]) >= int(attrs["MessageRetentionPeriod"])


@pytest.mark.parametrize("stage", STAGES)
def test_point_in_time_recovery_only_in_prod(stage: str) -> None:
    template = load_template()
    resolver = Resolver(template, {"Stage": stage})
    tables = [res for res in template["Resources"].values() if res.get("Type") == "AWS::DynamoDB::Table"]
    assert tables
    for table in tables:
        spec = resolver.value(table["Properties"]["PointInTimeRecoverySpecification"])
        assert spec["PointInTimeRecoveryEnabled"] is (stage == "prod"), table["Properties"]["TableName"]


def test_every_dead_letter_queue_has_an_alarm() -> None:
    resources = load_template()["Resources"]
    queues = [res["Properties"] for res in resources.values() if res.get("Type") == "AWS::SQS::Queue"]
    dlqs = {q["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0] for q in queues if "RedrivePolicy" in q}
    alarmed = {}
    for res in resources.values():
        if res.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = res["Properties"]
        (dimension,) = props["Dimensions"]
        assert dimension["Name"] == "QueueName"
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = props
    assert dlqs and set(alarmed) == dlqs
    for props in alarmed.values():
        assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)


def test_stage_mapping_matches_the_workers_reserved_concurrency() -> None:
    """The SQS event sources' MaximumConcurrency comes from this mapping (see the patches in the template)."""
    mapping = load_template()["Mappings"]["StageSettings"]
    assert set(mapping) == set(STAGES), "add a StageSettings row for each stage in .chalice/config.json"
    for stage in STAGES:
        for worker in WORKER_QUEUES:
            assert mapping[stage]["WorkerConcurrency"] == function_setting(stage, worker, "reserved_concurrency")


def statements(stage: str) -> list[dict[str, Any]]:
    cfg = stage_config(stage)
    assert cfg.get("autogen_policy") is False and cfg.get("iam_policy_file"), f"{stage}: policy must be explicit"
    policy = json.loads((CHALICE_DIR / cfg["iam_policy_file"]).read_text())
    return [{**s, "Action": _list(s["Action"]), "Resource": _list(s["Resource"])} for s in policy["Statement"]]


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


@pytest.mark.parametrize("stage", STAGES)
def test_iam_policy_is_least_privilege_for_the_stage(stage: str) -> None:
    env = stage_env(stage)
    tables, queues = {env[v] for v in TABLE_VARS}, {env[v] for v in WORKER_QUEUES.values()}
    granted_tables: set[str] = set()
    granted_queues: set[str] = set()
    for st in statements(stage):
        assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st
        assert not [a for a in st["Action"] if a == "*" or a.endswith(":*")], f"wildcard action in {st['Sid']}"
        services = {a.split(":", 1)[0] for a in st["Action"]}
        assert len(services) == 1, f"{st['Sid']}: one service per statement"
        service = services.pop()
        if "*" in st["Resource"]:
            assert service == "xray", f"{st['Sid']}: only X-Ray may use Resource '*'"
            continue
        for arn in st["Resource"]:
            _, kind, _, _, name = arn.split(":", 5)[1:]
            assert kind == service, arn
            if service == "dynamodb":
                assert name.startswith("table/"), arn
                table, _, rest = name.removeprefix("table/").partition("/")
                assert rest in ("", "index/*"), arn
                granted_tables.add(table)
            elif service == "sqs":
                granted_queues.add(name)
            elif service == "logs":
                assert name.startswith("log-group:/aws/lambda/"), arn
            elif service == "s3":
                assert name.startswith(f"omniman-{stage}-search-") and name.endswith("/catalog/*"), arn
            elif service == "ssm":
                # Secrets: read only, and only the stage's own path (its OMNIMAN_SECRETS_PATH).
                assert st["Action"] == ["ssm:GetParameter"], st["Action"]
                assert name == f"parameter{env['OMNIMAN_SECRETS_PATH']}*", arn
            else:
                pytest.fail(f"unexpected service {service} in {st['Sid']}")
        if service == "dynamodb":
            assert set(st["Action"]) >= TABLE_ACTIONS, TABLE_ACTIONS - set(st["Action"])
        if service == "sqs":
            assert set(st["Action"]) >= QUEUE_ACTIONS, QUEUE_ACTIONS - set(st["Action"])
    assert granted_tables == tables
    # The dead-letter queues too: the worker moves dead directives there and redrive moves them back.
    assert granted_queues == queues | {f"{q}-dlq" for q in queues}


def test_finalize_recognises_runtime_packages() -> None:
    assert is_runtime_provided("botocore/data/sqs/2012-11-05/service-2.json")
    assert is_runtime_provided("python_dateutil-2.9.0.post0.dist-info/METADATA")
    assert is_runtime_provided("six.py")
    assert not is_runtime_provided("jmespath/__init__.py")
    assert not is_runtime_provided("aws_xray_sdk-2.15.0.dist-info/METADATA")
    assert not is_runtime_provided("chalicelib/storage/aws.py")


def test_merge_template_lints_clean_apart_from_its_patches() -> None:
    """The file itself (what devstack deploys); its Type-less patch entries are E3001 by design."""
    patches = [name for name, res in load_template()["Resources"].items() if "Type" not in res]
    assert patches, "the ReportBatchItemFailures patches are gone"
    proc = subprocess.run(  # noqa: S603 - fixed command line
        [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", "--ignore-checks", "E3001",
         "--", str(ROOT / "infra" / "resources.yaml")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode & 0b11 == 0, proc.stdout + proc.stderr


def test_gateway_answers_use_the_api_error_shape_and_stay_out_of_the_local_stack() -> None:
    from devstack.resources import load_template, standalone_template

    template = load_template()
    for name, kind in (("ApiGateway4xxResponse", "DEFAULT_4XX"), ("ApiGateway5xxResponse", "DEFAULT_5XX")):
        props = template["Resources"][name]["Properties"]
        assert props["ResponseType"] == kind
        rendered = props["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        assert set(json.loads(rendered)["error"]) == {"code", "message", "details"}
    settings = template["Resources"]["RestAPI"]["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == {"Fn::FindInMap": ["StageSettings", {"Ref": "Stage"}, "ApiRateLimit"]}
    local = standalone_template()["Resources"]
    assert "ApiGateway4xxResponse" not in local and "MainTable" in local and "DirectivesDeadLetterAlarm" in local


def test_unknown_routes_and_methods_answer_404_not_found_on_aws() -> None:
    # API Gateway's own answer for them is a 403 "Missing Authentication Token"; the local server answers 404 too.
    from devstack.resources import load_template, standalone_template

    props = load_template()["Resources"]["ApiGatewayUnknownRouteResponse"]["Properties"]
    assert (props["ResponseType"], props["StatusCode"], props["RestApiId"]) == (
        "MISSING_AUTHENTICATION_TOKEN", "404", {"Ref": "RestAPI"})
    rendered = json.loads(props["ResponseTemplates"]["application/json"])
    assert set(rendered["error"]) == {"code", "message", "details"}
    assert rendered["error"]["code"] == "not_found"
    assert "ApiGatewayUnknownRouteResponse" not in standalone_template()["Resources"]
