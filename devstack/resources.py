"""Creates the stack's tables and queues from infra/resources.yaml, through CloudFormation.

The merge template also patches resources that only Chalice's package defines (entries without a `Type`);
those are dropped here, everything else is deployed exactly as written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.yaml"
STACK_PREFIX = "omniman-resources"
EMULATOR_ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def standalone_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template without what only exists merged into Chalice's package: patches (no `Type`) and
    resources that reference Chalice's resources (e.g. the API Gateway responses)."""
    template = load_template(path)
    template.pop("Transform", None)
    resources = {name: res for name, res in template["Resources"].items() if "Type" in res}
    known = set(resources) | set(template.get("Parameters", {}))
    template["Resources"] = {name: res for name, res in resources.items()
                             if all(ref in known or ref.startswith("AWS::") for ref in _references(res))}
    return template


def _references(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node))
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            found.add(value[0] if isinstance(value, list) else str(value).split(".", 1)[0])
        else:
            found |= _references(value)
    return found


def env_for_stage(stage: str) -> dict[str, str]:
    """The environment the app needs for resources deployed with Stage=`stage` (mirrors .chalice/config.json)."""
    return {
        "OMNIMAN_STAGE": stage,
        "OMNIMAN_TABLE": f"omniman-{stage}-main",
        "OMNIMAN_IDEMPOTENCY_TABLE": f"omniman-{stage}-idempotency",
        "OMNIMAN_DIRECTIVES_QUEUE": f"omniman-{stage}-directives",
        "OMNIMAN_CHECKS_QUEUE": f"omniman-{stage}-checks",
        # The template names the bucket with the account; the emulators' account is always this one.
        "OMNIMAN_SEARCH_BUCKET": f"omniman-{stage}-search-{EMULATOR_ACCOUNT}",
    }


def deploy(cloudformation: Any, stage: str, *, dynamodb: Any | None = None) -> list[dict[str, Any]]:
    """Creates (or leaves as is) the stage's resource stack; returns the stack's resources.

    `dynamodb` is only needed for the post-deploy step (TTL); by default it is built to reach the same place
    as `cloudformation` (see `_sibling_client`).
    """
    name = f"{STACK_PREFIX}-{stage}"
    # Paginated: on a real account the stack may not be on the first page.
    existing = [s for page in cloudformation.get_paginator("list_stacks").paginate() for s in page["StackSummaries"]
                if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]
    if not existing:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(standalone_template()),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        )
    if not existing or existing[0]["StackStatus"] == "CREATE_IN_PROGRESS":
        # Real CloudFormation (and LocalStack) create asynchronously; moto is already done, so the first poll matches.
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 5})
    apply_time_to_live(dynamodb or _sibling_client(cloudformation, "dynamodb"), stage)
    return cloudformation.describe_stack_resources(StackName=name)["StackResources"]


def time_to_live_specs(stage: str, template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Table name -> TimeToLiveSpecification, for every table of the template that declares one."""
    template = template or standalone_template()
    specs: dict[str, dict[str, Any]] = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table" and props.get("TimeToLiveSpecification"):
            specs[_resolve_name(props["TableName"], {"Stage": stage})] = props["TimeToLiveSpecification"]
    return specs


def apply_time_to_live(dynamodb: Any, stage: str) -> None:
    """moto's CloudFormation ignores TimeToLiveSpecification, so the local stack applies it after the deploy.

    On AWS, CloudFormation has already applied it: the table reports it enabled and nothing is changed
    (enabling TTL twice is an error in DynamoDB, hence the check first).
    """
    for table, spec in time_to_live_specs(stage).items():
        current = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        enabled = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        wanted = bool(spec.get("Enabled"))
        if enabled == wanted and (not wanted or current.get("AttributeName") == spec["AttributeName"]):
            continue
        dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "AttributeName": spec["AttributeName"], "Enabled": wanted,
        })


def _resolve_name(value: Any, parameters: dict[str, str]) -> str:
    """Resolves a literal or a `Fn::Sub` string over the template parameters (all the names here use)."""
    if isinstance(value, str):
        return value
    template = value.get("Fn::Sub") if isinstance(value, dict) else None
    if not isinstance(template, str):
        raise ValueError(f"unsupported resource name {value!r}: expected a string or a !Sub string")

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in parameters:
            raise ValueError(f"cannot resolve ${{{match.group(1)}}} in {template!r}")
        return parameters[match.group(1)]

    return re.sub(r"\$\{([^}!]+)\}", substitute, template)


def _sibling_client(reference: Any, service: str) -> Any:
    """A client for `service` in the same region as `reference`, and at the same endpoint when that is an
    emulator (moto, LocalStack: one endpoint serves every service). On AWS each service has its own endpoint."""
    endpoint = reference.meta.endpoint_url
    host = urlparse(endpoint).hostname or ""
    on_aws = host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn")
    return boto3.client(service, region_name=reference.meta.region_name, endpoint_url=None if on_aws else endpoint)
