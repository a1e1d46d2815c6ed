"""The download page opened in a real headless Chromium (Debian's `chromium`, installed by
`make test`), driven over the DevTools protocol: it renders, every link resolves, and the
accessibility tree a screen reader reads names every chart, table and link."""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from pipelines.collection.catalogue import THEMES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class DevTools:
    """Chromium with --remote-debugging-pipe: JSON messages, NUL-terminated, on fds 3 and 4."""

    def __init__(self, profile: Path):
        to_browser_r, self._send = os.pipe()
        self._recv, from_browser_w = os.pipe()

        def wire_fds():  # in the child, before the fds not kept are closed
            reading, writing = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(reading, 3)
            os.dup2(writing, 4)

        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            preexec_fn=wire_fds,
            pass_fds=(3, 4),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict] = []

    def _message(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._recv, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._message()
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        self.process.wait(timeout=20)
        os.close(self._send)
        os.close(self._recv)


@pytest.fixture(scope="module")
def page(latest_quarter_run, tmp_path_factory):
    """The page loaded in Chromium: (accessibility nodes, links, screenshot bytes, text, its
    width in CSS pixels on a 320-pixel phone)."""
    assert CHROMIUM, "Chromium is missing: `make test` installs Debian's chromium package"
    index = latest_quarter_run / "reports" / "public" / "index.html"
    browser = DevTools(tmp_path_factory.mktemp("chromium-profile"))
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        browser.call("Page.enable", session)
        browser.call("Page.navigate", session, url=index.as_uri())
        browser.wait_for("Page.loadEventFired")
        browser.call(  # as a reader who opens each chart's figures
            "Runtime.evaluate",
            session,
            expression="document.querySelectorAll('details').forEach(d => d.open = true)",
        )
        nodes = browser.call("Accessibility.getFullAXTree", session)["nodes"]
        links = browser.call(
            "Runtime.evaluate",
            session,
            expression="JSON.stringify([...document.links].map(a => [a.href, a.textContent]))",
            returnByValue=True,
        )["result"]["value"]
        text = browser.call(
            "Runtime.evaluate", session, expression="document.body.innerText", returnByValue=True
        )["result"]["value"]
        shot = browser.call("Page.captureScreenshot", session, format="png")["data"]
        browser.call(  # a phone 320 CSS pixels wide (WCAG's reflow)
            "Emulation.setDeviceMetricsOverride",
            session,
            width=320,
            height=800,
            deviceScaleFactor=1,
            mobile=True,
        )
        wide = browser.call(
            "Runtime.evaluate",
            session,
            expression="document.documentElement.scrollWidth",
            returnByValue=True,
        )["result"]["value"]
    finally:
        browser.close()
    return nodes, json.loads(links), base64.b64decode(shot), text, wide


def _role(node):
    return node.get("role", {}).get("value")


def _name(node):
    return (node.get("name") or {}).get("value", "")


def test_every_link_on_the_public_page_resolves_inside_the_public_tree(page, latest_quarter_run):
    _, links, _, _, _ = page
    reports = latest_quarter_run / "reports" / "public"
    files = [unquote(urlparse(href).path) for href, _ in links if href.startswith("file:")]
    anchors = [href for href, _ in links if "#" in href]
    assert files and all(Path(f).is_file() for f in files), [
        f for f in files if not Path(f).exists()
    ]
    assert all(Path(f).resolve().is_relative_to(reports.resolve()) for f in files)
    for quarter in ("2026-27-Q1", "2026-27-Q2"):
        linked = [f for f in files if f"/{quarter}/" in f]
        # the 4 publishable theme workbooks and the CSV of every published figure
        assert len(linked) == 4 + 1 + 2, quarter  # and the open data file with its metadata
        ees = quarter.replace("-", "_").lower()
        assert all(
            f.endswith((" publishable.xlsx", " publishable.csv", f"liia_benchmarks_{ees}.csv"))
            or f.endswith(f"liia_benchmarks_{ees}.meta.csv")
            for f in linked
        ), linked
    assert len(anchors) >= 2 + 2  # skip link, contents, each quarter


def test_the_page_renders_with_completeness_per_quarter(page):
    _, _, screenshot, text, _ = page
    assert screenshot.startswith(b"\x89PNG") and len(screenshot) > 20_000
    assert "2026-27 Q2" in text and "2026-27 Q1" in text
    assert "30 of 33 authorities returned and accepted" in text
    assert "Hackney" in text and "Westminster" in text
    # what the release is: status, source, contact, dates and revisions
    assert "management information" in text and "not official statistics" in text
    for words in ("Source", "Contact", "Released", "Next release", "15 February 2027", "Revisions"):
        assert words in text, words


def test_a_screen_reader_finds_headings_named_charts_tables_and_links(page):
    nodes, _, _, _, _ = page
    shown = [n for n in nodes if not n.get("ignored")]
    headings = [_name(n) for n in shown if _role(n) == "heading"]
    assert "LIIA quarterly benchmarks: public edition" in headings
    assert "Downloads by quarter" in headings
    charts = [n for n in shown if _role(n) == "image"]
    assert len(charts) == len(THEMES)
    for chart in charts:
        assert _name(chart).startswith("London:")
        description = (chart.get("description") or {}).get("value", "")
        assert description.startswith("Line chart of") and "quarters" in description
    tables = [n for n in shown if _role(n) == "table"]
    assert tables and all(_name(t) for t in tables)  # every table named by its caption
    links = [n for n in shown if _role(n) == "link"]
    assert links and all(_name(n).strip() for n in links)


def test_the_page_reflows_on_a_320_pixel_phone_and_the_rug_names_its_columns(page):
    """Nothing wider than the phone but the tables, each in a region of its own that scrolls; the
    rug's columns are named, not bare codes."""
    nodes, _, _, text, wide = page
    assert wide <= 320, f"{wide} px wide at 320"
    headers = [_name(n) for n in nodes if _role(n) == "columnheader"]
    assert any(h.startswith("WF-I01") and "Agency rate" in h for h in headers), headers[:40]


def test_the_contact_gives_an_email_and_a_web_address_as_links(page):
    from pipelines.release.timing import ReleaseSettings
    from pipelines.write.download_page import _contact_html

    _, links, _, text, _ = page
    assert (
        any(href == "https://liia.london/" for href, _ in links)
        and "web https://liia.london" in text
    )
    settings = ReleaseSettings(
        "Management information",
        "LIIA data team",
        "returns",
        "data@liia.example",
        "https://x.example",
    )
    shown = _contact_html(settings)
    assert 'href="mailto:data@liia.example"' in shown and 'href="https://x.example"' in shown
    assert (
        settings.contact_text() == "LIIA data team; email data@liia.example; web https://x.example"
    )
    hostile = ReleaseSettings("", "<b>", "", '"><script>', "javascript:alert(1)")
    assert "<script>" not in _contact_html(hostile) and "javascript:" not in _contact_html(hostile)
