"""The HTML report in headless Chromium: charts render, nothing logs an error, no title runs.

Chromium is driven over the DevTools protocol through a minimal stdlib WebSocket client (one
connection, unfragmented text frames, which is all Chromium sends us). In CI (CI=true) a missing
Chromium that cannot be installed is a failure, never a skip.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_report import NAMES, NOW, SECOND, _f, fill

from sync.report_data import gather
from sync.report_html import render_html
from sync.store.sqlite import SqliteStore

INSTALL_TIMEOUT = 600  # seconds for apt-get, when the test has to install Chromium
STEP_TIMEOUT = 20.0  # seconds for any one DevTools answer or page load
# A title that would leave a mark if it ever ran, with or without the CSP.
MARKING_TITLE = (
    "<script>document.title='pwned';document.documentElement.dataset.pwned='1'</script>"
    "<img src=x onerror=\"document.documentElement.dataset.pwned='1'\">"
)


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _install() -> str:
    """apt-get install chromium (root only), bounded; returns why it could not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "Chromium is missing and installing it needs root"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=INSTALL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"apt-get install chromium failed: {exc}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    why = "" if found else _install()
    found = found or _find_chromium()
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs Chromium for the report test: {why}")
    pytest.skip(why or "Chromium not found")


# --- a minimal DevTools client --------------------------------------------------------------


class DevTools:
    """One WebSocket to one page target; `call` sends a command and collects events."""

    def __init__(self, ws_url: str) -> None:
        m = re.fullmatch(r"ws://([\d.]+):(\d+)(/.*)", ws_url)
        assert m, ws_url
        self.sock = socket.create_connection((m[1], int(m[2])), timeout=STEP_TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {m[3]} HTTP/1.1\r\nHost: {m[1]}:{m[2]}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "DevTools closed during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head[:80]
        self.buf = head.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "DevTools closed the connection"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _recv(self) -> dict[str, Any]:
        first, second = self._read(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack(">H", self._read(2))[0]
        elif size == 127:
            size = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(size)
        assert first & 0x0F == 1 and first & 0x80, "expected one whole text frame"
        message: dict[str, Any] = json.loads(payload)
        return message

    def send(self, method: str, **params: Any) -> int:
        self.next_id += 1
        data = json.dumps({"id": self.next_id, "method": method, "params": params}).encode()
        mask = os.urandom(4)
        if len(data) < 126:
            header = struct.pack(">BB", 0x81, 0x80 | len(data))
        else:
            header = struct.pack(">BBH", 0x81, 0x80 | 126, len(data))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)
        return self.next_id

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        wanted = self.send(method, **params)
        for _ in range(10_000):
            message = self._recv()
            if message.get("id") == wanted:
                assert "error" not in message, message
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)
        raise AssertionError(f"no answer to {method}")

    def wait_event(self, method: str) -> dict[str, Any]:
        for event in self.events:
            if event["method"] == method:
                return event
        for _ in range(10_000):
            message = self._recv()
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message
        raise AssertionError(f"no {method} event")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Headless Chromium with DevTools on a free loopback port; yields the port."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1200,2000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + STEP_TIMEOUT
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None, "Chromium exited at start"
            assert time.monotonic() < deadline, "Chromium did not open DevTools"
            time.sleep(0.05)
        yield int(port_file.read_text().split()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def open_page(port: int, path: Path) -> DevTools:
    """A fresh tab with the report loaded; console and log events are being collected."""
    with urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT"),
        timeout=STEP_TIMEOUT,
    ) as answer:
        target = json.loads(answer.read())
    tab = DevTools(target["webSocketDebuggerUrl"])
    for domain in ("Page", "Runtime", "Log"):
        tab.call(f"{domain}.enable")
    tab.call("Page.navigate", url=path.as_uri())
    tab.wait_event("Page.loadEventFired")
    return tab


def errors_of(tab: DevTools) -> list[str]:
    tab.evaluate("1")  # drain events that arrived with the load
    out = []
    for event in tab.events:
        params = event.get("params", {})
        if event["method"] == "Runtime.exceptionThrown":
            out.append(str(params["exceptionDetails"]))
        elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
            out.append(str(params.get("args")))
        elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
            out.append(params["entry"].get("text", ""))
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with SqliteStore.memory() as state:
        fill(state)
        run = state.start_run(NOW)
        marked = _f(5, "ownerless", "outcome_owner", notify=(), message=MARKING_TITLE)
        state.record_findings(run, [*SECOND, marked], NOW)
        state.db.execute("UPDATE records SET title = ? WHERE key = 'EXP-4'", [MARKING_TITLE])
        page = render_html(gather(state, now=NOW, names=NAMES))
    path = tmp_path_factory.mktemp("report") / "handoff-report.html"
    path.write_text(page, encoding="utf-8")
    return path


CHARTS = """JSON.stringify([...document.querySelectorAll('svg.chart')].map(s => {
  const r = s.getBoundingClientRect();
  return {id: s.id, w: r.width, h: r.height, shapes: s.querySelectorAll('rect').length};
}))"""


def test_charts_render_with_size_and_no_console_errors(browser: int, report: Path) -> None:
    tab = open_page(browser, report)
    try:
        charts = json.loads(tab.evaluate(CHARTS))
        assert [c["id"] for c in charts] == ["trend-chart", "heat-team", "heat-owner"]
        assert all(c["w"] > 100 and c["h"] > 50 and c["shapes"] > 0 for c in charts), charts
        assert errors_of(tab) == []
    finally:
        tab.close()


def test_a_script_in_a_title_does_not_run(browser: int, report: Path) -> None:
    tab = open_page(browser, report)
    try:
        assert tab.evaluate("document.title").startswith("Handoff report")
        assert tab.evaluate("document.documentElement.dataset.pwned || ''") == ""
        assert tab.evaluate("document.querySelectorAll('script, img').length") == 0
        text = tab.evaluate("document.body.innerText")
        assert "<script>document.title='pwned'" in text  # shown as text, not run
    finally:
        tab.close()


def test_escaping_alone_stops_the_script_even_without_the_csp(
    browser: int, report: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "no-csp.html"
    page = report.read_text(encoding="utf-8")
    bare.write_text(re.sub(r"<meta http-equiv=\"Content-Security-Policy\"[^>]*>", "", page))
    assert "Content-Security-Policy" not in bare.read_text()
    tab = open_page(browser, bare)
    try:
        assert tab.evaluate("document.title").startswith("Handoff report")
        assert tab.evaluate("document.documentElement.dataset.pwned || ''") == ""
        assert errors_of(tab) == []
    finally:
        tab.close()
