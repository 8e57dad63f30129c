"""The local stack end to end: `python -m devstack` as a developer runs it, driven over real HTTP.

Also, in-process: the SQS poller against the embedded emulator, where a poison directive walks to the
dead-letter queue exactly as on AWS (hard to provoke over HTTP, since channels refuse unhandled topics).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.emulator import Emulator, start_emulator
from devstack.lambdas import Function
from devstack.poller import QueuePoller, failed_ids
from devstack.resources import deploy, env_for_stage

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"Omniman is ready on (http://\S+)")
START_TIMEOUT = 90
STOP_TIMEOUT = 30
# The stack's admin key, chosen here as a developer would with OMNIMAN_BOOTSTRAP_ADMIN_KEY; every request sends it.
ADMIN_KEY = "omk_e2e000000000_local-stack-admin-key-for-tests"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


# --- helpers ------------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    json: Any


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         key: str | None = ADMIN_KEY) -> Reply:
    data = json.dumps(body).encode() if body is not None else None
    auth = {"Authorization": f"Bearer {key}"} if key else {}
    req = urllib.request.Request(url, data=data, method=method,  # noqa: S310 - a http://127.0.0.1 URL built here
                                 headers={"Content-Type": "application/json", **auth, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310
            status, hdrs, raw = resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        status, hdrs, raw = exc.code, exc.headers, exc.read()
    return Reply(status, {k.lower(): v for k, v in hdrs.items()}, json.loads(raw) if raw else None)


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


# --- the stack as a subprocess ------------------------------------------------------------------------------------
@dataclass
class RunningStack:
    proc: subprocess.Popen[bytes]
    url: str
    emulator_url: str
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return f"--- stdout ---\n{self.stdout.read_text()}\n--- stderr ---\n{self.stderr.read_text()[-6000:]}"


def clean_env(**settings: str) -> dict[str, str]:
    # tests/conftest.py points this process at stage "test" and moto-in-process settings: none of it may
    # leak into the stack, which must find its own defaults as under `make run`.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIMAN_", "POWERTOOLS_", "AWS_"))}
    return {**env, "PYTHONUNBUFFERED": "1", **settings}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    logs = tmp_path_factory.mktemp("devstack")
    api_port, emulator_port = free_port(), free_port()
    stdout, stderr = logs / "stdout.log", logs / "stderr.log"
    # Files, not pipes: a pipe nobody drains would block the stack once its buffer fills with log lines.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, stdout=out, stderr=err,
            env=clean_env(OMNIMAN_PORT=str(api_port), OMNIMAN_EMULATOR_PORT=str(emulator_port),
                          OMNIMAN_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY),
        )
    try:
        def ready() -> str | None:
            if proc.poll() is not None:
                raise AssertionError(f"devstack exited with {proc.returncode} before it was ready:\n"
                                     f"{stdout.read_text()}\n{stderr.read_text()[-6000:]}")
            match = READY.search(stdout.read_text())
            return match.group(1) if match else None

        url = wait_for(ready, START_TIMEOUT, "the ready line", interval=0.25)
        yield RunningStack(proc, url, f"http://127.0.0.1:{emulator_port}", stdout, stderr)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def place_order(url: str, key: str) -> tuple[Reply, str]:
    """Session on pos -> add 2 COFFEE -> commit with an Idempotency-Key; returns the commit reply and order ref."""
    created = http("POST", f"{url}/v1/channels/pos/sessions", {"session_key": key})
    assert created.status == 201, created.json
    modified = http("POST", f"{url}/v1/channels/pos/sessions/{key}/modify",
                    {"ops": [{"op": "add_line", "sku": "COFFEE", "qty": 2}]})
    assert modified.status == 200, modified.json
    assert modified.json["pricing"]["total_q"] == 1000  # the demo price list: COFFEE 500
    committed = http("POST", f"{url}/v1/channels/pos/sessions/{key}/commit", {}, {"Idempotency-Key": key})
    assert committed.status == 201, committed.json
    return committed, committed.json["order_ref"]


def directive_done(url: str, order_ref: str, topic: str) -> dict[str, Any] | None:
    listed = http("GET", f"{url}/v1/directives?order_ref={order_ref}")
    assert listed.status == 200, listed.json
    return next((d for d in listed.json["items"] if d["topic"] == topic and d["status"] == "done"), None)


# --- end to end ---------------------------------------------------------------------------------------------------
def test_stack_is_up_with_the_local_stage_and_the_demo_channels(stack: RunningStack) -> None:
    assert stack.url.startswith("http://127.0.0.1:")
    health = http("GET", f"{stack.url}/v1/health")
    assert (health.status, health.json) == (200, {"status": "ok", "stage": "local"})

    channels = http("GET", f"{stack.url}/v1/channels")
    assert channels.status == 200
    by_code = {c["code"]: c for c in channels.json["items"]}
    assert {"pos", "web", "marketplace", "shop"} <= set(by_code)
    assert by_code["pos"]["pricing_policy"] == "internal"
    assert by_code["marketplace"]["edit_policy"] == "locked"
    assert by_code["marketplace"]["config"]["order_flow"]["initial_status"] == "pending"

    out = stack.stdout.read_text()
    assert stack.emulator_url in out  # the summary names the emulator at the port asked for
    assert "Idempotency-Key" in out and "Ctrl-C" in out


def test_order_commit_replay_and_directive_over_http(stack: RunningStack) -> None:
    committed, ref = place_order(stack.url, "e2e-order-1")
    assert committed.json["total_q"] == 1000
    [directive_id] = committed.json["directives"]

    replay = http("POST", f"{stack.url}/v1/channels/pos/sessions/e2e-order-1/commit", {},
                  {"Idempotency-Key": "e2e-order-1"})
    assert replay.status == 200, replay.json
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json["order_ref"] == ref

    order = http("GET", f"{stack.url}/v1/orders/{ref}")
    assert order.status == 200
    assert (order.json["channel_code"], order.json["status"], order.json["total_q"]) == ("pos", "new", 1000)

    # Committed -> SQS -> the local poller -> directive_worker -> notification.send: done.
    done = wait_for(lambda: directive_done(stack.url, ref, "notification.send"), 20, "notification.send done")
    assert done["id"] == directive_id
    assert done["attempts"] == 1
    assert done["result"] == {"sent": True, "via": "log"}


def cli(stack: RunningStack, *args: str) -> tuple[int, Any]:
    """The operator CLI as a user runs it, against the stack's HTTP API."""
    done = subprocess.run([sys.executable, "-m", "cli", "directives", *args], cwd=ROOT, capture_output=True,  # noqa: S603
                          env=clean_env(OMNIMAN_API_URL=stack.url, OMNIMAN_API_KEY=ADMIN_KEY), timeout=60,
                          check=False)
    return done.returncode, json.loads(done.stdout or done.stderr)


