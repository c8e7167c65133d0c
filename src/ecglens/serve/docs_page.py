"""The ``/docs`` page: a plain HTML page of the app's OpenAPI spec (no CDN, unlike Swagger UI)."""

from __future__ import annotations

import html
from typing import Any


def _schema_type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_type(s, components) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list of {_schema_type(schema.get('items', {}), components)}"
    if "enum" in schema:
        return " | ".join(map(str, schema["enum"]))
    if schema.get("format") == "binary" or schema.get("contentMediaType"):
        return "file"
    return str(schema.get("type", "any"))


def docs_page(spec: dict[str, Any]) -> str:
    """A plain HTML page of the OpenAPI spec (no CDN, unlike Swagger UI)."""
    esc = html.escape
    components = spec.get("components", {}).get("schemas", {})
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(spec['info']['title'])} API</title><link rel=\"icon\" href=\"data:,\">",
        '<link rel="stylesheet" href="/static/style.css"></head><body class="docs"><main>',
        f"<h1>{esc(spec['info']['title'])} {esc(spec['info']['version'])} API</h1>",
        f"<p>{esc(spec['info'].get('description', ''))} Machine-readable: "
        '<a href="/openapi.json">/openapi.json</a>; the web page: <a href="/">/</a>.</p>',
    ]
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            parts.append(f"<section><h2><code>{esc(method.upper())} {esc(path)}</code></h2>")
            parts.append(f"<p><strong>{esc(op.get('summary', ''))}</strong>. "
                         f"{esc(op.get('description', ''))}</p>")
            rows = []
            for p in op.get("parameters", []):
                rows.append((p["name"], p["in"], _schema_type(p.get("schema", {}), components),
                             p.get("required", False), p.get("description", "")))
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                schema = content.get("schema", {})
                if "$ref" in schema:
                    schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
                required = set(schema.get("required", []))
                for name, prop in schema.get("properties", {}).items():
                    rows.append((name, media, _schema_type(prop, components), name in required,
                                 prop.get("description", "")))
            if rows:
                parts.append("<table><thead><tr><th>name</th><th>in</th><th>type</th>"
                             "<th>required</th><th>description</th></tr></thead><tbody>")
                parts.extend(
                    f"<tr><td><code>{esc(n)}</code></td><td>{esc(w)}</td><td>{esc(t)}</td>"
                    f"<td>{'yes' if r else ''}</td><td>{esc(d)}</td></tr>"
                    for n, w, t, r, d in rows
                )
                parts.append("</tbody></table>")
            codes = ", ".join(
                f"{esc(str(code))} {esc(r.get('description', ''))}"
                for code, r in op.get("responses", {}).items()
            )
            parts.append(f"<p class='muted'>Responses: {codes}</p></section>")
    parts.append("</main></body></html>")
    return "".join(parts)
