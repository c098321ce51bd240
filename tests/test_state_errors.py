"""State-file trouble, the lock, and output for scripts: one line with the right advice, never a
raw traceback; `--json` is one line of JSON on stdout in every case."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import workspace, write_config
from test_crash import marker_comments

from connectors.sandbox import Fault, Sandbox

ROOT = Path(__file__).resolve().parent.parent


def handoff(*args: str, timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync.commands.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
        **kw,  # type: ignore[arg-type]
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr (no traceback)."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def synced(tmp_path: Path) -> Iterator[tuple[Sandbox, Path, Path]]:
    """A sandbox, its config, and a state file one full sync has written."""
    with Sandbox(workspace()) as sb:
        state = tmp_path / "state" / "state.db"
        state.parent.mkdir()
        config = write_config(tmp_path / "c.toml", sb.url, state)
        first = handoff("sync", "--config", str(config))
        assert first.returncode == 0, first.stderr
        yield sb, config, state


def test_a_corrupt_page_inside_the_state_file_is_one_line_with_the_rebuild_advice(
    synced: tuple[Sandbox, Path, Path],
) -> None:
    _, config, state = synced
    con = sqlite3.connect(state)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert pages > 4
    # Overwrite every page but the first (the schema) with garbage: the file opens, then
    # breaks on the first real read.
    with state.open("r+b") as f:
        f.seek(page)
        f.write(b"\xa5" * page * (pages - 1))
    proc = handoff("sync", "--config", str(config))
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert str(state) in line and "damaged" in line and "--full" in line


def test_a_full_disk_is_one_line_that_says_so(tmp_path: Path) -> None:
    # RLIMIT_FSIZE in the child (SIGXFSZ ignored, so the write fails with EFBIG instead of
    # killing it): SQLite's write of the state file then really fails, through our code path.
    with Sandbox(workspace()) as sb:
        state = tmp_path / "state.db"
        config = write_config(tmp_path / "c.toml", sb.url, state)
        runner = textwrap.dedent(
            """
            import resource, signal, sys
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, 40_000))
            from sync.commands.cli import main
            main(sys.argv[1:], prog_name="handoff")
            """
        )
        proc = subprocess.run(
            [sys.executable, "-c", runner, "sync", "--config", str(config)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc)
    assert str(state) in line and "full" in line and "free" in line
    assert "Move the file aside" not in line


def test_a_locked_database_is_one_line_with_wait_advice(synced: tuple[Sandbox, Path, Path]) -> None:
    _, config, state = synced
    holder = sqlite3.connect(state)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE runs SET dry_run = dry_run")
    try:
        proc = handoff("status", "--config", str(config))
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == 1, proc.stdout
    line = one_line_error(proc)
    assert "locked" in line and str(state) in line and "again" in line
    assert "Move the file aside" not in line


def test_a_read_only_state_folder_is_called_read_only_not_corrupt(
    synced: tuple[Sandbox, Path, Path],
) -> None:
    _, config, state = synced
    folder = str(state.parent)
    # A read-only bind mount of the state folder onto itself (root only; file modes do not
    # stop root, a read-only file system does).
    if os.getuid() != 0 or subprocess.run(["mount", "--bind", folder, folder]).returncode:
        pytest.skip("needs root to mount the state folder read-only")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", folder], check=False)
        assert remount.returncode == 0
        proc = handoff("sync", "--config", str(config))
        status = handoff("status", "--config", str(config))
    finally:
        subprocess.run(["umount", folder], check=False)
    assert proc.returncode == 1, proc.stderr
    line = one_line_error(proc)
    assert "read-only" in line and folder in line
    assert "Move the file aside" not in line and "cannot be read" not in line
    # Reading needs no write access: status still works.
    assert status.returncode == 0, status.stderr


def test_the_lock_holds_for_a_state_reached_through_a_symlink(tmp_path: Path) -> None:
    with Sandbox(workspace()) as sb:
        real = tmp_path / "real" / "state.db"
        real.parent.mkdir()
        other = tmp_path / "other"
        other.mkdir()
        link = other / "state.db"
        link.symlink_to(real)
        a = write_config(tmp_path / "a.toml", sb.url, real)
        b = write_config(tmp_path / "b.toml", sb.url, link)
        # The first run holds its first write for 8 s: time for the second to start and meet
        # the lock even on a loaded machine (0.5 s a write was not, with the load at 9).
        sb.inject("WRITE", ".", Fault(delay=8.0), times=1)
        first = subprocess.Popen(
            [sys.executable, "-m", "sync.commands.cli", "sync", "--config", str(a)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + 60
            while sb.arrived(write=True) < 1:
                assert first.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
            second = handoff("sync", "--config", str(b))
            first.communicate(timeout=120)
        finally:
            if first.poll() is None:
                first.kill()
        assert second.returncode == 3, second.stderr
        assert "Another handoff sync is running" in one_line_error(second)
        assert first.returncode == 0
        assert max(marker_comments(sb).values()) == 1


def _json_line(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    body = json.loads(lines[0])
    assert isinstance(body, dict)
    return body


def test_json_is_one_line_on_stdout_in_success_and_error(
    synced: tuple[Sandbox, Path, Path], tmp_path: Path
) -> None:
    _, config, state = synced
    missing = str(tmp_path / "missing.toml")
    for command in ("sync", "status", "doctor"):
        ok = handoff(command, "--config", str(config), "--json")
        assert ok.returncode == 0, (command, ok.stderr)
        assert _json_line(ok).get("ok", True) is True, command
        bad = handoff(command, "--config", missing, "--json")
        assert bad.returncode == 2, (command, bad.stdout, bad.stderr)
        body = _json_line(bad)
        assert body["ok"] is False and "missing.toml" in json.dumps(body), command
        assert "Traceback" not in bad.stderr
    usage = handoff("sync", "--config", str(config), "--only", "nope", "--json")
    assert usage.returncode == 2 and _json_line(usage)["ok"] is False
    demo = handoff("demo", "--dir", "/proc/handoff-demo", "--json")
    assert demo.returncode == 1 and "Traceback" not in demo.stderr
    assert "/proc/handoff-demo" in str(_json_line(demo)["error"])
    # An unexpected failure (a damaged state file) is one JSON line too, exit 1.
    with state.open("r+b") as f:
        f.seek(0)
        f.write(b"not a database at all" * 10)
    for command in ("sync", "status"):
        broken = handoff(command, "--config", str(config), "--json")
        assert broken.returncode == 1, (command, broken.stderr)
        assert _json_line(broken)["ok"] is False
        assert "Traceback" not in broken.stderr
