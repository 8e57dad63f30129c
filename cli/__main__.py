"""`python -m cli {directives,keys,simulate,seed} ...`: operator commands over the HTTP API.

The API is at OMNIMAN_API_URL (default: the local stack, http://127.0.0.1:$OMNIMAN_PORT or 8000) and the key
comes from OMNIMAN_API_KEY (or --api-key). Prints the API's JSON answer; exits 1 when the API refuses the
request, 2 when it cannot be reached. `keys bootstrap` is the exception: it writes a stage's first admin key
straight into its table with your AWS credentials, since no key exists yet to ask the API with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 30


def api_url(environ: dict[str, str] | os._Environ[str] = os.environ) -> str:
    return environ.get("OMNIMAN_API_URL") or f"http://127.0.0.1:{environ.get('OMNIMAN_PORT', '8000')}"


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m cli", description=__doc__.split("\n", 1)[0])
    root.add_argument("--api", default=None, help="API base URL (default: $OMNIMAN_API_URL or the local stack)")
    root.add_argument("--api-key", default=None, help="API key (default: $OMNIMAN_API_KEY)")
    groups = root.add_subparsers(dest="group", required=True)

    directives = groups.add_parser("directives", help="list, inspect, retry and redrive directives")
    commands = directives.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="newest first; filters combine")
    listing.add_argument("--status", choices=["queued", "running", "done", "failed", "dead"])
    listing.add_argument("--topic")
    listing.add_argument("--order-ref")
    listing.add_argument("--limit", type=int)
    listing.add_argument("--cursor")
    commands.add_parser("show", help="one directive").add_argument("id")
    commands.add_parser("retry", help="requeue one failed or dead directive").add_argument("id")
    redrive = commands.add_parser("redrive", help="move dead letters back to their queues")
    redrive.add_argument("--max", type=int, default=100, help="at most this many messages (1-1000)")

    keys = groups.add_parser("keys", help="create, list and revoke API keys (an admin key is needed)")
    key_commands = keys.add_subparsers(dest="command", required=True)
    create = key_commands.add_parser("create", help="a new key; its secret is printed once")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", action="append", required=True, dest="scopes",
                        help="admin, operator, catalog:write, price:override, channel:<code>[:read]; repeatable")
    create.add_argument("--rate-limit", type=int, help="requests per minute (default: the stage's)")
    create.add_argument("--commit-rate-limit", type=int, help="commits per minute (default: the stage's, 60)")
    key_list = key_commands.add_parser("list", help="newest first; secrets are never shown")
    key_list.add_argument("--limit", type=int)
    key_list.add_argument("--cursor")
    key_commands.add_parser("revoke", help="revoke a key by id").add_argument("id")
    simulate = groups.add_parser("simulate", help="send a provider's signed webhook by hand (the simulator's)")
    simulate.add_argument("command", choices=["payment", "shipping"])
    simulate.add_argument("--order", required=True, help="the order ref, O-...")
    simulate.add_argument("--outcome", required=True,
                          help="payment: succeeded|failed; shipping: shipped|delivered")
    simulate.add_argument("--amount-q", type=int, help="payment amount in minor units (default: the order's due)")
    simulate.add_argument("--provider", default="simulator")
    seed = groups.add_parser("seed", help="load the demo catalog (seed_data) through POST /v1/catalog/import "
                                          "(a catalog:write key is needed)")
    seed.add_argument("--products", type=int, default=60, help="how many products (default 60)")
    seed.add_argument("--seed", type=int, default=0, help="the generator's seed: the same seed, the same catalog")
    seed.add_argument("--batch", type=int, default=MAX_IMPORT_PRODUCTS,
                      help=f"products per request (at most {MAX_IMPORT_PRODUCTS})")
    seed.add_argument("--concurrency", type=int, default=2, help="requests in flight at once (default 2)")
    bootstrap = key_commands.add_parser("bootstrap", help="a stage's first admin key, written with AWS credentials")
    bootstrap.add_argument("--stage", required=True, help="the stage whose table gets the key (omniman-<stage>-main)")
    bootstrap.add_argument("--name", default="bootstrap-admin")
    return root


def request(args: argparse.Namespace) -> tuple[str, str, Any]:
    """(method, path, body) for the parsed command."""
    quoted = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    if args.group == "keys":
        if args.command == "create":
            body = {"name": args.name, "scopes": args.scopes}
            if args.rate_limit is not None:
                body["rate_limit_per_minute"] = args.rate_limit
            if args.commit_rate_limit is not None:
                body["commit_rate_limit_per_minute"] = args.commit_rate_limit
            return "POST", "/v1/keys", body
        if args.command == "list":
            return "GET", "/v1/keys" + _query({"limit": args.limit, "cursor": args.cursor}), None
        return "POST", f"/v1/keys/{quoted}/revoke", {}
    if args.command == "list":
        return "GET", "/v1/directives" + _query({"status": args.status, "topic": args.topic,
                                                 "order_ref": args.order_ref, "limit": args.limit,
                                                 "cursor": args.cursor}), None
    if args.command == "show":
        return "GET", f"/v1/directives/{quoted}", None
    if args.command == "retry":
        return "POST", f"/v1/directives/{quoted}/retry", {}
    return "POST", "/v1/directives/redrive", {"max": args.max}


def _query(params: dict[str, Any]) -> str:
    present = {k: v for k, v in params.items() if v is not None}
    return f"?{urllib.parse.urlencode(present)}" if present else ""


def call(base: str, method: str, path: str, body: Any, key: str | None = None,
         timeout: float = TIMEOUT_SECONDS) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method,  # noqa: S310 (operator's URL)
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"error": {"code": "http_error", "message": raw.decode(errors="replace")[:500]}}


OUTCOMES = {"payment": {"succeeded": "payment.succeeded", "failed": "payment.failed"},
            "shipping": {"shipped": "shipment.shipped", "delivered": "shipment.delivered"}}
# The local stack's simulator secrets (devstack/environment.py); a deployed stage's come from the environment.
LOCAL_SECRETS = {"payment": "local-only-payment-simulator-secret", "shipping": "local-only-shipping-simulator-secret"}


def simulate(base: str, args: argparse.Namespace) -> int:
    """Signs and sends the webhook a provider would send, e.g. a payment that succeeded for an order."""
    import time
    import uuid

    from chalicelib.contrib import webhooks
    from chalicelib.secrets import env_name

    kind = args.command
    event_type = OUTCOMES[kind].get(args.outcome)
    if event_type is None:
        print(f"--outcome for {kind} is one of {', '.join(OUTCOMES[kind])}", file=sys.stderr)
        return 2
    data: dict[str, Any] = {}
    if args.amount_q is not None:
        data["amount_q"] = args.amount_q
    if event_type == "payment.failed":
        data["reason"] = "declined (simulated)"
    if kind == "shipping":
        data.update(carrier="simulated-post", tracking_number=f"CLI{uuid.uuid4().hex[:10].upper()}")
    body = json.dumps({"id": f"cli-{uuid.uuid4()}", "type": event_type, "order_ref": args.order, "data": data,
                       "created": int(time.time())}).encode()
    secret = os.environ.get(env_name(f"{kind}-webhook-secret-{args.provider}")) or LOCAL_SECRETS[kind]
    req = urllib.request.Request(  # noqa: S310 (operator's URL)
        f"{base.rstrip('/')}/v1/webhooks/{kind}?provider={urllib.parse.quote(args.provider)}", data=body,
        method="POST", headers={"Content-Type": "application/json",
                                webhooks.SIGNATURE_HEADER: webhooks.sign(secret, body, int(time.time()))})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            status, answer = resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, json.loads(exc.read() or b"null")
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach the Omniman API at {base}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, sort_keys=True), file=sys.stdout if status < 400 else sys.stderr)
    return 0 if status < 400 else 1


# What one POST /v1/catalog/import takes (chalicelib/inventory/service.py MAX_IMPORT).
MAX_IMPORT_PRODUCTS = 500
MAX_IMPORT_STOCK = 2000
PROGRESS_WIDTH = 30
# An import is idempotent, so a batch that timed out or met contention is simply sent again.
SEED_ATTEMPTS = 4
SEED_TIMEOUT_SECONDS = 120
_RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


def seed_batches(products: int, seed: int = 0, batch: int = MAX_IMPORT_PRODUCTS) -> list[dict[str, Any]]:
    """Import bodies for the seed_data catalog: the first carries the categories and stores (which everything
    after refers to), each carries up to `batch` products with their stock rows in every store."""
    from chalicelib.inventory import seed_data

    if products < 0:
        raise ValueError("--products must be >= 0")
    stores = seed_data.stores()
    per_request = max(1, min(batch, MAX_IMPORT_PRODUCTS, MAX_IMPORT_STOCK // len(stores)))
    generated = seed_data.products(products, seed)
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in seed_data.stock(generated, stores, seed):
        rows.setdefault(row["sku"], []).append(row)
    bodies: list[dict[str, Any]] = []
    for start in range(0, max(len(generated), 1), per_request):
        chunk = generated[start:start + per_request]
        bodies.append({
            "products": [{"sku": p["sku"], "title": p["title"], "description": p["description"],
                          "price_q": p["price_q"], "category": p["category_id"]} for p in chunk],
            "stock": [row for p in chunk for row in rows[p["sku"]]],
        })
    bodies[0].update(categories=seed_data.categories(), stores=stores)
    return bodies


def progress_line(done: int, total: int) -> str:
    filled = PROGRESS_WIDTH * done // total if total else PROGRESS_WIDTH
    return f"\r[{'#' * filled}{'.' * (PROGRESS_WIDTH - filled)}] {done}/{total}"


def seed_catalog(base: str, key: str | None, args: argparse.Namespace) -> int:
    """Sends the batches (the first alone, the rest `--concurrency` at a time) and prints the totals."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    try:
        bodies = seed_batches(args.products, args.seed, args.batch)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    started = time.monotonic()
    totals: dict[str, dict[str, int]] = {"created": {}, "existing": {}}
    done = 0
    show = len(bodies) > 1 and args.products >= 1000

    def send(body: dict[str, Any]) -> tuple[int, Any, int]:
        for attempt in range(SEED_ATTEMPTS):
            if attempt:
                time.sleep(2 ** attempt)
            try:
                status, answer = call(base, "POST", "/v1/catalog/import", body, key, timeout=SEED_TIMEOUT_SECONDS)
            except (urllib.error.URLError, OSError):
                if attempt == SEED_ATTEMPTS - 1:
                    raise
                continue
            if status not in _RETRYABLE or attempt == SEED_ATTEMPTS - 1:
                break
        return status, answer, len(body["products"])

    def settle(status: int, answer: Any, count: int) -> bool:
        nonlocal done
        if status >= 400:
            print(("\n" if show else "") + json.dumps(answer, indent=2, sort_keys=True), file=sys.stderr)
            return False
        for kind in totals:
            for name, n in answer.get(kind, {}).items():
                totals[kind][name] = totals[kind].get(name, 0) + n
        done += count
        if show:
            print(progress_line(done, args.products), end="", file=sys.stderr, flush=True)
        return True

    try:
        if not settle(*send(bodies[0])):
            return 1
        with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
            for outcome in pool.map(send, bodies[1:]):
                if not settle(*outcome):
                    return 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"\ncannot reach the Omniman API at {base}: {exc}", file=sys.stderr)
        return 2
    if show:
        print(file=sys.stderr)
    print(json.dumps({**totals, "requests": len(bodies), "seconds": round(time.monotonic() - started, 1)},
                     indent=2, sort_keys=True))
    return 0


