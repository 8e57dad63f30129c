"""The Lambda functions of the app as the local stack runs them: handler plus the settings its context reports.

Timeouts and memory sizes come from the Chalice stage in .chalice/config.json, so a handler that reads
`context.get_remaining_time_in_millis()` (Powertools idempotency does) sees what it would see deployed.
Only those settings are read from it: the stage's environment variables name the dev stage's tables and
are deliberately not used (the local stack sets its own, see environment.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice.config import Config
from chalice.local import LambdaContext

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_STAGE = "dev"  # the Chalice stage whose function settings the local stack mirrors

# (event, context) -> response: how Lambda calls a handler; Chalice's EventSourceHandler has this signature.
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Function:
    name: str
    handler: Handler
    memory_size: int = 512
    timeout_ms: int = 60_000

    def context(self) -> LambdaContext:
        # A fresh context per invocation: its remaining time counts down from the invocation's start.
        return LambdaContext(self.name, self.memory_size, max_runtime_ms=self.timeout_ms)


def chalice_config(function_name: str = "api_handler", **params: Any) -> Config:
    """The project's Chalice config for CONFIG_STAGE, with `params` on top (as the CLI passes its options)."""
    from_disk = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    return Config(chalice_stage=CONFIG_STAGE, function_name=function_name,
                  user_provided_params={"project_dir": str(PROJECT_DIR), **params}, config_from_disk=from_disk)


def function(name: str, handler: Handler, stage: str) -> Function:
    """`name` as Chalice names it in the app (e.g. directive_worker); deployed it is <app>-<stage>-<name>."""
    config = chalice_config(name)
    return Function(
        name=f"{config.app_name}-{stage}-{name}",
        handler=handler,
        memory_size=config.lambda_memory_size or 128,
        timeout_ms=(config.lambda_timeout or 60) * 1000,
    )
