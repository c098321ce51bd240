"""The people directory: one person joined across Jira, GitHub and Notion.

Filled from config first (which is authoritative for keys, time zones and ids), then from what
each system's user API reports. Groups, teams and bots are kept apart so that a role held by one
of them can be refused: a group cannot be a single-threaded owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from connectors.base import Account

__all__ = ["Directory", "Person", "PersonConfig"]

SYSTEM_IDS = ("jira", "github", "notion")


@dataclass(frozen=True)
class Person:
    """One human, with their handle in each system."""

    key: str
    name: str = ""
    email: str = ""
    ids: Mapping[str, str] = field(default_factory=dict)  # system -> accountId | login | user id
    time_zone: str = ""
    active: bool = True

    @property
    def jira(self) -> str:
        return self.ids.get("jira", "")

    @property
    def github(self) -> str:
        return self.ids.get("github", "")

    @property
    def notion(self) -> str:
        return self.ids.get("notion", "")


@dataclass(frozen=True)
class PersonConfig:
    """A `[[people]]` entry as settings hand it over (no pydantic here: mapping stays plain)."""

    key: str
    name: str = ""
    email: str = ""
    jira: str = ""
    github: str = ""
    notion: str = ""
    time_zone: str = ""
    active: bool = True


def _norm(system: str, handle: str) -> str:
    # GitHub logins and emails are case-insensitive; Jira and Notion ids are opaque but never
    # differ only by case, so folding everything is safe and simpler.
    return f"{system}:{handle.strip().lower()}"


class Directory:
    """Who is who across systems; `resolve` answers a system's handle with a Person."""

    def __init__(self) -> None:
        self._people: dict[str, Person] = {}
        self._by_handle: dict[str, str] = {}  # "system:handle" -> person key
        self._by_email: dict[str, str] = {}
        self._by_name: dict[str, set[str]] = {}
        self._groups: set[str] = set()  # names from config, any system
        self._system_groups: set[str] = set()  # "system:handle" of groups, teams and bots

    @classmethod
    def from_config(
        cls, people: Iterable[PersonConfig] = (), groups: Iterable[str] = ()
    ) -> Directory:
        """A directory holding the configured people and group names."""
        directory = cls()
        for entry in people:
            ids = {s: getattr(entry, s) for s in SYSTEM_IDS if getattr(entry, s)}
            directory._put(
                Person(
                    key=entry.key,
                    name=entry.name,
                    email=entry.email,
                    ids=ids,
                    time_zone=entry.time_zone,
                    active=entry.active,
                )
            )
        for name in groups:
            directory._groups.add(name.strip().lower())
        return directory

    def add_accounts(self, accounts: Iterable[Account]) -> None:
        """Join what a system reports onto known people (by id, then email) or add new ones."""
        for account in accounts:
            if account.kind != "person":
                self._system_groups.add(_norm(account.system, account.id))
                if account.name:
                    self._system_groups.add(_norm(account.system, account.name))
                continue
            key = self._by_handle.get(_norm(account.system, account.id))
            if key is None and account.email:
                key = self._by_email.get(account.email.strip().lower())
            if key is None:
                key = account.email.strip().lower() or f"{account.system}:{account.id}"
                self._put(Person(key=key, name=account.name, email=account.email))
            self._merge(key, account)

    def _merge(self, key: str, account: Account) -> None:
        person = self._people[key]
        ids = dict(person.ids)
        ids.setdefault(account.system, account.id)
        # Config wins over what a system reports, except that a deactivated account is news.
        self._put(
            replace(
                person,
                name=person.name or account.name,
                email=person.email or account.email,
                ids=ids,
                time_zone=person.time_zone or account.time_zone,
                active=person.active and account.active,
            )
        )

    def _put(self, person: Person) -> None:
        old = self._people.get(person.key)
        if old is not None and old.name:
            self._by_name.get(old.name.strip().lower(), set()).discard(person.key)
        self._people[person.key] = person
        for system, handle in person.ids.items():
            self._by_handle[_norm(system, handle)] = person.key
        if person.email:
            self._by_email[person.email.strip().lower()] = person.key
        if person.name:
            self._by_name.setdefault(person.name.strip().lower(), set()).add(person.key)

    def resolve(self, system: str, handle: str) -> Person | None:
        """The person behind a handle (id, login, email, or a unique display name)."""
        if not handle or self.is_group(system, handle):
            return None
        key = self._by_handle.get(_norm(system, handle))
        if key is None:
            key = self._by_email.get(handle.strip().lower())
        if key is None:
            # jira-cli style payloads carry only a displayName; accept it when unambiguous.
            named = self._by_name.get(handle.strip().lower(), set())
            key = next(iter(named)) if len(named) == 1 else None
        return self._people.get(key) if key else None

    def is_group(self, system: str, handle: str) -> bool:
        """True for configured group names and for teams, groups and bots a system reported."""
        norm = handle.strip().lower()
        return norm in self._groups or _norm(system, handle) in self._system_groups

    def get(self, key: str) -> Person | None:
        """A person by directory key."""
        return self._people.get(key)

    def __len__(self) -> int:
        return len(self._people)

    def __iter__(self) -> Iterator[Person]:
        return iter(sorted(self._people.values(), key=lambda p: p.key))
