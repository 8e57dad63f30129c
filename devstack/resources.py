"""Creates the stack's tables and queues from infra/resources.yaml, through CloudFormation.

The merge template also patches resources that only Chalice's package defines (entries without a `Type`);
those are dropped here, everything else is deployed exactly as written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.yaml"
STACK_PREFIX = "omniman-resources"


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
    template = load_template(path)
    template.pop("Transform", None)
    template["Resources"] = {name: res for name, res in template["Resources"].items() if "Type" in res}
    return template


def env_for_stage(stage: str) -> dict[str, str]:
    """The environment the app needs for resources deployed with Stage=`stage` (mirrors .chalice/config.json)."""
    return {
        "OMNIMAN_STAGE": stage,
        "OMNIMAN_TABLE": f"omniman-{stage}-main",
        "OMNIMAN_IDEMPOTENCY_TABLE": f"omniman-{stage}-idempotency",
        "OMNIMAN_DIRECTIVES_QUEUE": f"omniman-{stage}-directives",
        "OMNIMAN_CHECKS_QUEUE": f"omniman-{stage}-checks",
    }


def deploy(cloudformation: Any, stage: str) -> list[dict[str, Any]]:
    """Creates (or leaves as is) the stage's resource stack; returns the stack's resources."""
    name = f"{STACK_PREFIX}-{stage}"
    existing = [s for s in cloudformation.list_stacks()["StackSummaries"]
                if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]
    if not existing:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(standalone_template()),
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": stage}],
        )
    return cloudformation.describe_stack_resources(StackName=name)["StackResources"]
