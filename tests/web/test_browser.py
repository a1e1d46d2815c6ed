"""The front door in Debian's Chromium (Selenium and chromedriver), served by `liia serve` as on a
server: a data officer signs in with the second factor, uploads a return, reads the check on the
page, waits for the run's official answer and downloads the feedback, uploads a correction with a
mistake and reads its error, and downloads a released workbook; LIIA's team reads every
authority's status and releases a quarter, following it to its end; axe-core finds no WCAG 2.2
A or AA violation on any page, and each page reflows at 320 CSS pixels. Screenshots at desktop and phone width go to LIIA_SCREENSHOTS if set."""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django_otp.oath import totp
from openpyxl import load_workbook

from tests.conftest import PROJECT, SAMPLE, liia
from tests.web.conftest import PASSWORD_SERVED as PASSWORD

pytestmark = pytest.mark.real_servers
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

AXE = PROJECT / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture
def chromium(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(tmp_path / "downloads")}
    )
    os.environ["SE_OFFLINE"] = "true"  # Debian's chromedriver: nothing is downloaded
    # Chromium leaves a folder for its singleton lock in TMPDIR: this one goes after it (a short
    # path, for the socket in it)
    private = tempfile.mkdtemp(prefix="liia-chromium-")
    service = Service(shutil.which("chromedriver"), env={**os.environ, "TMPDIR": private})
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(private, ignore_errors=True)


def look(driver, name: str, checked: list) -> None:
    """axe-core's WCAG 2.2 A and AA rules on the page; reflow at 320 CSS pixels; screenshots."""
    driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"axe.run(document, {{runOnly: {{type: 'tag', values: {WCAG!r}}}}}).then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '))));"
    )
    assert not found, f"{name}: {found}"
    shots = os.environ.get("LIIA_SCREENSHOTS")
    for width in (1280, 390, 320):
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500},
        )
        wide = driver.execute_script("return document.documentElement.scrollWidth")
        assert wide <= width, f"{name}: {wide} px wide at {width} px"
        if shots and width != 320:
            Path(shots).mkdir(parents=True, exist_ok=True)
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"}
            )
            Path(shots, f"{name} {width}.png").write_bytes(base64.b64decode(shot["data"]))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    checked.append(name)


def sign_in(driver, url: str, email: str, checked: list) -> None:
    driver.get(url + "/sign-in/")
    if "sign-in" not in checked:
        look(driver, "sign-in", checked)
    driver.find_element(By.ID, "id_username").send_keys(email)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "totp-key"))
    key = driver.find_element(By.ID, "totp-key").text.replace(" ", "")
    if "second factor set-up" not in checked:
        look(driver, "second factor set-up", checked)
    code = totp(base64.b32decode(key + "=" * (-len(key) % 8)))
    driver.find_element(By.ID, "id_token").send_keys(f"{code:06d}")
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "/second-factor/" not in d.current_url)


def left(element):
    """Whether the page holding `element` has gone: staleness_of, which also takes for gone the
    error chromedriver now and then gives instead ("Node with given id does not belong to the
    document", SeleniumHQ/selenium#15401)."""

    def gone(driver) -> bool:
        try:
            return expected_conditions.staleness_of(element)(driver)
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise

    return gone


def upload(driver, path: Path) -> None:
    """`path` chosen and sent from the submissions page; back once the submission's own page has
    loaded (the page it leaves may say "Official answer" too, so its going is waited for first)."""
    leaving = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "id_file").send_keys(str(path))
    driver.find_element(By.CSS_SELECTOR, "form[enctype] button[type=submit]").click()
    WebDriverWait(driver, 20).until(left(leaving))
    WebDriverWait(driver, 20).until(lambda d: "Official answer" in d.page_source)


