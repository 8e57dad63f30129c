"""Wires settings to stores, queue and registry once per process; every service takes a Hub."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from ..config import Settings
from ..directives.queue import DirectiveQueue
from ..domain.registry import Registry
from ..inventory import Inventory
from ..ratelimit import RateLimiter
from ..secrets import CURSOR, Secrets
from ..storage.api_keys import ApiKeyStore
from ..storage.aws import LazyClient, client
from ..storage.channels import ChannelStore
from ..storage.db import Db
from ..storage.directives import DirectiveStore
from ..storage.feed import FeedStore
from ..storage.orders import OrderStore
from ..storage.refs import RefStore
from ..storage.sessions import SessionStore
from ..storage.stats import StatsStore
from .api_keys import Authenticator

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@dataclass
class Hub:
    settings: Settings
    registry: Registry
    db: Db
    channels: ChannelStore
    sessions: SessionStore
    orders: OrderStore
    refs: RefStore
    directives: DirectiveStore
    feed: FeedStore
    inventory: Inventory
    queue: DirectiveQueue
    secrets: Secrets
    api_keys: ApiKeyStore
    stats: StatsStore
    authenticator: Authenticator
    limiter: RateLimiter

    @cached_property
    def idempotency(self) -> DynamoDBPersistenceLayer:
        """Every command's idempotency records (services/idempotency.py): one layer, one key expression for all.

        Made, and Powertools idempotency imported, on the first command: the workers and the relay never need it.
        """
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        return DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto3_client=self.db.client)


def build_hub(settings: Settings, registry: Registry) -> Hub:
    dynamodb = client("dynamodb", settings.aws_endpoint_url)
    # Made on first use: the functions that never read a secret or send a message skip them at cold start.
    ssm = LazyClient("ssm", settings.aws_endpoint_url) if settings.secrets_path else None
    secrets = Secrets(settings.secrets_path, ssm)
    db = Db(dynamodb, settings.table, cursor_key=lambda: secrets.require(CURSOR).encode())
    directives = DirectiveStore(db)
    api_keys = ApiKeyStore(db)
    return Hub(
        settings=settings,
        registry=registry,
        db=db,
        channels=ChannelStore(db),
        sessions=SessionStore(db),
        orders=OrderStore(db),
        refs=RefStore(db),
        directives=directives,
        feed=FeedStore(db),
        inventory=Inventory(db),
        queue=DirectiveQueue(
            LazyClient("sqs", settings.aws_endpoint_url),
            {"directives": settings.directives_queue, "checks": settings.checks_queue},
        ),
        secrets=secrets,
        api_keys=api_keys,
        stats=StatsStore(db),
        authenticator=Authenticator(api_keys, settings.key_cache_seconds),
        limiter=RateLimiter(db, enabled=settings.rate_limit_enabled),
    )