def test_operator_cli_lists_shows_retries_and_redrives(stack: RunningStack) -> None:
    _, ref = place_order(stack.url, "e2e-order-2")
    done = wait_for(lambda: directive_done(stack.url, ref, "notification.send"), 20, "notification.send done")
    assert cli(stack, "list", "--order-ref", ref, "--status", "done") == (0, {"items": [done], "next_cursor": None})
    assert cli(stack, "show", done["id"]) == (0, done)
    code, refused = cli(stack, "retry", done["id"])
    assert (code, refused["error"]["code"]) == (1, "directive_done")
    assert cli(stack, "redrive", "--max", "5") == (0, {"moved": 0, "dropped": 0, "kept": 0})
    code, refused = cli(stack, "show", "D-NOPE")
    assert (code, refused["error"]["code"]) == (1, "directive_not_found")


def test_shop_holds_stock_commits_and_deducts_it(stack: RunningStack) -> None:
    url, key = stack.url, "e2e-shop-1"
    assert http("POST", f"{url}/v1/channels/shop/sessions", {"session_key": key}).status == 201
    modified = http("POST", f"{url}/v1/channels/shop/sessions/{key}/modify",
                    {"ops": [{"op": "add_line", "sku": "SHOE", "qty": 2}]})
    assert modified.json["pricing"]["total_q"] == 17800  # the catalog price, 8900

    def held() -> dict[str, Any] | None:
        return http("GET", f"{url}/v1/channels/shop/sessions/{key}").json["checks"].get("stock")

    check = wait_for(held, 20, "the stock check written by the check worker")
    assert (check["rev"], check["payload"]["holds"][0]["qty"]) == (1, "2")
    assert http("GET", f"{url}/v1/inventory/main/SHOE").json["reserved"] == "2"
    committed = http("POST", f"{url}/v1/channels/shop/sessions/{key}/commit", {}, {"Idempotency-Key": key})
    assert committed.status == 201, committed.json
    wait_for(lambda: directive_done(url, committed.json["order_ref"], "stock.commit"), 20, "stock.commit done")
    level = http("GET", f"{url}/v1/inventory/main/SHOE").json
    assert (level["on_hand"], level["reserved"], level["available"]) == ("8", "0", "8")


