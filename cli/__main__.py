"""`python -m cli directives {list,show,retry,redrive}`: the directive operations of the HTTP API.

The API is at OMNIMAN_API_URL (default: the local stack, http://127.0.0.1:$OMNIMAN_PORT or 8000).
Prints the API's JSON answer; exits 1 when the API refuses the request, 2 when it cannot be reached.
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
    return root


def request(args: argparse.Namespace) -> tuple[str, str, Any]:
    """(method, path, body) for the parsed command."""
    quoted = urllib.parse.quote(getattr(args, "id", "") or "", safe="")
    if args.command == "list":
        query = {k: v for k, v in {"status": args.status, "topic": args.topic, "order_ref": args.order_ref,
                                   "limit": args.limit, "cursor": args.cursor}.items() if v is not None}
        return "GET", "/v1/directives" + (f"?{urllib.parse.urlencode(query)}" if query else ""), None
    if args.command == "show":
        return "GET", f"/v1/directives/{quoted}", None
    if args.command == "retry":
        return "POST", f"/v1/directives/{quoted}/retry", {}
    return "POST", "/v1/directives/redrive", {"max": args.max}


def call(base: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method,  # noqa: S310 (operator's URL)
                                 headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, {"error": {"code": "http_error", "message": raw.decode(errors="replace")[:500]}}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    base = args.api or api_url()
    method, path, body = request(args)
    try:
        status, answer = call(base, method, path, body)
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach the Omniman API at {base}: {exc} (is `make run` running? set OMNIMAN_API_URL)",
              file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2, sort_keys=True), file=sys.stdout if status < 400 else sys.stderr)
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
