"""What to tell a person when the PostgreSQL state cannot be used: one line naming the
database (never its password) and what to do."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from connectors.errors import StateError

__all__ = ["is_postgres", "pg_error", "redact"]

SCHEMES = ("postgresql", "postgres")


def is_postgres(where: str) -> bool:
    return urlsplit(where).scheme in SCHEMES


def redact(url: str) -> str:
    """The URL as a person may see it: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def pg_error(exc: Exception, url: str) -> StateError:
    """One line for a person about a failure of the PostgreSQL state at `url`."""
    import psycopg  # loaded already: `exc` came from it (this module must not load it)

    where = redact(url)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.OperationalError) and not isinstance(
        exc, psycopg.errors.QueryCanceled
    ):
        text = (
            f"Cannot use the PostgreSQL state at {where} ({first}): check that the server "
            "runs and accepts this user, and that [state] url (or HANDOFF_STATE__URL) names "
            "its host, port, database and user."
        )
    elif isinstance(exc, psycopg.errors.InsufficientPrivilege):
        text = (
            f"The PostgreSQL state at {where} refused us ({first}): grant this user the right "
            "to create and change tables in its schema."
        )
    else:
        text = f"The PostgreSQL state at {where} failed ({first}); run `handoff doctor`."
    return StateError(text, internal=repr(exc))