def test_concurrent_commits_with_one_key_make_one_order(stack: RunningStack) -> None:
    # The local server answers on threads against one emulator: a double-tapped checkout must still commit once.
    key = "e2e-double-tap"
    assert http("POST", f"{stack.url}/v1/channels/pos/sessions", {"session_key": key}).status == 201
    assert http("POST", f"{stack.url}/v1/channels/pos/sessions/{key}/modify",
                {"ops": [{"op": "add_line", "sku": "TEA", "qty": 1}]}).status == 200
    replies: list[Reply] = []
    barrier = threading.Barrier(8)

    def tap() -> None:
        barrier.wait()
        replies.append(http("POST", f"{stack.url}/v1/channels/pos/sessions/{key}/commit", {},
                            {"Idempotency-Key": key}))

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status for r in replies)
    assert statuses.count(201) == 1, [(r.status, r.json) for r in replies]
    assert set(statuses) <= {200, 201, 409}, [(r.status, r.json) for r in replies]
    assert all(r.json["error"]["code"] == "idempotency_in_progress" for r in replies if r.status == 409)
    assert len({r.json["order_ref"] for r in replies if r.status in (200, 201)}) == 1


def test_outbox_relay_sends_what_a_commit_never_enqueued(stack: RunningStack) -> None:
    from chalicelib.config import load_settings
    from chalicelib.domain.models import Directive
    from chalicelib.domain.registry import registry
    from chalicelib.services.hub import build_hub

    hub = build_hub(load_settings({**env_for_stage("local"), "OMNIMAN_AWS_ENDPOINT_URL": stack.emulator_url}),
                    registry)
    # Written to the outbox, never sent (as if its writer died), and older than the relay's grace period.
    then = (datetime.now(UTC) - timedelta(minutes=2)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    directive = Directive(id=f"D-E2E-RELAY-{time.monotonic_ns()}", topic="notification.send", created_at=then,
                          updated_at=then)
    hub.db.transact(hub.directives.create_requests([directive]))

    def done() -> bool:
        reply = http("GET", f"{stack.url}/v1/directives/{directive.id}")
        return reply.status == 200 and reply.json["status"] == "done"

    wait_for(done, 25, "the outbox relay (every 10 s) to enqueue it and the worker to run it", interval=0.5)
    wait_for(lambda: "outbox relay re-sent 1 directive(s)" in stack.stderr.read_text(), 5, "the relay's log line")


def test_every_route_but_health_needs_the_printed_key(stack: RunningStack) -> None:
    assert f"Admin key  {ADMIN_KEY}" in stack.stdout.read_text()
    assert http("GET", f"{stack.url}/v1/health", key=None).status == 200
    refused = http("GET", f"{stack.url}/v1/orders", key=None)
    assert (refused.status, refused.json["error"]["code"]) == (401, "unauthenticated")
    assert refused.headers["www-authenticate"].startswith("Bearer")
    assert http("GET", f"{stack.url}/v1/orders").status == 200


def readme_walkthrough() -> str:
    """The README's first bash block under "A curl walk-through", exactly as a new user pastes it."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## A curl walk-through"):]
    return section[section.index("```bash\n") + len("```bash\n"):section.index("```\n", section.index("```bash"))]


def test_the_readme_walkthrough_works_with_the_printed_key(stack: RunningStack) -> None:
    script = readme_walkthrough()
    assert "API=http://127.0.0.1:8000" in script and "KEY=omk_..." in script
    script = script.replace("API=http://127.0.0.1:8000", f"API={stack.url}").replace("KEY=omk_...", f"KEY={ADMIN_KEY}")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,  # noqa: S603,S607
                          timeout=120, check=False, env=clean_env())
    assert done.returncode == 0, done.stderr + done.stdout
    assert '"error"' not in done.stdout, done.stdout
    assert '"secret":"omk_' in done.stdout  # step 0: the till's key, shown once
    assert "Idempotent-Replayed" not in done.stdout  # step 4 ran once: a first commit
    assert '"to":"confirmed"' in done.stdout  # step 6 moved the order


def test_keys_cli_creates_lists_and_revokes(stack: RunningStack) -> None:
    def keys(*args: str) -> tuple[int, Any]:
        run = subprocess.run([sys.executable, "-m", "cli", "keys", *args], cwd=ROOT, capture_output=True,  # noqa: S603
                             env=clean_env(OMNIMAN_API_URL=stack.url, OMNIMAN_API_KEY=ADMIN_KEY), timeout=60,
                             check=False)
        return run.returncode, json.loads(run.stdout or run.stderr)

    code, created = keys("create", "--name", "e2e-till", "--scope", "channel:pos", "--commit-rate-limit", "5")
    assert code == 0 and created["secret"].startswith("omk_") and created["commit_rate_limit_per_minute"] == 5
    till = created["secret"]
    assert http("GET", f"{stack.url}/v1/orders?channel=pos", key=till).status == 200
    assert http("GET", f"{stack.url}/v1/orders?channel=web", key=till).status == 403
    code, listed = keys("list")
    assert code == 0 and "e2e-till" in {k["name"] for k in listed["items"]}
    assert all("secret" not in k and "secret_hash" not in k for k in listed["items"])
    assert keys("revoke", created["key_id"])[1]["revoked"] is True
    assert http("GET", f"{stack.url}/v1/orders?channel=pos", key=till).status == 401


def oms_order(url: str, key: str) -> str:
    assert http("POST", f"{url}/v1/channels/oms/sessions", {"session_key": key}).status == 201
    assert http("POST", f"{url}/v1/channels/oms/sessions/{key}/modify",
                {"ops": [{"op": "add_line", "sku": "BOOK", "qty": 1, "unit_price_q": 2500}]}).status == 200
    committed = http("POST", f"{url}/v1/channels/oms/sessions/{key}/commit", {}, {"Idempotency-Key": key})
    assert committed.status == 201, committed.json
    return committed.json["order_ref"]


def test_the_seeds_event_flow_plays_by_itself_on_the_oms_channel(stack: RunningStack) -> None:
    """pending -> paid -> processing -> shipped -> delivered, through SQS, the simulated providers and their
    signed webhooks back over HTTP, with nobody touching the order."""
    ref = oms_order(stack.url, "e2e-oms-1")

    def delivered() -> bool:
        return http("GET", f"{stack.url}/v1/orders/{ref}").json["status"] == "delivered"

    wait_for(delivered, 60, "the oms order to be delivered", interval=0.5)
    events = http("GET", f"{stack.url}/v1/orders/{ref}/events").json["items"]
    assert [e["event_type"] for e in events] == ["OrderCreated", "PaymentRequested", "OrderPaid",
                                                 "OrderStatusChanged", "ShipmentRequested", "OrderShipped",
                                                 "OrderDelivered"]
    history = http("GET", f"{stack.url}/v1/orders/{ref}/history").json["items"]
    assert [h["to"] for h in history] == ["pending", "paid", "processing", "shipped", "delivered"]
    logged = http("GET", f"{stack.url}/v1/orders/{ref}/webhooks").json["items"]
    assert sorted(w["event_type"] for w in logged) == ["payment.succeeded", "shipment.delivered", "shipment.shipped"]


def test_cli_simulate_sends_signed_webhooks_by_hand(stack: RunningStack) -> None:
    url = stack.url
    assert http("PUT", f"{url}/v1/channels/oms", {"name": "OMS by hand", "pricing_policy": "external", "config": {
        "order_flow": http("GET", f"{url}/v1/channels/oms").json["config"]["order_flow"]}},
        {"If-Match": f'"{http("GET", f"{url}/v1/channels/oms").json["version"]}"'}).status == 200
    ref = oms_order(url, "e2e-oms-2")

    def simulate(kind: str, outcome: str) -> tuple[int, Any]:
        run = subprocess.run([sys.executable, "-m", "cli", "simulate", kind, "--order", ref, "--outcome", outcome],  # noqa: S603
                             cwd=ROOT, capture_output=True, env=clean_env(OMNIMAN_API_URL=url), timeout=60,
                             check=False)
        return run.returncode, json.loads(run.stdout or run.stderr)

    code, answer = simulate("payment", "succeeded")
    assert (code, answer["outcome"]) == (0, "applied")
    assert http("GET", f"{url}/v1/orders/{ref}").json["status"] == "paid"
    code, answer = simulate("payment", "succeeded")  # a second payment for a paid order goes straight back
    assert (code, answer["outcome"]) == (0, "refunded")
    assert http("POST", f"{url}/v1/orders/{ref}/transition", {"status": "processing"}).status == 200
    assert simulate("shipping", "shipped")[1]["outcome"] == "applied"
    assert simulate("shipping", "delivered")[1]["outcome"] == "applied"
    assert http("GET", f"{url}/v1/orders/{ref}").json["status"] == "delivered"


def test_sigint_stops_the_stack_cleanly(stack: RunningStack) -> None:
    started = time.monotonic()
    stack.proc.send_signal(signal.SIGINT)
    try:
        code = stack.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"devstack still running {STOP_TIMEOUT} s after SIGINT\n{stack.logs()}")
    assert code == 0, stack.logs()
    assert time.monotonic() - started < STOP_TIMEOUT
    assert "Stopping Omniman" in stack.stdout.read_text()
    assert "Traceback" not in stack.stderr.read_text(), stack.logs()


# --- the poller, in-process against the embedded emulator ---------------------------------------------------------
POLLER_STAGE = "poller"  # not conftest's "test": the emulator shares moto's in-process state with mock_aws


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    emu = start_emulator(0)
    try:
        deploy(aws_client("cloudformation", emu.url), POLLER_STAGE)
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def sqs(emulator: Emulator) -> Any:
    return aws_client("sqs", emulator.url)


@pytest.fixture
def scratch_queue(sqs: Any, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """A queue of its own per test (name, url): PurgeQueue is allowed once a minute, so queues are not shared."""
    name = f"scratch-{request.node.name[-40:]}-{time.monotonic_ns()}".replace("_", "-")[:80]
    # Visibility 0: a record the handler reports as failed is back at once (no backoff set on scratch queues).
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    yield name, url
    sqs.delete_queue(QueueUrl=url)


def test_deploy_applies_the_template_ttl(emulator: Emulator) -> None:
    ttl = aws_client("dynamodb", emulator.url).describe_time_to_live(TableName=f"omniman-{POLLER_STAGE}-idempotency")
    assert ttl["TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiration"}
    deploy(aws_client("cloudformation", emulator.url), POLLER_STAGE)  # again: TTL already on, no error


def test_poller_builds_the_lambda_event_and_settles_each_record(sqs: Any, scratch_queue: tuple[str, str]) -> None:
    queue, url = scratch_queue
    sqs.send_message(QueueUrl=url, MessageBody="fail me",
                        MessageAttributes={"kind": {"DataType": "String", "StringValue": "poison"},
                                           "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    events: list[dict[str, Any]] = []
    contexts: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        events.append(event)
        contexts.append(context)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]}
                                      for r in event["Records"] if r["body"] == "fail me"]}

    poller = QueuePoller(sqs, queue, Function("omniman-poller-check_worker", handler), wait_seconds=1)
    received = 0
    for _ in range(3):  # moto may hand the two messages out in separate batches
        received += poller.poll_once()
        if received >= 2:
            break
    records = {r["body"]: r for e in events for r in e["Records"]}
    assert set(records) == {"fail me", "fine"}
    record = records["fail me"]
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                           "eventSource", "eventSourceARN", "awsRegion"}
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "us-east-1")
    assert record["eventSourceARN"].endswith(f":{queue}")
    assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"])
    assert record["messageAttributes"]["kind"] == {"stringValue": "poison", "stringListValues": [],
                                                   "binaryListValues": [], "dataType": "String"}
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    assert contexts[0].function_name == "omniman-poller-check_worker"
    assert contexts[0].get_remaining_time_in_millis() > 0

    # Only the failed record is back; the other was deleted.
    again = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10,
                                   AttributeNames=["All"])["Messages"]
    assert [m["Body"] for m in again] == ["fail me"]
    assert int(again[0]["Attributes"]["ApproximateReceiveCount"]) >= 2


def test_a_raising_handler_fails_the_whole_batch(sqs: Any, scratch_queue: tuple[str, str]) -> None:
    queue, url = scratch_queue
    sqs.send_message(QueueUrl=url, MessageBody="boom")

    def handler(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("crash")

    assert QueuePoller(sqs, queue, Function("f", handler), wait_seconds=1).poll_once() == 1
    left = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in left] == ["boom"]


def test_failed_ids_follow_lambda_report_batch_item_failures() -> None:
    ids = {"a", "b"}
    assert failed_ids(None, ids) == set()
    assert failed_ids({}, ids) == set()
    assert failed_ids({"batchItemFailures": []}, ids) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, ids) == {"a"}
    # Malformed answers fail the whole batch, as Lambda does.
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids) == ids
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids) == ids
    assert failed_ids({"batchItemFailures": [{"id": "a"}]}, ids) == ids
    assert failed_ids("ok", ids) == ids


def test_poison_directive_reaches_the_dead_letter_queue_and_redrive_brings_it_back(emulator: Emulator,
                                                                                   sqs: Any) -> None:
    from chalicelib.config import load_settings
    from chalicelib.directives import worker
    from chalicelib.domain.clock import now_iso
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.models import Directive
    from chalicelib.domain.registry import registry
    from chalicelib.observability import observe
    from chalicelib.services.directives import redrive
    from chalicelib.services.hub import build_hub

    # Retry base 0: each failed attempt is back at once, so the walk to the dead-letter queue takes seconds.
    hub = build_hub(load_settings({**env_for_stage(POLLER_STAGE), "OMNIMAN_AWS_ENDPOINT_URL": emulator.url,
                                   "OMNIMAN_DIRECTIVE_RETRY_BASE_SECONDS": "0"}), registry)
    downstream = {"up": False, "runs": 0}

    @registry.register_handler("devstack.poison")
    def poison(directive: Directive, ctx: Any) -> dict[str, Any]:
        downstream["runs"] += 1
        if not downstream["up"]:
            raise RuntimeError("downstream is down")
        return {"ok": True}

    now = now_iso()
    directive = Directive(id=new_id("D"), topic="devstack.poison", queue="checks", created_at=now, updated_at=now)
    hub.db.transact(hub.directives.create_requests([directive]))
    assert hub.queue.dispatch([directive]) == 1

    def check_worker(event: dict[str, Any], context: Any) -> Any:  # what app.check_worker runs
        return observe("sqs", context.aws_request_id, lambda: worker.handle_batch(hub, event, context))

    poller = QueuePoller(sqs, hub.settings.checks_queue, Function("omniman-poller-check_worker", check_worker),
                         wait_seconds=1)
    dlq_url = sqs.get_queue_url(QueueName=f"{hub.settings.checks_queue}-dlq")["QueueUrl"]
    stop = threading.Event()

    def in_dlq() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=0, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                   MessageAttributeNames=["All"]).get("Messages", [])

    poller.start(stop)
    try:
        dead = wait_for(in_dlq, 30, "the poison message in the dead-letter queue", interval=0.5)
        assert [json.loads(m["Body"])["directive_id"] for m in dead] == [directive.id]
        assert dead[0]["MessageAttributes"]["dead_reason"]["StringValue"] == "RuntimeError: downstream is down"
        stored = hub.directives.get(directive.id)
        assert (stored.status, stored.attempts, downstream["runs"]) == ("dead", 5, 5)
        url = sqs.get_queue_url(QueueName=hub.settings.checks_queue)["QueueUrl"]
        assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []

        downstream["up"] = True
        assert redrive(hub) == {"moved": 1, "dropped": 0, "kept": 0}
        wait_for(lambda: hub.directives.get(directive.id).status == "done", 30, "the redriven directive done")
    finally:
        stop.set()
        poller.join(10)
        registry.unregister("handler", "devstack.poison")
    assert downstream["runs"] == 6
    assert in_dlq() == []
