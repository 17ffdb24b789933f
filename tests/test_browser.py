"""Reports in a real browser: headless Chromium with the network off (bsc_toolkit.browser).

The fast tests open tiny hand-written pages and prove the checker catches each problem it is for
(a request to another host, a console error, an uncaught exception, an undecoded image, raw TeX as
text) and passes a clean page. The slow tests build the whole default report suite once and check
every report and the index: each must load offline with no problem; a full-page screenshot of each
is saved to ``reports/_screenshots/<name>.png`` for people to look at.

Every browser test is skipped, with the reason, where no Chromium can run (``make setup`` installs
Debian's ``chromium`` when it can), except where ``BSC_REQUIRE_BROWSER=1`` (``.ci/run`` sets it): there a
missing browser fails the tests, so CI cannot pass with the browser checks silently skipped.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import matplotlib.image
import pytest

from bsc_toolkit.browser import (
    VIEWPORT_HEIGHT,
    Browser,
    BrowserError,
    BrowserUnavailable,
    find_chromium,
    find_raw_math,
)
from bsc_toolkit.report import plan_reports

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "reports" / "_screenshots"
#: Every page `bsc report` writes for the default suite: the reports (with their variants), then the index.
PAGES = [job.name for job in plan_reports(notebooks_dir=ROOT / "notebooks")] + ["index"]
#: A 1x1 PNG that decodes.
DOT_PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the whole module (skipped, with the reason, when it cannot run here)."""
    try:
        session = Browser()
        session.start()
    except BrowserUnavailable as exc:
        if os.environ.get("BSC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BSC_REQUIRE_BROWSER=1 but no browser: {exc.reason}", pytrace=False)
        pytest.skip(f"no browser: {exc.reason}")
    yield session
    session.close()


def write_page(folder: Path, body: str, head: str = "", name: str = "page.html") -> Path:
    path = folder / name
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>Test page</title>{head}</head>"
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return path


# --- the checker catches each problem (fast) ----------------------------------------------------------


def test_a_clean_page_passes(browser, tmp_path):
    page = write_page(
        tmp_path,
        f"<h1>Report</h1><p>Revenue $5 and $6 per customer_id; the variance, written Var(x).</p>"
        f"<img alt='dot' src='{DOT_PNG}'><code>$\\mathrm{{Var}}$ in code is shown on purpose</code>"
        "<p style='display:none'>$\\hidden$</p><script>console.log('fine'); console.warn('only a warning');</script>",
    )
    check = browser.check_page(page)
    assert check.loaded and check.title == "Test page"
    assert check.problems == [] and check.ok


@pytest.mark.parametrize(
    ("head", "body", "url"),
    [
        ('<script src="https://example.com/x.js"></script>', "", "https://example.com/x.js"),
        ('<link rel="stylesheet" href="https://example.com/x.css">', "", "https://example.com/x.css"),
        (
            "",
            "<script>fetch('http://example.org/data.json').catch(() => null)</script>",
            "http://example.org/data.json",
        ),
        (
            "",
            "<script>addEventListener('load', () => setTimeout(() => fetch('https://example.net/late').catch(() => null), 50))</script>",
            "https://example.net/late",
        ),
    ],
    ids=["script", "stylesheet", "fetch", "fetch-after-load"],
)
def test_a_request_to_another_host_is_caught_and_fails_offline(browser, tmp_path, head, body, url):
    check = browser.check_page(write_page(tmp_path, "<p>text</p>" + body, head))
    assert check.loaded
    assert check.external_requests == [url]
    assert f"request to another host (network is off): {url}" in check.problems
    if "fetch" not in body:  # a failed fetch() that is caught logs nothing
        # the network really is off: the request failed without leaving the machine
        assert any("ERR_INTERNET_DISCONNECTED" in e and url in e for e in check.console_errors), check.console_errors


def test_a_console_error_is_caught(browser, tmp_path):
    check = browser.check_page(write_page(tmp_path, "<script>console.error('boom', 42)</script>"))
    assert check.loaded and check.external_requests == []
    assert len(check.console_errors) == 1 and check.console_errors[0].startswith("boom 42")
    assert not check.ok


def test_an_uncaught_exception_is_caught(browser, tmp_path):
    check = browser.check_page(write_page(tmp_path, "<script>throw new TypeError('kaboom')</script>"))
    assert check.loaded
    assert len(check.console_errors) == 1 and check.console_errors[0].startswith("uncaught TypeError: kaboom")


def test_a_broken_image_is_caught(browser, tmp_path):
    body = f"<img alt='fine' src='{DOT_PNG}'><img alt='revenue chart' src='data:image/png;base64,AAAA'>"
    check = browser.check_page(write_page(tmp_path, body))
    assert check.loaded
    assert check.failed_images == ["alt='revenue chart' src='data:image/png;base64,AAAA'"]
    assert "image not decoded: alt='revenue chart' src='data:image/png;base64,AAAA'" in check.problems


def test_raw_math_in_visible_text_is_caught(browser, tmp_path):
    body = "<p>The $\\mathrm{Var}$ of <em>x</em>.</p><p>Churn $p_<b>t</b>$ per period.</p><p>Costs $5 and $6.</p>"
    check = browser.check_page(write_page(tmp_path, body))
    assert check.loaded and check.console_errors == []
    # text split by inline markup is read as the reader sees it
    assert check.raw_math == ["$\\mathrm{Var}$", "$p_t$"]
    assert "raw math shown as text: '$\\\\mathrm{Var}$'" in check.problems


