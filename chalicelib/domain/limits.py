"""Bounds on client-supplied free-form JSON, so nothing stored becomes unreadable or too large to store."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DEPTH = 16
MAX_PATH_SEGMENTS = 16


def _bounded(value: Any) -> Any:
    if _depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


JsonValue = Annotated[Any, AfterValidator(_bounded)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_bounded)]
