"""Check a sandbox answer against an official OpenAPI description (openapi-core 0.23).

    validate_response(spec, "GET", "/repos/o/r/pulls", 200, body, headers, query)
    validate_schema(spec, "issue", body)   # for endpoints the spec subset does not carry

`path` is the API path as the spec writes it (strip the sandbox's "/api/v3" prefix; Jira paths
keep "/rest/api/N"). Both raise AssertionError listing every mismatch, so a test shows what
differs from the real service rather than only that something does.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

__all__ = ["load_spec", "validate_response", "validate_schema"]


@lru_cache(maxsize=8)
def _spec_dict(spec_path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=8)
def load_spec(spec_path: str | Path) -> OpenAPI:
    """The spec as an openapi-core app, parsed once per test session (the files are large)."""
    return OpenAPI.from_dict(_spec_dict(str(spec_path)))


def _server(spec_path: str) -> str:
    servers = _spec_dict(spec_path).get("servers") or [{"url": "http://localhost"}]
    return str(servers[0]["url"]).rstrip("/")


def validate_response(
    spec_path: str | Path,
    method: str,
    path: str,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    query: dict[str, Any] | None = None,
) -> None:
    """Assert that `body` (JSON-able, or raw bytes) is what the spec allows for this call."""
    spec_path = str(spec_path)
    headers = dict(headers or {})
    content_type = headers.get("Content-Type", headers.get("content-type", "application/json"))
    # The media type is what the spec keys on; the charset parameter is not part of it.
    content_type = content_type.split(";")[0].strip()
    data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    if status in (204, 304):
        data = b""
    _require_template(spec_path, path)
    request = MockRequest(_server(spec_path), method.lower(), path, args=_flat(query))
    response = MockResponse(data, status_code=status, headers=headers, content_type=content_type)
    errors = list(load_spec(spec_path).iter_response_errors(request, response))
    if errors:
        raise AssertionError(
            f"{method} {path} -> {status} does not match {Path(spec_path).name}:\n"
            + "\n".join(_describe(e) for e in errors)
        )


def validate_schema(spec_path: str | Path, schema_name: str, instance: Any) -> None:
    """Assert that `instance` matches `#/components/schemas/<schema_name>` of the spec."""
    spec = _spec_dict(str(spec_path))
    # The root document carries the components so every nested $ref resolves inside it.
    schema = {
        "components": spec["components"],
        "allOf": [{"$ref": f"#/components/schemas/{schema_name}"}],
    }
    validator = OAS30Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        raise AssertionError(
            f"value does not match schema {schema_name!r}:\n"
            + "\n".join(f"  at {list(e.absolute_path)}: {e.message[:300]}" for e in errors[:20])
        )


def _require_template(spec_path: str, path: str) -> None:
    """Refuse a path the spec does not describe, even when a template would swallow it.

    openapi-core matches "/repos/o/r/issues/comments" to ".../issues/{issue_number}" without
    checking that the number is one; such a check would validate the wrong schema.
    """
    spec = _spec_dict(spec_path)
    parts = path.strip("/").split("/")
    for template, item in spec["paths"].items():
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        ok = True
        for t, v in zip(tparts, parts, strict=True):
            if t.startswith("{") and t.endswith("}"):
                if _param_is_integer(spec, item, t[1:-1]) and not v.isdigit():
                    ok = False
            elif t != v:
                ok = False
        if ok:
            return
    raise AssertionError(
        f"{path} is not described by {Path(spec_path).name}; use validate_schema for it"
    )


def _param_is_integer(spec: dict[str, Any], item: dict[str, Any], name: str) -> bool:
    params = list(item.get("parameters", []))
    for op in item.values():
        if isinstance(op, dict):
            params += op.get("parameters", [])
    for param in params:
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param.get("name") == name and param.get("in") == "path":
            return bool(param.get("schema", {}).get("type") == "integer")
    return False


def _flat(query: dict[str, Any] | None) -> dict[str, Any]:
    """parse_qs-style {k: [v]} or plain {k: v} -> {k: v} (the first value)."""
    out: dict[str, Any] = {}
    for k, v in (query or {}).items():
        out[k] = v[0] if isinstance(v, list | tuple) and v else v
    return out


def _describe(error: BaseException) -> str:
    """The error and its causes, down to the schema messages that say which field is wrong."""
    lines = [f"  {type(error).__name__}: {str(error)[:300]}"]
    cause = error.__cause__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for se in list(schema_errors)[:20]:
                lines.append(f"    at {list(se.absolute_path)}: {str(se.message)[:300]}")
        else:
            lines.append(f"    {type(cause).__name__}: {str(cause)[:300]}")
        cause = cause.__cause__
    return "\n".join(lines)
