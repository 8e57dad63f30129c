"""What the developer reads once the stack is up: where things are and a request flow to paste."""

from __future__ import annotations

import time

READY = "Omniman is ready on {url}"


def render(api_url: str, aws: str, workers: list[str], channels: list[str], embedded: bool, admin_key: str) -> str:
    # A key unique to this start, so the example also works against an emulator that keeps state.
    key = f"demo-{int(time.time())}"
    json_header = "-H 'Content-Type: application/json' -H \"Authorization: Bearer $KEY\""
    state = ("State lives only as long as this process: stopping it discards every table and queue."
             if embedded else "State lives in the AWS endpoint above and outlives this process.")
    lines = [
        READY.format(url=api_url),
        "",
        f"  API        {api_url}  (stage local)",
        f"  Console    {api_url}/console  (sign in with the admin key below)",
        f"  API docs   {api_url}/v1/docs  (OpenAPI 3.1: {api_url}/v1/openapi.json)",
        f"  AWS        {aws}",
        f"  Workers    {'; '.join(workers)}",
        f"  Channels   {', '.join(channels)}",
        f"  Admin key  {admin_key}",
        "",
        "Try it (bash):",
        f"  API={api_url}",
        f"  KEY={admin_key}",
        f"  curl -s -X POST $API/v1/channels/pos/sessions {json_header} -d '{{\"session_key\": \"{key}\"}}'",
        f"  curl -s -X POST $API/v1/channels/pos/sessions/{key}/modify {json_header} \\",
        "       -d '{\"ops\": [{\"op\": \"add_line\", \"sku\": \"COFFEE\", \"qty\": 2}]}'",
        f"  REF=$(curl -s -X POST $API/v1/channels/pos/sessions/{key}/commit {json_header} \\",
        f"       -H 'Idempotency-Key: {key}' -d '{{}}' \\",
        "       | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"order_ref\"])')",
        "  curl -s -H \"Authorization: Bearer $KEY\" $API/v1/orders/$REF",
        "  curl -s -H \"Authorization: Bearer $KEY\" \"$API/v1/directives?order_ref=$REF\"   # queued -> done",
        "  curl -s -H \"Authorization: Bearer $KEY\" $API/v1/inventory/main/SHOE   # the `shop` channel's stock",
        "  OMNIMAN_API_URL=$API OMNIMAN_API_KEY=$KEY .venv/bin/python -m cli directives list --status dead",
        "  OMNIMAN_API_URL=$API OMNIMAN_API_KEY=$KEY .venv/bin/python -m cli keys create --name till-1 \\",
        "       --scope channel:pos   # a key for one POS terminal",
        "",
        "Stop with Ctrl-C. " + state,
    ]
    return "\n".join(lines)
