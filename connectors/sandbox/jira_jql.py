"""The JQL subset the sandbox's Jira understands, read the way Jira reads it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jira_store import JiraStore

__all__ = ["Jql"]

_TOKEN = re.compile(
    r'\s*(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|'
    r"(>=|<=|!=|=|>|<|\(|\)|,)|([^\s=<>!(),\"']+))"
)
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_FIELD_ALIASES = {
    "issuekey": "key",
    "updateddate": "updated",
    "createddate": "created",
    "type": "issuetype",
}


def _always(issue: dict[str, Any]) -> bool:
    return True


class Jql:
    """The JQL subset the sandbox understands: clauses with AND/OR/NOT/(), ORDER BY."""

    def __init__(self, service: JiraStore) -> None:
        self.s = service
        self.toks: list[tuple[str, str]] = []
        self.pos = 0

    def run(self, jql: str) -> list[str]:
        """The ids of matching issues, in the query's order."""
        self.toks, self.pos = self._tokenize(jql), 0
        pred: Any = _always
        order: list[tuple[str, bool]] = []
        if self._peek().lower() != "order":
            pred = self._or()
        if self.pos < len(self.toks):
            if self._next().lower() != "order" or self._next().lower() != "by":
                self._syntax(f"Expecting 'ORDER BY' or the end of the query near '{self._peek()}'")
            order = self._order()
        hits = [i for i in self.s.issues.values() if i["state"] == "present" and pred(i)]
        hits.sort(key=lambda i: int(i["id"]) if i["id"].isdigit() else 0)
        for fid, desc in reversed(order or [("id", False)]):
            hits.sort(key=lambda i, f=fid: self._sort_key(i, f), reverse=desc)  # type: ignore[misc]
        return [i["id"] for i in hits]

    def _or(self) -> Any:
        """expr := term (OR term)*; term := factor (AND factor)*; factor := (expr) | NOT f."""
        terms = [self._and()]
        while self._peek().lower() == "or":
            self._next()
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (lambda i: any(p(i) for p in terms))

    def _and(self) -> Any:
        factors = [self._factor()]
        while self._peek().lower() == "and":
            self._next()
            factors.append(self._factor())
        return factors[0] if len(factors) == 1 else (lambda i: all(p(i) for p in factors))

    def _factor(self) -> Any:
        if self._peek() == "(":
            self._next()
            inner = self._or()
            if self._next() != ")":
                self._syntax("Expecting ')' to close the expression")
            return inner
        if self._peek().lower() == "not":
            self._next()
            inner = self._factor()
            return lambda i: not inner(i)
        return self._clause()

    def _tokenize(self, jql: str) -> list[tuple[str, str]]:
        out, pos = [], 0
        while pos < len(jql):
            if not jql[pos:].strip():
                break
            m = _TOKEN.match(jql, pos)
            if not m or m.end() == pos:
                self._syntax(f"The character '{jql[pos]}' is a reserved JQL character")
            assert m is not None
            pos = m.end()
            if m.group(1) is not None or m.group(2) is not None:
                out.append(("str", m.group(1) if m.group(1) is not None else m.group(2)))
            elif m.group(3):
                out.append(("op", m.group(3)))
            else:
                out.append(("word", m.group(4)))
        return out

    def _peek(self) -> str:
        return self.toks[self.pos][1] if self.pos < len(self.toks) else ""

    def _next(self) -> str:
        if self.pos >= len(self.toks):
            self._syntax("Unexpected end of query")
        self.pos += 1
        return self.toks[self.pos - 1][1]

    def _syntax(self, why: str) -> None:
        self.s._fail(400, f"Error in the JQL Query: {why}.")

    def _clause(self) -> Any:
        name = self._next()
        fid = _FIELD_ALIASES.get(name.lower(), name.lower())
        op = self._next().lower()
        if op == "not" and self._peek().lower() == "in":
            op = "not in" if self._next() else op
        if op in ("in", "not in"):
            if self._next() != "(":
                self._syntax("Expecting '(' after 'in'")
            values = [self._next()]
            while self._peek() == ",":
                self._next()
                values.append(self._next())
            if self._next() != ")":
                self._syntax("Expecting ')' to close the list")
        elif op in ("=", "!=", ">=", "<=", ">", "<"):
            values = [self._next()]
        else:
            self._syntax(f"Expecting an operator after '{name}' but got '{op}'")
        return self._predicate(fid, name, op, values)

    def _predicate(self, fid: str, name: str, op: str, values: list[str]) -> Any:
        negate = op in ("!=", "not in")
        if fid == "project":
            for val in values:
                if val.upper() not in self.s.projects and val not in {
                    p["id"] for p in self.s.projects.values()
                }:
                    self.s._fail(400, f"The value '{val}' does not exist for the field 'project'.")
            wanted = {self._project_key(val) for val in values}
            return lambda i: (i["project"] in wanted) != negate
        if fid in ("key", "id"):
            wanted = {self.s.by_key.get(val.upper(), val) for val in values}
            for val in values:
                if fid == "key" and val.upper() not in self.s.by_key:
                    self.s._fail(400, f"An issue with key '{val}' does not exist for field 'key'.")
            return lambda i: (i["id"] in wanted) != negate
        if fid in ("updated", "created"):
            if len(values) != 1 or op in ("in", "not in"):
                self._syntax(f"Operator '{op}' is not supported for field '{name}'")
            at = self._date(values[0], name)
            cmp = {
                "=": at.__eq__,
                "!=": at.__ne__,
                ">=": at.__le__,
                "<=": at.__ge__,
                ">": at.__lt__,
                "<": at.__gt__,
            }[op]
            return lambda i: cmp(i[fid])
        if fid in ("labels", "status", "issuetype", "summary"):
            wanted = set(values)

            def has(i: dict[str, Any]) -> bool:
                v = i["fields"].get(fid)
                vals = set(v) if isinstance(v, list) else {v}
                return bool(vals & wanted)

            return lambda i: has(i) != negate
        self.s._fail(
            400, f"Field '{name}' does not exist or you do not have permission to view it."
        )

    def _project_key(self, val: str) -> str:
        for p in self.s.projects.values():
            if p["id"] == val:
                return str(p["key"])
        return val.upper()

    def _date(self, text: str, name: str) -> datetime:
        """Epoch milliseconds are absolute; every other form is local to the account."""
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        for fmt in _DATE_FORMATS:
            try:
                local = datetime.strptime(text, fmt)
            except ValueError:
                continue
            return local.replace(tzinfo=self.s.tz).astimezone(UTC)
        self.s._fail(
            400,
            f"Date value '{text}' for field '{name}' is invalid. Valid formats "
            "include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', "
            "'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.",
        )
        raise AssertionError  # unreachable

    def _order(self) -> list[tuple[str, bool]]:
        order = []
        while self.pos < len(self.toks):
            name = self._next()
            fid = _FIELD_ALIASES.get(name.lower(), name.lower())
            if fid not in ("updated", "created", "key", "id"):
                self.s._fail(
                    400, f"Field '{name}' does not exist or you do not have permission to view it."
                )
            desc = False
            if self._peek().lower() in ("asc", "desc"):
                desc = self._next().lower() == "desc"
            order.append((fid, desc))
            if self._peek() == ",":
                self._next()
        return order

    @staticmethod
    def _sort_key(issue: dict[str, Any], fid: str) -> Any:
        if fid in ("updated", "created"):
            return issue[fid]
        if fid == "key":
            project, _, num = issue["key"].rpartition("-")
            return (project, int(num) if num.isdigit() else 0)
        return int(issue["id"]) if issue["id"].isdigit() else 0
