"""The deployment files of README's "Running two replicas" (docs/deploy/): the compose file is
valid YAML, every command it and the systemd unit run exists and takes the options given
(each run with --help appended: click refuses an unknown option before it prints help), the
replicas are checked on /healthz, and no secret is written in them."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from pg_server import PgServer

from sync.commands.cli import main

DEPLOY = Path(__file__).resolve().parent.parent / "docs" / "deploy"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def _handoff_help(args: list[str]) -> str:
    """`handoff ARGS --help`: fails on a command or option that does not exist."""
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, (args, result.output)
    return result.output


def test_compose_runs_two_serve_replicas_behind_a_balancer_on_one_postgres() -> None:
    services = _compose()["services"]
    replicas = {k: v for k, v in services.items() if v.get("command", [None])[0] == "serve"}
    assert len(replicas) == 2, services.keys()
    for name, svc in replicas.items():
        args = svc["command"]
        assert "Usage: main serve" in _handoff_help(args)
        port = args[args.index("--port") + 1]
        check = svc["healthcheck"]["test"]
        assert check[:3] == ["CMD", "python", "-c"], check
        compile(check[3], f"{name} healthcheck", "exec")  # valid Python
        assert f"127.0.0.1:{port}/healthz" in check[3]
        env = svc["environment"]
        assert env["HANDOFF_STATE__URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["HANDOFF_STATE__URL"]
        for key, value in env.items():  # secrets come from the environment, never the file
            if re.search(r"TOKEN|SECRET|STATE__URL", key):
                assert "${" in value, (key, value)
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    upstream = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for name, svc in replicas.items():
        port = svc["command"][svc["command"].index("--port") + 1]
        assert f"server {name}:{port}" in upstream
    lb = next(s for s in services.values() if str(s.get("image", "")).startswith("nginx"))
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in lb["volumes"]


def test_postgres_healthcheck_command_runs(pg_server: PgServer) -> None:
    # PostgreSQL's tools take --help only alone: run the check itself against a real server
    # (pg_isready answers 0 when the server accepts connections, whoever the user is).
    check = _compose()["services"]["postgres"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    where = ["-h", "127.0.0.1", "-p", str(pg_server.port)]
    proc = subprocess.run([str(pg_server.bindir / check[1]), *check[2:], *where],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_dockerfile_installs_what_the_compose_file_runs() -> None:
    build = _compose()["x-handoff"]["build"]
    dockerfile = (DEPLOY / build["context"] / build["dockerfile"]).resolve()
    text = dockerfile.read_text(encoding="utf-8")
    assert 'ENTRYPOINT ["handoff"]' in text
    for path in re.findall(r"^COPY (\S+)", text, flags=re.M):
        assert (DEPLOY / build["context"] / path).exists(), path


def _exec_start() -> list[str]:
    unit = (DEPLOY / "handoff-serve@.service").read_text(encoding="utf-8")
    (line,) = [x for x in unit.splitlines() if x.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart=").replace("%i", "8081"))


def test_systemd_unit_runs_an_existing_command() -> None:
    argv = _exec_start()
    assert Path(argv[0]).name == "handoff"
    assert "Usage: main serve" in _handoff_help(argv[1:])
    assert argv[argv.index("--port") + 1] == "8081"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_parses(tmp_path: Path) -> None:
    # verify wants the binary at ExecStart's path: point it at this interpreter
    text = (DEPLOY / "handoff-serve@.service").read_text(encoding="utf-8")
    unit = tmp_path / "handoff-serve@8081.service"
    unit.write_text(text.replace("/usr/local/bin/handoff", sys.executable), encoding="utf-8")
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)
    # Only complaints about this unit's own syntax count; the host may lack other units.
    bad = [x for x in proc.stderr.splitlines() if unit.name in x and "Unknown" in x]
    assert not bad, proc.stderr