def bootstrap(stage: str, name: str) -> int:
    """Writes an admin key into the stage's table directly (AWS credentials from the usual places)."""
    import boto3

    from chalicelib.services.api_keys import issue
    from chalicelib.storage.api_keys import ApiKeyStore
    from chalicelib.storage.db import Db

    endpoint = os.environ.get("OMNIMAN_AWS_ENDPOINT_URL")
    store = ApiKeyStore(Db(boto3.client("dynamodb", endpoint_url=endpoint), f"omniman-{stage}-main"))
    record, secret = issue(store, {"name": name, "scopes": ["admin"]}, created_by="cli-bootstrap")
    print(json.dumps({**record, "secret": secret}, indent=2, sort_keys=True))
    print("Keep the secret now: it is shown only this once.", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.group == "keys" and args.command == "bootstrap":
        return bootstrap(args.stage, args.name)
    base = args.api or api_url()
    if args.group == "simulate":
        return simulate(base, args)
    key = args.api_key or os.environ.get("OMNIMAN_API_KEY")
    if args.group == "seed":
        return seed_catalog(base, key, args)
    method, path, body = request(args)
    try:
        status, answer = call(base, method, path, body, key)
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach the Omniman API at {base}: {exc} (is `make run` running? set OMNIMAN_API_URL)",
              file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, sort_keys=True), file=sys.stdout if status < 400 else sys.stderr)
    if status == 401 and not key:
        print("no API key was sent: set OMNIMAN_API_KEY (make run prints one) or pass --api-key", file=sys.stderr)
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
