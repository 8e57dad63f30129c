"""Wires settings to stores, queue and registry once per process; every service takes a Hub."""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from ..config import Settings
from ..directives.queue import DirectiveQueue
from ..domain.registry import Registry
from ..inventory import Inventory
from ..storage.aws import client
from ..storage.channels import ChannelStore
from ..storage.db import Db
from ..storage.directives import DirectiveStore
from ..storage.orders import OrderStore
from ..storage.sessions import SessionStore


@dataclass
class Hub:
    settings: Settings
    registry: Registry
    db: Db
    channels: ChannelStore
    sessions: SessionStore
    orders: OrderStore
    directives: DirectiveStore
    inventory: Inventory
    queue: DirectiveQueue
    # Commit's own layer: Powertools configures a layer once, with its first caller's key expression.
    commit_idempotency: DynamoDBPersistenceLayer


def build_hub(settings: Settings, registry: Registry) -> Hub:
    dynamodb = client("dynamodb", settings.aws_endpoint_url)
    db = Db(dynamodb, settings.table)
    directives = DirectiveStore(db)
    return Hub(
        settings=settings,
        registry=registry,
        db=db,
        channels=ChannelStore(db),
        sessions=SessionStore(db),
        orders=OrderStore(db),
        directives=directives,
        inventory=Inventory(db),
        queue=DirectiveQueue(
            client("sqs", settings.aws_endpoint_url),
            {"directives": settings.directives_queue, "checks": settings.checks_queue},
            directives,
        ),
        commit_idempotency=DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb),
    )
