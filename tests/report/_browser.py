"""A minimal headless Chromium driver over the DevTools protocol, for the HTML report tests.

It opens a page and records what a user's browser would do: every request the page makes
(``Network.requestWillBeSent``), every console error, log error and uncaught exception; it
evaluates JavaScript in the page and captures screenshots. Chromium is Debian's ``chromium``
package (``make test`` installs it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError(
        "No Chromium found (looked for chromium, chromium-browser, google-chrome). Install "
        "Debian's: apt-get install -y chromium (make test does it)."
    )


@dataclass
class PageLoad:
    """What happened while a page loaded."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


class Chromium:
    """Headless Chromium with one page, driven over a DevTools websocket."""

    def __init__(self, profile_dir: Path, *, width: int = 1200, height: int = 1600) -> None:
        profile_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(profile_dir / "chromium.log", "wb")  # noqa: SIM115 - closed by _stop()
        self.proc = subprocess.Popen(
            [
                find_chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile_dir}",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        self._stack = contextlib.ExitStack()
        self._stack.callback(self._stop)
        try:
            port = self._wait_port(profile_dir / "DevToolsActivePort")
            self.ws = self._stack.enter_context(
                connect(self._page_url(port), max_size=None, open_timeout=30)
            )
        except BaseException:
            self._stack.close()  # never leave a browser running
            raise
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _wait_port(self, port_file: Path, timeout: float = 30.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.proc.returncode}")
            if port_file.is_file():
                first = port_file.read_text().splitlines()[:1]
                if first and first[0].strip().isdigit():
                    return int(first[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port within 30 s")

    @staticmethod
    def _page_url(port: int) -> str:
        end = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                targets = json.load(r)
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
            if time.monotonic() > end:
                raise RuntimeError("chromium shows no page target")
            time.sleep(0.1)

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command and wait for its result (events met meanwhile are kept)."""
        self._next_id += 1
        self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params or {}}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self._next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def _wait_event(self, method: str, timeout: float = 30.0) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = json.loads(self.ws.recv(timeout=max(end - time.monotonic(), 0.01)))
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(f"no {method} within {timeout} s")

    def _drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def open(self, url: str, *, settle: float = 0.5) -> PageLoad:
        """Load ``url`` and report its requests and console errors."""
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self._wait_event("Page.loadEventFired")
        self._drain(settle)
        return _page_load(self.events)

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-able)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page."""
        params = {"format": "png", "captureBeyondViewport": True}
        data = self.call("Page.captureScreenshot", params)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        """Close the websocket, then stop Chromium."""
        self._stack.close()

    def _stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def _page_load(events: list[dict[str, Any]]) -> PageLoad:
    load = PageLoad()
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            load.requests.append(p["request"]["url"])
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            load.console_errors.append(" ".join(str(a.get("value")) for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            load.console_errors.append(str(p["exceptionDetails"].get("text")))
        elif method == "Log.entryAdded" and p["entry"].get("level") == "error":
            load.console_errors.append(str(p["entry"].get("text")))
    return load
