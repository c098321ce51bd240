"""Shared fixtures: where the real API material lives, and how to require it in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI must be repeatable: the same examples every run (explore locally, where a new failing
# example is news rather than a red build). deadline=None: shared machines are noisy.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
SHARED_API = ROOT.parent / "shared" / "api"


@pytest.fixture(scope="session")
def shared_api() -> Path:
    """The real recorded responses and specs beside the project; CI must have them."""
    if not SHARED_API.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED_API} is missing: CI must run beside ../shared/api")
        pytest.skip(f"{SHARED_API} not present on this machine")
    return SHARED_API
