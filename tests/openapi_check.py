"""Check a sandbox answer against an official OpenAPI description (openapi-core 0.23).

    validate_response(spec, "GET", "/repos/o/r/pulls", 200, body, headers, query)
    validate_schema(spec, "issue", body)   # for endpoints the spec subset does not carry

`path` is the API path as the spec writes it (strip the sandbox's "/api/v3" prefix; Jira paths
keep "/rest/api/N"). Both raise AssertionError listing every mismatch, so a test shows what
differs from the real service rather than only that something does.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator
from werkzeug.datastructures import ImmutableMultiDict

__all__ = [
    "find_template",
    "load_spec",
    "spec_dict",
    "validate_request",
    "validate_response",
    "validate_schema",
]


@lru_cache(maxsize=8)
def _spec_dict(spec_path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=8)
def load_spec(spec_path: str | Path) -> OpenAPI:
    """The spec as an openapi-core app, parsed once per test session (the files are large)."""
    return OpenAPI.from_dict(_spec_dict(str(spec_path)))


def _server(spec_path: str) -> str:
    servers = spec_dict(spec_path).get("servers") or [{"url": "http://localhost"}]
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


# -- requests --------------------------------------------------------------------------------
# The full GitHub description is 13 MB; openapi-core would check and index all of it. A
# request check only needs the operations a log touches, so each check builds (once per set of
# paths) a copy of the description holding those path items and the components they reference.


def spec_dict(spec_path: str | Path) -> dict[str, Any]:
    """The description as a dict, parsed once per session (gzip-compressed files too)."""
    return _spec_dict_any(str(spec_path))


@lru_cache(maxsize=8)
def _spec_dict_any(spec_path: str) -> dict[str, Any]:
    if spec_path.endswith(".gz"):
        with gzip.open(spec_path, "rt", encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data
    return _spec_dict(spec_path)


def find_template(spec_path: str | Path, method: str, path: str) -> str | None:
    """The path template of the description that describes `method path`, or None.

    Literal segments must match exactly, integer parameters must be digits; of several matches
    the one with the most literal segments wins ("/issues/comments" over "/issues/{number}").
    """
    spec = spec_dict(spec_path)
    parts = path.strip("/").split("/")
    best: tuple[int, str] | None = None
    for template, item in spec["paths"].items():
        if method.lower() not in item:
            continue
        tparts = template.strip("/").split("/")
        if len(tparts) != len(parts):
            continue
        literal = 0
        for t, v in zip(tparts, parts, strict=True):
            if t.startswith("{") and t.endswith("}"):
                if _param_is_integer(spec, item, t[1:-1]) and not v.isdigit():
                    break
            elif t != v:
                break
            else:
                literal += 1
        else:
            if best is None or literal > best[0]:
                best = (literal, template)
    return best[1] if best else None


@lru_cache(maxsize=32)
def _request_app(spec_path: str, templates: frozenset[str]) -> OpenAPI:
    spec = spec_dict(spec_path)
    paths = {t: spec["paths"][t] for t in sorted(templates)}
    cut: dict[str, Any] = {k: v for k, v in spec.items() if k not in ("paths", "components")}
    cut["paths"] = paths
    components: dict[str, Any] = {}
    schemes = spec.get("components", {}).get("securitySchemes")
    if schemes:
        components["securitySchemes"] = schemes
    pending = [paths]
    while pending:
        for ref in _refs(pending.pop()):
            kind, name = ref.split("/")[2:4]
            bucket = components.setdefault(kind, {})
            if name not in bucket:
                bucket[name] = spec["components"][kind][name]
                pending.append(bucket[name])
    cut["components"] = components
    cut.pop("webhooks", None)
    return OpenAPI.from_dict(cut)


def _refs(node: Any) -> Iterator[str]:
    """Every local "#/components/..." reference inside `node`."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/"):
                yield ref
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def validate_request(
    spec_path: str | Path,
    method: str,
    path: str,
    *,
    query: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    templates: frozenset[str] | None = None,
) -> None:
    """Assert that the request is one the description accepts: its operation exists, every
    query parameter it sends is declared, and parameters, headers and JSON body validate.

    `templates`: the path templates of every request to be checked against this description
    (one cut copy of it then serves them all); the request's own template is enough otherwise.
    """
    spec_path = str(spec_path)
    name = Path(spec_path).name
    template = find_template(spec_path, method, path)
    if template is None:
        raise AssertionError(f"{method} {path}: no such operation in {name}")
    _require_declared_query(spec_path, method, template, query or {})
    headers = dict(headers or {})
    _require_auth_scheme(spec_path, method, template, headers)
    content_type = next(
        (v for k, v in headers.items() if k.lower() == "content-type"), "application/json"
    )
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    else:
        data = json.dumps(body).encode("utf-8")
    request = MockRequest(
        _server(spec_path),
        method.lower(),
        path,
        args=ImmutableMultiDict([(k, v) for k, vs in (query or {}).items() for v in vs]),
        headers=headers,
        data=data,
        content_type=content_type.split(";")[0].strip() if data else "application/json",
    )
    app = _request_app(spec_path, templates or frozenset({template}))
    errors = list(app.iter_request_errors(request))
    if errors:
        raise AssertionError(
            f"{method} {path} is not a request {name} accepts:\n"
            + "\n".join(_describe(e) for e in errors)
        )


def _require_declared_query(
    spec_path: str, method: str, template: str, query: dict[str, list[str]]
) -> None:
    """openapi-core ignores query parameters the operation does not declare; a real service
    may reject or ignore them, so a request sending one is not as the service describes it."""
    spec = spec_dict(spec_path)
    item = spec["paths"][template]
    declared = set()
    for param in [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]:
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param.get("in") == "query":
            declared.add(param["name"])
    unknown = sorted(set(query) - declared)
    if unknown:
        raise AssertionError(
            f"{method} {template}: query parameter(s) {unknown} are not declared by "
            f"{Path(spec_path).name} (declared: {sorted(declared)})"
        )


def _require_auth_scheme(
    spec_path: str, method: str, template: str, headers: dict[str, str]
) -> None:
    """openapi-core accepts a request without credentials (it warns about OAuth2 and moves
    on); the operation's HTTP security schemes say which Authorization scheme it takes."""
    spec = spec_dict(spec_path)
    requirements = spec["paths"][template][method.lower()].get("security", spec.get("security"))
    if not requirements or any(not r for r in requirements):  # none, or anonymous allowed
        return
    schemes = spec.get("components", {}).get("securitySchemes", {})
    wanted = {
        str(schemes[name]["scheme"]).lower()
        for requirement in requirements
        for name in requirement
        if schemes.get(name, {}).get("type") == "http"
    }
    sent = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    if wanted and sent.split(" ", 1)[0].lower() not in wanted:
        raise AssertionError(
            f"{method} {template}: Authorization scheme {sent.split(' ', 1)[0]!r} is not one "
            f"{Path(spec_path).name} takes ({sorted(wanted)})"
        )