def test_an_officer_uploads_and_reads_the_answer_and_the_team_its_status(served, chromium):
    url, env, folder = served
    checked: list[str] = []
    driver = chromium
    driver.get(url + "/")
    look(driver, "home", checked)
    sign_in(driver, url, "officer@barnet.example", checked)
    driver.get(url + "/submissions/")
    look(driver, "submissions", checked)
    barnet = SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx"
    started = time.monotonic()
    upload(driver, barnet)
    assert "Waiting for the quarter's run" in driver.page_source
    assert time.monotonic() - started < 10
    look(driver, "submission checked", checked)
    page = driver.current_url

    assert liia("run", "--quarter", "2026-27-Q1", env=env).returncode == 0
    driver.get(page)
    assert "Download the feedback workbook" in driver.page_source
    look(driver, "submission answered", checked)
    driver.find_element(By.LINK_TEXT, "Download the feedback workbook").click()
    feedback = folder / "downloads" / "LIIA feedback 2026-27-Q1 Barnet.xlsx"
    for _ in range(100):
        if feedback.exists():
            break
        time.sleep(0.1)
    assert feedback.read_bytes()[:2] == b"PK"

    # a correction with a mistake in it: the page names the sheet, the cell and what to do
    broken = folder / "Barnet LIIA return 2026-27 Q1 corrected.xlsx"
    book = load_workbook(barnet)
    book["Finance"]["D11"] = "tbc"
    book.save(broken)
    driver.get(url + "/submissions/")
    upload(driver, broken)
    errors = driver.find_element(By.TAG_NAME, "main").text
    assert "Errors to fix" in errors and "D11" in errors and "tbc" in errors
    look(driver, "submission with errors", checked)

    # an officer is a member too: the released quarter's workbooks
    driver.get(url + "/members/")
    look(driver, "members' workbooks", checked)
    driver.find_element(By.PARTIAL_LINK_TEXT, "Finance and resources: workbook").click()
    workbook = folder / "downloads" / "LIIA finance benchmarks 2026-27-Q1.xlsx"
    WebDriverWait(driver, 20).until(lambda d: workbook.exists())

    # the explorer: the member's own authority highlighted, a view picked with the form
    driver.get(url + "/members/explore/")
    Select(driver.find_element(By.ID, "indicator")).select_by_value("WF-I02")
    driver.find_element(By.CSS_SELECTOR, "form.liia-explore-form button").click()
    WebDriverWait(driver, 20).until(lambda d: "indicator=WF-I02" in d.current_url)
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "Vacancy rate" in main and "Restricted" in main and "Barnet" in main
    look(driver, "members' explorer", checked)

    driver.delete_all_cookies()
    driver.get(url + "/explore/?indicator=WF-I02&group=london&authority=CAM")
    assert "Published figures" in driver.find_element(By.TAG_NAME, "main").text
    look(driver, "public explorer", checked)
    sign_in(driver, url, "lead@liia.example", checked)
    driver.get(url + "/team/")
    text = driver.find_element(By.TAG_NAME, "main").text
    assert "Barnet" in text and "Camden" in text and "1 of 2 authorities have a return" in text
    assert "days overdue" in text  # Camden's, after the deadline of 15 August 2026
    look(driver, "team status", checked)
    driver.get(url + "/team/release/")
    Select(driver.find_element(By.ID, "id_quarter")).select_by_value("2026-27-Q1")
    driver.find_element(By.CSS_SELECTOR, "label[for=id_confirm]").click()
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(lambda d: "has started" in d.page_source)
    for _ in range(120):  # the page follows the release to its end
        driver.find_element(By.LINK_TEXT, "Show their latest progress").click()
        tag = driver.find_element(By.CSS_SELECTOR, "main h3 .govuk-tag").text
        if tag != "RUNNING" and tag != "running":
            break
        time.sleep(1)
    assert tag.lower() == "finished", driver.find_element(By.TAG_NAME, "main").text
    look(driver, "team release", checked)
    driver.get(url + "/team/audit/")
    assert "officer@barnet.example" in driver.page_source
    look(driver, "team audit", checked)
    assert len(checked) == 13
