"""Shared fixtures: where the real API material lives, and how to require it in CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
