"""A real browser opens the report: headless Chromium (Debian package), networking off.

Chromium is driven over the DevTools protocol through `--remote-debugging-pipe` (JSON
messages on fds 3 and 4, NUL-terminated): no WebSocket library, no browser download.
The page must render its three charts with no console error, no exception and no network
request, and a hostile file name must show as text. The screenshot is kept under pytest's
temporary folder (`report.png` in the test's `tmp_path`; pytest keeps the last three runs,
under `pytest --basetemp=DIR` in DIR) for a human to look at, never in the checkout.

Without Chromium the test is skipped on a laptop and FAILS under CI=true (`make check`
installs it there).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.report import (
    PeriodKind,
    ReportOptions,
    build_report,
    collect_report_data,
    period_of,
)
from pipeline.report.period import Clock
from pipeline.settings import Settings
from pipeline.warehouse import open_warehouse

HOSTILE_FILE = "<img src=x onerror=alert(1)>.docx"
HOSTILE_USER = "</script><img src=x onerror=alert(1)>"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves
    "--proxy-server=http://127.0.0.1:9",  # and nothing could be fetched anyway
    "--remote-debugging-pipe",
]
# Records alert() instead of showing it: a hostile onerror would leave a trace here.
ALERT_TRAP = "window.__alerts = []; window.alert = (m) => window.__alerts.push(String(m));"


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is not installed; `make check` installs the Debian package")
    pytest.skip("chromium is not installed (apt-get install chromium); CI fails without it")


class DevTools:
    """The few DevTools-protocol calls this test needs, over Chromium's pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes() -> None:  # in the child: fd 3 = commands in, fd 4 = replies out
            out = os.dup(from_browser_w) if from_browser_w == 3 else from_browser_w
            os.dup2(to_browser_r, 3)
            os.dup2(out, 4)

        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4, to_browser_r, from_browser_w),  # kept open past preexec_fn
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self.events: list[dict[str, Any]] = []
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.session: str | None = None

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from_browser, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                buffer += chunk
                while b"\0" in buffer:
                    raw, buffer = buffer.split(b"\0", 1)
                    message = json.loads(raw)
                    if "id" in message:
                        self._replies.put(message)
                    else:
                        self.events.append(message)

    def call(self, method: str, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._replies.get(timeout=timeout)
            if reply["id"] == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        reply = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return reply["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # it may already be gone
            self.call("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._to_browser)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    tools = DevTools(_chromium(), tmp_path / "profile")
    try:
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        tools.session = tools.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            tools.call(f"{domain}.enable")
        tools.call(
            "Network.emulateNetworkConditions",
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )
        tools.call("Page.addScriptToEvaluateOnNewDocument", source=ALERT_TRAP)
        tools.call(
            "Emulation.setDeviceMetricsOverride",
            width=1280,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        yield tools
    finally:
        tools.close()


def _problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors/warnings, uncaught exceptions, log errors, and any non-file request."""
    found = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in (
            "error",
            "warning",
            "assert",
        ):
            found.append(f"console.{params['type']}: {params['args']}")
        elif method == "Runtime.exceptionThrown":
            found.append(f"exception: {params['exceptionDetails']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            found.append(f"log: {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:", "blob:")):
                found.append(f"network request: {url}")
    return found


def _open(browser: DevTools, page: Path) -> None:
    browser.call("Page.navigate", url=page.resolve().as_uri())
    browser.wait_for("document.readyState === 'complete'")


def test_the_problem_detector_sees_errors_and_network_requests(
    browser: DevTools, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<p>x</p><img src="https://example.com/x.png">'
        "<script>console.error('boom'); setTimeout(() => { throw new Error('late'); });</script>",
        encoding="utf-8",
    )
    _open(browser, bad)
    deadline = time.monotonic() + 30
    while not any("late" in p for p in _problems(browser.events)):  # the timer throws
        assert time.monotonic() < deadline, _problems(browser.events)
        time.sleep(0.05)
    problems = "\n".join(_problems(browser.events))
    assert "console.error" in problems and "late" in problems
    assert "network request: https://example.com/x.png" in problems


@pytest.mark.slow
@pytest.mark.parametrize("clock", [Clock.UTC, Clock.LOCAL])
def test_the_report_renders_offline_with_no_error_and_hostile_names_as_text(
    browser: DevTools, hostile_db: Path, tmp_path: Path, clock: Clock
) -> None:
    options = ReportOptions(
        period=period_of(PeriodKind.DAY, date(2026, 11, 27)),
        settings=Settings(timezone="Europe/Berlin"),
        generated_at=datetime(2026, 11, 28, 6, 0),
        clock=clock,
    )
    with open_warehouse(hostile_db, read_only=True) as con:
        report = build_report(con, tmp_path / "out", options).html
        utc_hours = collect_report_data(con, options)["key-calls-over-time"]["bucket_start"]
    _open(browser, report)
    charts = browser.wait_for(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3 && "
        "Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => d.id)"
    )
    assert charts == ["chart-key-calls-over-time", "chart-weekday-hour", "chart-top-users"]
    assert (
        browser.evaluate("document.querySelectorAll('#chart-key-calls-over-time .point').length")
        > 0
    )
    # The time axis follows --clock: its title names the zone, its bars sit at that zone's
    # wall-clock hours (Berlin is UTC+1 in November).
    title = browser.evaluate(
        "document.querySelector('#chart-key-calls-over-time .g-xtitle text').textContent"
    )
    bars = browser.evaluate(
        "Array.from(new Set(document.getElementById('chart-key-calls-over-time').data"
        ".flatMap(t => t.x))).sort()"
    )
    shift = timedelta(hours=1 if clock is Clock.LOCAL else 0)
    assert bars == sorted({(t + shift).isoformat() for t in utc_hours})
    assert title == ("hour, tenant clock (Europe/Berlin)" if clock is Clock.LOCAL else "UTC hour")
    assert (
        browser.evaluate("document.querySelectorAll('#chart-weekday-hour .hm image').length") == 1
    )
    ticks = browser.evaluate(
        "Array.from(document.querySelectorAll('#chart-top-users .ytick text'))"
        ".map(t => t.textContent)"
    )
    assert HOSTILE_USER in ticks  # plotly shows the user id literally
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.evaluate(f"document.body.innerText.includes({json.dumps(HOSTILE_FILE)})")
    assert browser.evaluate("window.__alerts") == []
    # Section 4 opens with the findings index: one row per finding, each linking to its card.
    index = browser.evaluate(
        "Array.from(document.querySelectorAll('#findings-index tbody tr')).map(r => "
        "[r.cells[1].textContent, r.querySelector('td.local').textContent.slice(11), "
        "document.getElementById(r.querySelector('a').hash.slice(1)) !== null])"
    )
    assert index == [
        ["admin-browsing", "10:30:00", True],
        ["denied-burst", "11:00:00", True],
        ["orphan-key-calls", "18:40:00", True],
    ]
    # The tenant is in Berlin: the index shows its wall-clock time beside UTC (first under
    # --clock local), and the status.
    headers = browser.evaluate(
        "Array.from(document.querySelectorAll('#findings-index thead th')).map(h => h.textContent)"
    )
    utc, berlin = ["First (UTC)", "Last (UTC)"], ["First (Europe/Berlin)", "Last (Europe/Berlin)"]
    assert headers[3:8] == [*(berlin + utc if clock is Clock.LOCAL else utc + berlin), "Status"]
    first = browser.evaluate(
        "Array.from(document.querySelectorAll('#findings-index tbody tr')).map(r => "
        "r.cells[3].textContent.slice(11))"
    )
    assert first == (
        ["10:30:00", "11:00:00", "18:40:00"]
        if clock is Clock.LOCAL
        else ["09:30:00", "10:00:00", "17:40:00"]
    )
    statuses = browser.evaluate(
        "Array.from(document.querySelectorAll('#findings-index tbody tr')).map(r => "
        "r.cells[7].textContent)"
    )
    assert statuses == ["open", "open", "open"]
    _screenshot(browser, tmp_path / "report.png")
    assert _problems(browser.events) == []


def _screenshot(browser: DevTools, path: Path) -> None:
    height = browser.evaluate("document.documentElement.scrollHeight")
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=1280,
        height=min(int(height), 12000),
        deviceScaleFactor=1,
        mobile=False,
    )
    # Plotly redraws responsive charts for the new viewport: wait until each fills its box.
    browser.wait_for(
        "document.documentElement.clientWidth === 1280 && "
        "Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => {"
        " const svg = p.querySelector('.main-svg');"
        " return svg && Math.abs(svg.getBoundingClientRect().width"
        " - p.getBoundingClientRect().width) < 2; })"
    )
    shot = browser.call("Page.captureScreenshot", format="png")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
