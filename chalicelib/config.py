"""Every setting, read from the environment and validated once, at start (I10)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from .domain.errors import ConfigurationError

# Environment variable -> setting. The infra template creates exactly the resources these name.
ENV = {
    "OMNIMAN_STAGE": "stage",
    "OMNIMAN_TABLE": "table",
    "OMNIMAN_IDEMPOTENCY_TABLE": "idempotency_table",
    "OMNIMAN_DIRECTIVES_QUEUE": "directives_queue",
    "OMNIMAN_CHECKS_QUEUE": "checks_queue",
    "OMNIMAN_AWS_ENDPOINT_URL": "aws_endpoint_url",
    "OMNIMAN_ALLOW_EMULATOR": "allow_emulator",
    "OMNIMAN_DIRECTIVE_MAX_ATTEMPTS": "directive_max_attempts",
    "OMNIMAN_DIRECTIVE_TOPIC_MAX_ATTEMPTS": "directive_topic_max_attempts",
    "OMNIMAN_DIRECTIVE_RETRY_BASE_SECONDS": "directive_retry_base_seconds",
    "OMNIMAN_COMMIT_INFLIGHT_WAIT_MS": "commit_inflight_wait_ms",
    "OMNIMAN_IDEMPOTENCY_TTL_SECONDS": "idempotency_ttl_seconds",
    "OMNIMAN_SECRETS_PATH": "secrets_path",
    "OMNIMAN_SEARCH_BUCKET": "search_bucket",
    "OMNIMAN_SEARCH_CHECK_SECONDS": "search_check_seconds",
    "OMNIMAN_REINDEX_QUIET_SECONDS": "reindex_quiet_seconds",
    "OMNIMAN_REINDEX_BURST_QUIET_SECONDS": "reindex_burst_quiet_seconds",
    "OMNIMAN_REINDEX_MAX_LAG_SECONDS": "reindex_max_lag_seconds",
    "OMNIMAN_RATE_LIMIT_ENABLED": "rate_limit_enabled",
    "OMNIMAN_KEY_RATE_LIMIT_PER_MINUTE": "key_rate_limit_per_minute",
    "OMNIMAN_COMMIT_RATE_LIMIT_PER_MINUTE": "commit_rate_limit_per_minute",
    "OMNIMAN_AUTH_FAILURE_LIMIT_PER_MINUTE": "auth_failure_limit_per_minute",
    "OMNIMAN_KEY_CACHE_SECONDS": "key_cache_seconds",
    "OMNIMAN_FEED_RETENTION_DAYS": "feed_retention_days",
}
REQUIRED = ("OMNIMAN_TABLE", "OMNIMAN_IDEMPOTENCY_TABLE", "OMNIMAN_DIRECTIVES_QUEUE", "OMNIMAN_CHECKS_QUEUE")
PRODUCTION_STAGES = frozenset({"prod"})
MAX_ATTEMPTS_CAP = 20


class Settings(BaseModel):
    stage: str = "dev"
    table: str = Field(min_length=3)
    idempotency_table: str = Field(min_length=3)
    directives_queue: str = Field(min_length=1)
    checks_queue: str = Field(min_length=1)
    aws_endpoint_url: str | None = None
    allow_emulator: bool = False
    # Attempts before a directive is dead and moved to the dead-letter queue by the worker itself; per topic
    # as "topic=n,topic=n". The queues' maxReceiveCount (25) stays above these: it only catches crashed workers.
    directive_max_attempts: int = Field(5, ge=1, le=MAX_ATTEMPTS_CAP)
    directive_topic_max_attempts: dict[str, Annotated[int, Field(ge=1, le=MAX_ATTEMPTS_CAP)]] = Field(
        default_factory=dict)
    # A failed directive is retried after base, 2x, 4x... seconds (capped below the queue's visibility timeout).
    directive_retry_base_seconds: int = Field(5, ge=0, le=60)
    # How long a commit waits for a concurrent commit with the same key before answering 409.
    commit_inflight_wait_ms: int = Field(2000, ge=0, le=25_000)
    idempotency_ttl_seconds: int = Field(86_400, ge=86_400)
    # The S3 bucket of the catalog's search index (infra creates it; without it search answers 503).
    search_bucket: str | None = Field(None, min_length=3, max_length=63)
    # How often an API process asks S3 whether the index changed (a conditional GetObject).
    search_check_seconds: float = Field(5.0, ge=0, le=300)
    # The search index is rebuilt once the catalog has been quiet this long after a lone write (each write's
    # catalog.reindex directive is delayed by it), this long after a run of writes (an import in batches), and
    # never later than the lag bound however the writes keep coming (domain/reindex.py).
    reindex_quiet_seconds: int = Field(1, ge=0, le=60)
    reindex_burst_quiet_seconds: int = Field(10, ge=0, le=600)
    reindex_max_lag_seconds: int = Field(60, ge=1, le=3600)
    # Where deployed stages keep their secrets in SSM Parameter Store (see secrets.py); unset locally.
    secrets_path: str | None = Field(None, pattern=r"^/[A-Za-z0-9_./-]*/$")
    # Per-key request limits (sliding window, per minute); a key may carry its own. False switches every
    # limiter off (the seed's RATE_LIMIT_ENABLED).
    rate_limit_enabled: bool = True
    key_rate_limit_per_minute: int = Field(600, ge=1, le=1_000_000)
    commit_rate_limit_per_minute: int = Field(60, ge=1, le=1_000_000)
    # Requests with a missing or bad key from one source IP before it gets 429s instead of 401s.
    auth_failure_limit_per_minute: int = Field(20, ge=1, le=1_000_000)
    # How long a process trusts a key record it read; a revocation reaches other warm processes within this.
    key_cache_seconds: int = Field(10, ge=0, le=300)
    # How long the change feed keeps a change (its TTL); a cursor older than this is 410 `cursor_expired`.
    feed_retention_days: int = Field(7, ge=1, le=365)

    @field_validator("directive_topic_max_attempts", mode="before")
    @classmethod
    def _parse_topic_attempts(cls, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        pairs = [part.split("=", 1) for part in raw.split(",") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError("expected topic=attempts pairs separated by commas")
        return {topic.strip(): attempts.strip() for topic, attempts in pairs}

    def max_attempts(self, topic: str, handler_default: int | None = None) -> int:
        """Operator setting first, then what the handler registered, then the global default."""
        return self.directive_topic_max_attempts.get(topic) or handler_default or self.directive_max_attempts


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        raise ConfigurationError(
            f"Omniman cannot start: missing environment variables {', '.join(missing)} "
            "(set them in .chalice/config.json for a deployed stage; `make run` sets them locally)"
        )
    values = {field: env[name] for name, field in ENV.items() if env.get(name)}
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        raise ConfigurationError(f"Omniman cannot start: invalid configuration: {exc}") from None
    if settings.aws_endpoint_url and settings.stage in PRODUCTION_STAGES and not settings.allow_emulator:
        # I9: the emulator wiring can never be active in a deployed production stage by accident.
        raise ConfigurationError(
            f"stage {settings.stage!r} must not use OMNIMAN_AWS_ENDPOINT_URL unless OMNIMAN_ALLOW_EMULATOR=true"
        )
    return settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return load_settings()
