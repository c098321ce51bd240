"""Is this delivery from the system it claims? HMAC-SHA256 over the raw body, compared in
constant time, the way each system signs (`WebhookSpec.signature`: "sha256=<hex>")."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign", "signed_by"]

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value a sender with `secret` puts on `body`."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signed_by(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is `body`'s signature with `secret`; a missing header, another
    algorithm or an empty secret is never a match."""
    if not secret or not header:
        return False
    expected = sign(secret, body).encode("ascii")
    given = header.strip().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)
