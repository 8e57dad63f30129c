"""What the infra tests share: the Chalice config per stage, and a small resolver for CloudFormation values."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHALICE_DIR = ROOT / ".chalice"
CONFIG: dict[str, Any] = json.loads((CHALICE_DIR / "config.json").read_text())
STAGES = sorted(CONFIG["stages"])
CHALICE_DEFAULT_TIMEOUT = 60

# Which worker consumes which queue (the env var naming it). test_package checks the packaged event sources agree.
WORKER_QUEUES = {"directive_worker": "OMNIMAN_DIRECTIVES_QUEUE", "check_worker": "OMNIMAN_CHECKS_QUEUE"}
TABLE_VARS = ("OMNIMAN_TABLE", "OMNIMAN_IDEMPOTENCY_TABLE")
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
          "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}


def stage_config(stage: str) -> dict[str, Any]:
    return CONFIG["stages"][stage]


def stage_env(stage: str) -> dict[str, str]:
    return {**CONFIG.get("environment_variables", {}), **stage_config(stage)["environment_variables"]}


def function_setting(stage: str, function: str, key: str, default: Any = None) -> Any:
    """A Lambda setting as Chalice resolves it: function in stage, then stage, then top level."""
    stage_cfg = stage_config(stage)
    for scope in (stage_cfg.get("lambda_functions", {}).get(function, {}), stage_cfg, CONFIG):
        if key in scope:
            return scope[key]
    return default


def logical_id(function: str) -> str:
    """Chalice's CloudFormation logical id for a function name (api_handler is special)."""
    return "APIHandler" if function == "api_handler" else "".join(p.capitalize() for p in function.split("_"))


class Resolver:
    """Evaluates the intrinsics these templates use, for one set of parameter values."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]):
        self.template = template
        self.parameters = {**PSEUDO, **parameters}

    def condition(self, name: str) -> bool:
        return bool(self.value(self.template["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            return {k: self.value(v) for k, v in node.items()} if isinstance(node, dict) else node
        (key, arg), = node.items()
        if key == "Ref":
            return self.parameters.get(arg, f"<{arg}>")
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = self.value(arg)
            return left == right
        if key == "Fn::Not":
            return not self.value(arg[0])
        if key == "Fn::If":
            name, then, other = arg
            return self.value(then if self.condition(name) else other)
        if key == "Fn::FindInMap":
            mapping, top, second = self.value(arg)
            return self.template["Mappings"][mapping][top][second]
        if key == "Fn::Sub" and isinstance(arg, str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: str(self.value({"Ref": m.group(1)})), arg)
        if key == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        return {key: self.value(arg)}
