"""Request bodies -> pydantic models, with failures in the one error vocabulary."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..domain.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, what: str = "body") -> M:
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} must be a JSON object", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        first = errors[0]
        where = ".".join(first["loc"]) or what
        raise InvalidInput(f"{where}: {first['msg']}", code="validation_error", details={"errors": errors}) from None
