"""Headless Chromium over the DevTools protocol: check a report page, screenshot it, print it to PDF.

The reports are meant to be read offline, so every page is opened with the network switched off
(``Network.emulateNetworkConditions(offline=True)``); any request to another host is recorded as a
problem and fails. :func:`check_page` says whether the page loaded, logged console errors or
uncaught exceptions, requested another host, left images undecoded or shows raw TeX such as
``$\\mathrm{Var}$`` as text. :func:`screenshot` writes a full-page PNG, :func:`print_pdf` an A4 PDF.

Chromium is found by :func:`find_chromium` (``$BSC_CHROMIUM``, else ``chromium``,
``chromium-browser`` or ``google-chrome`` on ``PATH``; ``make setup`` installs Debian's
``chromium`` when it can). Without it, :class:`BrowserUnavailable` says why.

One :class:`Browser` serves many pages (each in a fresh tab)::

    with Browser() as browser:
        check = browser.check_page("reports/index.html")
        browser.screenshot("reports/index.html", "index.png")

The module-level :func:`check_page`, :func:`screenshot` and :func:`print_pdf` start a browser for one
call. The browser runs in its own process group with a temporary profile; both are removed when the
session ends, also after an error or a timeout. Only ``websocket-client`` is needed besides Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bsc_toolkit._atomic import atomic_write_bytes

__all__ = [
    "VIEWPORT_HEIGHT",
    "Browser",
    "BrowserError",
    "BrowserUnavailable",
    "PageCheck",
    "check_page",
    "find_chromium",
    "find_raw_math",
    "print_pdf",
    "screenshot",
]

#: Executable names looked up on ``PATH`` when ``$BSC_CHROMIUM`` is not set, in order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Height of the emulated window (CSS pixels) for screenshots; full-page screenshots are taller.
VIEWPORT_HEIGHT = 800
#: Longest full-page screenshot (CSS pixels); longer pages are cut there.
MAX_SCREENSHOT_HEIGHT = 16_000
#: URL schemes that are not requests to another host.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
_INSTALL_HINT = "install it: apt-get install chromium (Debian/Ubuntu; `make setup` does it), or set BSC_CHROMIUM"
_START_TIMEOUT = 30.0
# After the load event, events are read until no request is pending and none has come for _SETTLE_QUIET s
# (at most _SETTLE_MAX s), so that requests and errors of scripts run just after loading are seen.
_SETTLE_QUIET = 0.2
_SETTLE_MAX = 3.0
_A4_INCHES = (8.27, 11.69)


class BrowserUnavailable(RuntimeError):
    """No usable Chromium: not installed, or it could not start here. ``str()`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BrowserError(RuntimeError):
    """The browser did not do what was asked: a protocol error, a crash or a timeout."""


@dataclass
class PageCheck:
    """What a page did when opened offline in Chromium (see :func:`check_page`).

    Attributes
    ----------
    path : Path
        The HTML file checked.
    loaded : bool
        The page's load event fired within the time allowed.
    title : str
        ``document.title`` ("" when the page did not load).
    console_errors : list of str
        ``console.error`` calls, uncaught exceptions and errors the browser logged (such as a
        resource that failed to load), in order.
    external_requests : list of str
        URLs of every request that was not ``file:``, ``data:``, ``blob:`` or ``about:`` (each once).
    failed_images : list of str
        Images not complete or with no natural width, as "alt='...' src='...'" (the src cut short).
    raw_math : list of str
        Visible text fragments that look like TeX left unrendered (see :func:`find_raw_math`).
    load_error : str or None
        Why the navigation failed, when it did (such as ``net::ERR_FILE_NOT_FOUND``).
    """

    path: Path
    loaded: bool
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_images: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    load_error: str | None = None

    @property
    def problems(self) -> list[str]:
        """Every problem found, one sentence each; empty when the page is fine."""
        out: list[str] = []
        if not self.loaded:
            out.append(f"page did not load: {self.load_error or 'no load event'}")
        out += [f"console error: {e}" for e in self.console_errors]
        out += [f"request to another host (network is off): {u}" for u in self.external_requests]
        out += [f"image not decoded: {i}" for i in self.failed_images]
        out += [f"raw math shown as text: {m!r}" for m in self.raw_math]
        return out

    @property
    def ok(self) -> bool:
        """True when :attr:`problems` is empty."""
        return not self.problems


def find_chromium() -> str:
    """Path of the Chromium (or Chrome) executable to drive.

    Returns
    -------
    str
        ``$BSC_CHROMIUM`` when set (it must be an executable file), else the first of
        :data:`CHROMIUM_NAMES` found on ``PATH``.

    Raises
    ------
    BrowserUnavailable
        ``$BSC_CHROMIUM`` is not an executable, or none of the names is on ``PATH``.
    """
    configured = os.environ.get("BSC_CHROMIUM")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise BrowserUnavailable(f"BSC_CHROMIUM={configured!r} is not an executable file")
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found is not None:
            return found
    raise BrowserUnavailable(f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)} on PATH): {_INSTALL_HINT}")


# --- raw TeX in visible text --------------------------------------------------------------------------

# $$...$$ (display) first, then $...$ with the Pandoc rule for inline math: no space just inside the
# dollars and no digit just after the closing one, so "$5 and $6" is money, not math.
_DISPLAY_DOLLARS = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_DOLLARS = re.compile(r"(?<![\\$])\$(?=\S)([^$\n]{1,300}?)(?<=\S)(?<!\\)\$(?![\d$])")
_TEX_DELIMITED = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_TEX_LOOKING = re.compile(r"\\[A-Za-z]+|[\^_]")


def find_raw_math(text: str) -> list[str]:
    """TeX-looking fragments in text meant to be read.

    A fragment is ``\\(...\\)`` or ``\\[...\\]``, or ``$...$`` / ``$$...$$`` whose content has a
    backslash command (``\\mathrm``), ``^`` or ``_``. Amounts of money ("$5 and $6") are not math.

    Parameters
    ----------
    text : str

    Returns
    -------
    list of str
        The fragments, delimiters included, each cut to 80 characters, in order of appearance.
    """
    found: list[tuple[int, str]] = []
    for match in _TEX_DELIMITED.finditer(text):
        found.append((match.start(), match.group(0)))
    rest = _TEX_DELIMITED.sub(lambda m: " " * len(m.group(0)), text)
    for match in _DISPLAY_DOLLARS.finditer(rest):
        if _TEX_LOOKING.search(match.group(1)):
            found.append((match.start(), match.group(0)))
    rest = _DISPLAY_DOLLARS.sub(lambda m: " " * len(m.group(0)), rest)
    for match in _INLINE_DOLLARS.finditer(rest):
        if _TEX_LOOKING.search(match.group(1)):
            found.append((match.start(), match.group(0)))
    return [_shorten(" ".join(fragment.split()), 80) for _, fragment in sorted(found)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The page-side part of the check: images not decoded, and the visible text of each block (text nodes
# grouped by their nearest block-level ancestor, skipping code, scripts and rendered math), only blocks
# with a possible math delimiter. Runs after the load event, so every image has had its chance.
_INSPECT_JS = r"""
(async () => {
  const images = Array.from(document.images);
  for (const img of images) { if (img.loading === "lazy") img.loading = "eager"; }
  await Promise.all(images.map((img) => Promise.race([
    img.decode().catch(() => null), new Promise((r) => setTimeout(r, 2000))])));
  const failed = images.filter((img) => !img.complete || img.naturalWidth === 0)
    .map((img) => ({alt: img.alt || "", src: img.getAttribute("src") || img.currentSrc || ""}));
  const skip = "script,style,noscript,template,textarea,code,kbd,samp,math,svg,mjx-container,.MathJax,.katex";
  const blocks = new Map();
  const walker = document.createTreeWalker(document.body || document.documentElement, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.nodeValue.trim() || el.closest(skip)) continue;
    const visible = el.checkVisibility ? el.checkVisibility({checkVisibilityCSS: true})
                                       : el.getClientRects().length > 0;
    if (!visible) continue;
    let block = el;
    while (block.parentElement && getComputedStyle(block).display.startsWith("inline")) block = block.parentElement;
    blocks.set(block, (blocks.get(block) || "") + node.nodeValue);
  }
  const texts = Array.from(blocks.values()).filter((t) => t.includes("$") || t.includes("\\(") || t.includes("\\["));
  return {title: document.title, failed, texts};
})()
"""


# --- the browser --------------------------------------------------------------------------------------


class Browser:
    """A headless Chromium session driven over the DevTools protocol; use it as a context manager.

    Parameters
    ----------
    executable : str, optional
        Chromium executable (default: :func:`find_chromium`).
    start_timeout : float
        Seconds allowed for Chromium to start and open its DevTools port.

    Raises
    ------
    BrowserUnavailable
        On entering: no Chromium, or it did not start (the reason includes the end of its log).
    """

    def __init__(self, executable: str | None = None, *, start_timeout: float = _START_TIMEOUT) -> None:
        self.executable = executable
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._log: Any = None
        self._ws: Any = None
        self._next_id = 0
        self._events: deque[dict[str, Any]] = deque()

    # lifecycle

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start(self) -> None:
        """Start Chromium and connect to it (once; :meth:`close` always cleans up)."""
        if self._ws is not None:
            return
        executable = self.executable or find_chromium()
        try:
            self._launch(executable)
            port, path = self._read_devtools_port()
            self._connect(port, path)
        except BaseException:
            self.close()
            raise

    def _launch(self, executable: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="bsc-chromium-")
        args = [
            executable,
            "--headless",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-quic",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile}",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self._log = open(os.path.join(self._profile, "chromium.log"), "w+b")  # noqa: SIM115 (closed in close())
        try:
            self._proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as exc:
            raise BrowserUnavailable(f"could not start {executable}: {exc.strerror or exc}: {_INSTALL_HINT}") from exc

    def _read_devtools_port(self) -> tuple[int, str]:
        assert self._proc is not None and self._profile is not None
        port_file = Path(self._profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserUnavailable(f"Chromium exited at start (status {self._proc.returncode}){self._log_tail()}")
            with contextlib.suppress(OSError):
                lines = port_file.read_text().splitlines()
                if len(lines) >= 2 and lines[0].strip().isdigit():
                    return int(lines[0]), lines[1].strip()
            time.sleep(0.05)
        raise BrowserUnavailable(
            f"Chromium did not open its DevTools port within {self.start_timeout:g} s{self._log_tail()}"
        )

    def _connect(self, port: int, path: str) -> None:
        import websocket  # websocket-client

        try:
            self._ws = websocket.create_connection(
                f"ws://127.0.0.1:{port}{path}",
                timeout=self.start_timeout,
                suppress_origin=True,
                http_no_proxy=["127.0.0.1", "localhost"],
            )
        except (OSError, websocket.WebSocketException) as exc:
            raise BrowserUnavailable(f"could not connect to Chromium's DevTools port {port}: {exc}") from exc

    def _log_tail(self, lines: int = 5) -> str:
        """The last lines of Chromium's output that are not its usual noise, as ': ...' (or '')."""
        if self._log is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._log.flush()
            self._log.seek(0)
            text = self._log.read().decode("utf-8", "replace")
            keep = [
                ln for ln in text.splitlines() if ln.strip() and "dbus" not in ln and "unexpected operator" not in ln
            ]
            if keep:
                return ": " + " | ".join(keep[-lines:])
        return ""

    def close(self) -> None:
        """Stop Chromium (its whole process group) and remove its temporary profile; safe to call twice."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.settimeout(2)
                self._send_raw("Browser.close")
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=3)
            if hasattr(os, "killpg"):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)  # also the renderer and helper processes
            elif proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        if self._log is not None:
            with contextlib.suppress(OSError):
                self._log.close()
            self._log = None
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None
        self._events.clear()

    # protocol

    def _send_raw(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or None when ``deadline`` passes first."""
        import websocket

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self._ws.settimeout(remaining)
        try:
            raw = self._ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        except (OSError, websocket.WebSocketException) as exc:
            raise BrowserError(f"lost the connection to Chromium: {exc}{self._log_tail()}") from exc
        return json.loads(raw)

    def _call(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None, *, deadline: float
    ) -> dict[str, Any]:
        """Send a command and return its result; events read meanwhile are kept for :meth:`_next_event`."""
        if self._ws is None:
            raise BrowserError("the browser is not started (use `with Browser() as b:`)")
        call_id = self._send_raw(method, params, session)
        while True:
            message = self._receive(deadline)
            if message is None:
                raise BrowserError(f"Chromium did not answer {method} in time")
            if message.get("id") == call_id:
                if "error" in message:
                    error = message["error"]
                    raise BrowserError(
                        f"{method} failed: {error.get('message', error)} {error.get('data', '')}".strip()
                    )
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _next_event(self, deadline: float) -> dict[str, Any] | None:
        if self._events:
            return self._events.popleft()
        message = self._receive(deadline)
        while message is not None and "method" not in message:  # a late answer to a call that timed out
            message = self._receive(deadline)
        return message

    # pages

    @contextlib.contextmanager
    def _tab(self, deadline: float, width: int = 1200) -> Iterator[str]:
        """A fresh tab with the network off; yields its session id and closes the tab afterwards."""
        target = self._call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        try:
            session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True}, deadline=deadline)[
                "sessionId"
            ]
            for method, params in (
                ("Page.enable", {}),
                ("Runtime.enable", {}),
                ("Log.enable", {}),
                ("Network.enable", {}),
                (
                    "Network.emulateNetworkConditions",
                    {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
                ),
                (
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": False},
                ),
            ):
                self._call(method, params, session, deadline=deadline)
            yield session
        finally:
            if self._ws is not None:
                with contextlib.suppress(BrowserError):
                    self._call("Target.closeTarget", {"targetId": target}, deadline=time.monotonic() + 5)
            self._events.clear()

    def _open(self, session: str, html_path: Path, timeout: float, deadline: float, check: PageCheck) -> None:
        """Navigate the tab to the file and read events until the page settled, filling ``check``."""
        result = self._call("Page.navigate", {"url": html_path.as_uri()}, session, deadline=deadline)
        if result.get("errorText"):
            check.load_error = result["errorText"]
            return
        settle_until: float | None = None
        pending: set[str] = set()  # requests neither finished nor failed
        while True:
            if check.loaded:
                assert settle_until is not None
                wait_until = min(deadline, settle_until)
                if not pending:
                    wait_until = min(wait_until, time.monotonic() + _SETTLE_QUIET)
            else:
                wait_until = deadline
            event = self._next_event(wait_until)
            if event is None:
                if not check.loaded and check.load_error is None:
                    check.load_error = f"no load event within {timeout:g} s"
                return
            if event.get("sessionId") != session:
                continue
            method, params = event["method"], event.get("params", {})
            if method == "Page.loadEventFired":
                check.loaded = True
                settle_until = time.monotonic() + _SETTLE_MAX
            elif method == "Network.requestWillBeSent":
                pending.add(params.get("requestId", ""))
                _note_request(check, params.get("request", {}).get("url", ""))
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                pending.discard(params.get("requestId", ""))
            elif method == "Network.webSocketCreated":
                _note_request(check, params.get("url", ""))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                check.console_errors.append(_console_text(params))
            elif method == "Runtime.exceptionThrown":
                check.console_errors.append(_exception_text(params.get("exceptionDetails", {})))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                if entry.get("level") == "error" and entry.get("source") != "console-api":
                    where = f" ({_shorten(entry['url'], 120)})" if entry.get("url") else ""
                    check.console_errors.append(_shorten(entry.get("text", ""), 300) + where)

    def _prepare(self, html_path: str | Path, timeout: float) -> tuple[Path, float]:
        path = Path(html_path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no such page: '{html_path}'")
        return path, time.monotonic() + timeout

    def check_page(self, html_path: str | Path, timeout: float = 60) -> PageCheck:
        """Open a page with the network off and report what went wrong (see :class:`PageCheck`).

        Parameters
        ----------
        html_path : str or Path
        timeout : float
            Seconds allowed for the whole check.

        Returns
        -------
        PageCheck

        Raises
        ------
        FileNotFoundError
            No such file.
        BrowserError
            The browser failed or did not answer in time (a page that does not load in time is a
            ``PageCheck`` with ``loaded=False`` instead).
        """
        path, deadline = self._prepare(html_path, timeout)
        check = PageCheck(path=path, loaded=False)
        with self._tab(deadline) as session:
            self._open(session, path, timeout, deadline, check)
            if check.loaded:
                found = self._evaluate(session, _INSPECT_JS, deadline)
                check.title = str(found.get("title") or "")
                for image in found.get("failed", []):
                    check.failed_images.append(f"alt={image['alt']!r} src={_shorten(image['src'], 60)!r}")
                for text in found.get("texts", []):
                    check.raw_math += [m for m in find_raw_math(text) if m not in check.raw_math]
        check.console_errors = list(dict.fromkeys(check.console_errors))
        return check

    def _evaluate(self, session: str, expression: str, deadline: float) -> Any:
        result = self._call(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
            session,
            deadline=deadline,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"page script failed: {_exception_text(result['exceptionDetails'])}")
        return result.get("result", {}).get("value")

    def _load_for_output(self, session: str, path: Path, timeout: float, deadline: float) -> None:
        check = PageCheck(path=path, loaded=False)
        self._open(session, path, timeout, deadline, check)
        if not check.loaded:
            raise BrowserError(f"'{path}' did not load: {check.load_error}")
        self._evaluate(session, "document.fonts ? document.fonts.ready.then(() => true) : true", deadline)

    def screenshot(
        self,
        html_path: str | Path,
        png_path: str | Path,
        width: int = 1200,
        timeout: float = 60,
        max_height: int = MAX_SCREENSHOT_HEIGHT,
    ) -> Path:
        """Write a full-page PNG of a page opened with the network off.

        Parameters
        ----------
        html_path, png_path : str or Path
            The page, and the PNG to write (atomically; its folder is created).
        width : int
            Window width in CSS pixels (one image pixel each).
        timeout : float
            Seconds allowed.
        max_height : int
            Longer pages are cut at this height (pixels).

        Returns
        -------
        Path
            ``png_path``.
        """
        path, deadline = self._prepare(html_path, timeout)
        with self._tab(deadline, width=width) as session:
            self._load_for_output(session, path, timeout, deadline)
            metrics = self._call("Page.getLayoutMetrics", {}, session, deadline=deadline)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            height = max(1, min(math.ceil(size["height"]), max_height))
            shot = self._call(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                },
                session,
                deadline=deadline,
            )
        return atomic_write_bytes(Path(png_path), base64.b64decode(shot["data"]))

    def print_pdf(self, html_path: str | Path, pdf_path: str | Path, timeout: float = 60) -> Path:
        """Print a page (opened with the network off) to an A4 PDF with its backgrounds.

        Parameters
        ----------
        html_path, pdf_path : str or Path
            The page, and the PDF to write (atomically; its folder is created).
        timeout : float
            Seconds allowed.

        Returns
        -------
        Path
            ``pdf_path``.
        """
        path, deadline = self._prepare(html_path, timeout)
        with self._tab(deadline) as session:
            self._load_for_output(session, path, timeout, deadline)
            pdf = self._call(
                "Page.printToPDF",
                {"paperWidth": _A4_INCHES[0], "paperHeight": _A4_INCHES[1], "printBackground": True},
                session,
                deadline=deadline,
            )
        return atomic_write_bytes(Path(pdf_path), base64.b64decode(pdf["data"]))


def _note_request(check: PageCheck, url: str) -> None:
    if url and not url.lower().startswith(LOCAL_SCHEMES) and url not in check.external_requests:
        check.external_requests.append(url)


def _remote_text(arg: dict[str, Any]) -> str:
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type", ""))


def _console_text(params: dict[str, Any]) -> str:
    text = " ".join(_remote_text(a) for a in params.get("args", []))
    frames = (params.get("stackTrace") or {}).get("callFrames") or []
    where = (
        f" ({_shorten(frames[0]['url'], 120)}:{frames[0]['lineNumber'] + 1})" if frames and frames[0].get("url") else ""
    )
    return _shorten(text, 300) + where


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    text = exception.get("description") or details.get("text") or "uncaught exception"
    first = text.strip().splitlines()[0] if text.strip() else "uncaught exception"
    where = f" ({_shorten(details['url'], 120)}:{details.get('lineNumber', 0) + 1})" if details.get("url") else ""
    return "uncaught " + _shorten(first, 300) + where


# --- one call, one browser ----------------------------------------------------------------------------


def check_page(html_path: str | Path, timeout: float = 60) -> PageCheck:
    """:meth:`Browser.check_page` in a browser started for this call (raises :class:`BrowserUnavailable`)."""
    with Browser() as browser:
        return browser.check_page(html_path, timeout=timeout)


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1200, timeout: float = 60) -> Path:
    """:meth:`Browser.screenshot` in a browser started for this call (raises :class:`BrowserUnavailable`)."""
    with Browser() as browser:
        return browser.screenshot(html_path, png_path, width=width, timeout=timeout)


def print_pdf(html_path: str | Path, pdf_path: str | Path, timeout: float = 60) -> Path:
    """:meth:`Browser.print_pdf` in a browser started for this call (raises :class:`BrowserUnavailable`)."""
    with Browser() as browser:
        return browser.print_pdf(html_path, pdf_path, timeout=timeout)