def test_a_page_that_never_loads_is_reported_and_the_browser_goes_on(browser, tmp_path):
    hung = browser.check_page(write_page(tmp_path, "<script>while (true) {}</script>", name="hung.html"), timeout=1)
    assert not hung.loaded and hung.problems == ["page did not load: no load event within 1 s"]
    assert browser.check_page(write_page(tmp_path, "<p>fine</p>")).ok


def test_a_missing_page_is_an_error(browser, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such page"):
        browser.check_page(tmp_path / "missing.html")


def test_screenshot_is_the_full_page_and_capped(browser, tmp_path):
    page = write_page(tmp_path, "<div style='height: 3000px; background: linear-gradient(red, blue)'>tall</div>")
    png = browser.screenshot(page, tmp_path / "shots" / "tall.png", width=640)
    height, width = matplotlib.image.imread(png).shape[:2]
    assert width == 640 and 3000 <= height <= 3100
    capped = browser.screenshot(page, tmp_path / "capped.png", width=640, max_height=1000)
    assert matplotlib.image.imread(capped).shape[:2] == (1000, 640)
    assert sorted(p.name for p in tmp_path.rglob("*.png")) == ["capped.png", "tall.png"]  # no temporary file left


def test_print_pdf_writes_a_pdf(browser, tmp_path):
    page = write_page(tmp_path, "<h1>One</h1><p style='page-break-before: always'>Two</p>")
    pdf = browser.print_pdf(page, tmp_path / "page.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) == 2


def test_output_of_a_page_that_does_not_load_is_an_error(browser, tmp_path):
    page = write_page(tmp_path, "<script>while (true) {}</script>")
    with pytest.raises(BrowserError, match="did not load"):
        browser.print_pdf(page, tmp_path / "page.pdf", timeout=1)
    assert not (tmp_path / "page.pdf").exists()


def pdf_pages(pdf: bytes) -> int:
    """Number of page objects in a PDF (Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


# --- finding Chromium and starting it -----------------------------------------------------------------


def test_no_chromium_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv("BSC_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserUnavailable, match="apt-get install chromium") as caught:
        find_chromium()
    assert isinstance(caught.value, RuntimeError) and "chromium" in caught.value.reason


def test_bsc_chromium_must_be_an_executable(monkeypatch, tmp_path):
    monkeypatch.setenv("BSC_CHROMIUM", str(tmp_path / "nothing"))
    with pytest.raises(BrowserUnavailable, match="BSC_CHROMIUM"):
        find_chromium()
    fake = tmp_path / "fake-chrome"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BSC_CHROMIUM", str(fake))
    assert find_chromium() == str(fake)


@pytest.mark.skipif(os.name != "posix", reason="shell script as a fake browser")
def test_a_browser_that_dies_at_start_is_unavailable_and_cleaned_up(monkeypatch, tmp_path):
    fake = tmp_path / "fake-chrome"
    fake.write_text("#!/bin/sh\necho 'error while loading shared libraries: libnss3.so' >&2\nexit 127\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the temporary profile goes here
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(BrowserUnavailable, match=r"exited at start \(status 127\).*libnss3"):
        with Browser(str(fake)):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["fake-chrome"]  # profile removed


# --- raw TeX in text (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("The $\\mathrm{Var}$ of x", ["$\\mathrm{Var}$"]),
        ("growth $x^2$ and $a_i$", ["$x^2$", "$a_i$"]),
        ("display $$\\sum_i x_i$$ here", ["$$\\sum_i x_i$$"]),
        ("inline \\(\\beta\\) and \\[x\\]", ["\\(\\beta\\)", "\\[x\\]"]),
        ("Costs $5 and $6", []),
        ("From $5 per customer_id to $6", []),  # money: a space before the second dollar
        ("ranges $10_000$20", []),  # no closing dollar just before a digit
        ("plain $x$ is not TeX-looking", []),
        ("escaped \\$x_i\\$ dollars", []),
    ],
)
def test_find_raw_math(text, found):
    assert find_raw_math(text) == found


# --- the report suite in the browser (slow) -----------------------------------------------------------


@pytest.mark.slow
def test_every_built_page_is_checked(built_reports):  # noqa: F811
    assert sorted(p.stem for p in built_reports.glob("*.html")) == sorted(PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("name", PAGES)
def test_report_reads_offline_in_a_browser(name, built_reports, browser):  # noqa: F811
    page = built_reports / f"{name}.html"
    png = browser.screenshot(page, SCREENSHOTS / f"{name}.png")
    height = matplotlib.image.imread(png).shape[0]
    if name == "index":
        assert height >= VIEWPORT_HEIGHT  # a short page: the screenshot is the window
    else:
        assert height > VIEWPORT_HEIGHT, "a report longer than one screen, captured in full"
    check = browser.check_page(page)
    assert check.loaded and check.title
    assert check.problems == [], f"{name}.html in Chromium, offline:\n" + "\n".join(check.problems)


@pytest.mark.slow
def test_a_report_prints_to_pdf(built_reports, browser, tmp_path):  # noqa: F811
    pdf = browser.print_pdf(built_reports / "customer_kpis.html", tmp_path / "customer_kpis.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) >= 2
