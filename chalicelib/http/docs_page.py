"""A readable HTML page of the OpenAPI document: no script, no stylesheet or font from elsewhere. Pure.

Operations grouped by tag (access, parameters, body, answers, error codes per status), then every schema as a
table of its fields. Everything from the document is escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:0 1.5em 4em;color:#1d232b}
h1{margin-bottom:.2em} h2{margin-top:2em;border-bottom:2px solid #dde3ea;text-transform:capitalize}
section.op{border:1px solid #dde3ea;border-radius:6px;margin:1em 0;padding:.6em 1em}
.m{display:inline-block;min-width:4.2em;font:bold 13px monospace;padding:2px 6px;border-radius:4px;color:#fff}
.get{background:#2f7d32}.post{background:#1f5fa8}.put{background:#a86b1f}.delete{background:#a8321f}
code,.p{font-family:ui-monospace,monospace;font-size:13.5px} .p{font-weight:bold}
table{border-collapse:collapse;margin:.4em 0;width:100%} td,th{border-top:1px solid #eef1f4;padding:3px 8px;
text-align:left;vertical-align:top} th{font-weight:600;color:#56606b} .access{color:#56606b}
nav a{margin-right:.8em} .req{color:#a8321f}
"""


def render(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    schemas = doc.get("components", {}).get("schemas", {})
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{_inline(info.get('description', ''))}</p>",
        "<p>The machine-readable document: <a href=openapi.json><code>openapi.json</code></a> (OpenAPI "
        f"{escape(doc.get('openapi', ''))}).</p>",
        "<nav>" + "".join(f"<a href='#tag-{escape(t)}'>{escape(t)}</a>" for t in sorted(by_tag))
        + "<a href=#schemas>schemas</a></nav>",
    ]
    for name in sorted(by_tag):
        parts.append(f"<h2 id='tag-{escape(name)}'>{escape(name)}</h2>")
        parts += [_operation(path, method, op) for path, method, op in sorted(by_tag[name])]
    parts.append("<h2 id=schemas>schemas</h2>")
    parts += [_schema(name, schema) for name, schema in sorted(schemas.items())]
    parts.append("</body></html>")
    return "\n".join(parts)


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    rows = [f"<section class=op id='{escape(op.get('operationId', ''))}'>",
            f"<div><span class='m {escape(method)}'>{escape(method.upper())}</span> <span class=p>{escape(path)}</span>"
            f" &nbsp;{escape(op.get('summary', ''))}</div>",
            f"<div class=access>{_inline(op.get('description', ''))}</div>"]
    params = op.get("parameters", [])
    if params:
        rows.append("<table><tr><th>parameter</th><th>in</th><th>schema</th><th></th></tr>")
        rows += [f"<tr><td><code>{escape(p['name'])}</code>{' <span class=req>*</span>' if p.get('required') else ''}"
                 f"</td><td>{escape(p['in'])}</td><td>{_type(p.get('schema', {}))}</td>"
                 f"<td>{_inline(p.get('description', ''))}</td></tr>" for p in params]
        rows.append("</table>")
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            optional = "" if body.get("required") else " (may be left out)"
            rows.append(f"<div>Body{optional}: <code>{escape(media)}</code> {_type(content.get('schema', {}))}</div>")
    rows.append("<table><tr><th>status</th><th>answer</th></tr>")
    for status, response in op.get("responses", {}).items():
        codes = response.get("x-omniman-error-codes")
        if codes:
            what = " ".join(f"<code>{escape(c)}</code>" for c in codes)
        else:
            what = " ".join(f"<code>{escape(m)}</code> {_type(c.get('schema', {}))}"
                            for m, c in response.get("content", {}).items())
        rows.append(f"<tr><td>{escape(status)}</td><td>{what}</td></tr>")
    rows.append("</table></section>")
    return "\n".join(rows)


def _schema(name: str, schema: dict[str, Any]) -> str:
    rows = [f"<section class=op id='schema-{escape(name)}'><div class=p>{escape(name)}</div>"]
    if schema.get("description"):
        rows.append(f"<div class=access>{_inline(schema['description'])}</div>")
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        rows.append("<table><tr><th>field</th><th>schema</th><th></th></tr>")
        rows += [f"<tr><td><code>{escape(field)}</code>{' <span class=req>*</span>' if field in required else ''}"
                 f"</td><td>{_type(prop)}</td><td>{_inline(prop.get('description', ''))}</td></tr>"
                 for field, prop in props.items()]
        rows.append("</table>")
        extra = schema.get("additionalProperties")
        if extra is not None and extra is not False:
            rows.append("<div class=access>More fields may be present.</div>")
    else:
        rows.append(f"<div>{_type(schema)}</div>")
    rows.append("</section>")
    return "\n".join(rows)


def _type(schema: Any) -> str:
    """A schema in a few words: a link to a model, `list of ...`, alternatives, constraints."""
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"<a href='#schema-{escape(name)}'>{escape(name)}</a>"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if "const" in schema:
        return f"<code>{escape(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{escape(json.dumps(v))}</code>" for v in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        text = "list of " + (_type(schema.get("items", {})) or "any")
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = "map to " + _type(schema["additionalProperties"])
    else:
        text = escape(str(kind))
    limits = [f"{k} {escape(json.dumps(schema[k]))}" for k in ("pattern", "minLength", "maxLength", "minimum",
                                                               "maximum", "minItems", "maxItems", "default")
              if k in schema]
    return text + (f" <small>({'; '.join(limits)})</small>" if limits else "")


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    pieces = escape(str(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))
