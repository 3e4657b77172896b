"""The forecast hub's pages in headless Chromium: log in with a token, open every page with data,
check what a cost manager reads there, save screenshots under test-artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.hub_world import ROLE_A, query

from gmp_assets import settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = settings.REPO_ROOT / "test-artifacts"

pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="browser tests need Debian's chromium and chromium-driver",
    ),
]
webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium: pip install -e '.[test]'")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1100",
)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def logged_in(browser, hub):
    """The browser with A's token in the hub's cookie, through the login form."""
    browser.get(hub.url + "/")
    WebDriverWait(browser, 30).until(lambda d: "/login" in d.current_url)
    browser.find_element(By.NAME, "token").send_keys(hub.tokens[ROLE_A])
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "portfolio"))
    return browser


def _shot(browser, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1600, max(1100, min(int(height) + 200, 4000)))
    time.sleep(2)  # the charts redraw for the new window size
    browser.save_screenshot(str(ARTIFACTS / f"hub-{name}.png"))
    browser.set_window_size(1600, 1100)


def _charts_drawn(browser, count: int) -> None:
    """Plotly (served by the app) drew ``count`` charts."""
    WebDriverWait(browser, 60).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg")) >= count
    )


def test_a_wrong_token_stays_on_the_login_form(browser, hub):
    browser.delete_all_cookies()
    browser.get(hub.url + "/login")
    browser.find_element(By.NAME, "token").send_keys("gmp_wrong")
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    # the form posts and the page is replaced: an element read while it goes is stale, so read again
    WebDriverWait(browser, 30, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "unknown token" in d.find_element(By.TAG_NAME, "main").text
    )


def test_portfolio_shows_the_overrun_first_and_in_red(logged_in, hub):
    browser = logged_in
    browser.get(hub.url + "/")
    rows = browser.find_elements(By.CSS_SELECTOR, "#portfolio tbody tr")
    assert [r.get_attribute("data-key") for r in rows][0] == hub.overrun_key
    assert sorted(r.get_attribute("data-key") for r in rows) == hub.keys[ROLE_A]
    assert "overrun" in rows[0].get_attribute("class")
    assert "forecast over their GMP" in browser.find_element(By.ID, "headline").text
    ((eac,),) = query(
        "SELECT predicted_eac_cents FROM ml.project_forecast_totals WHERE project_key = %s"
        " ORDER BY forecast_date DESC LIMIT 1",
        (hub.overrun_key,),
    )
    assert f"${round(eac / 100):,}" in rows[0].text
    _shot(browser, "portfolio")
    browser.find_element(By.XPATH, "//th[text()='Project']").click()  # sortable
    names = [
        r.find_element(By.TAG_NAME, "a").text.lower()
        for r in browser.find_elements(By.CSS_SELECTOR, "#portfolio tbody tr")
    ]
    assert names == sorted(names)


def test_project_page_has_trades_charts_and_the_overrun(logged_in, hub):
    browser = logged_in
    browser.get(f"{hub.url}/projects/{hub.overrun_key}")
    _charts_drawn(browser, 3)
    assert "Variance to GMP" in browser.page_source
    assert browser.find_element(By.ID, "variance").text.startswith("+$")
    trades = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr")
    ((count,),) = query(
        "SELECT count(*) FROM ml.project_forecasts WHERE project_key = %s AND is_current AND forecast_date ="
        " (SELECT max(forecast_date) FROM ml.project_forecasts WHERE project_key = %s)",
        (hub.overrun_key, hub.overrun_key),
    )
    assert len(trades) == count and "overrun" in trades[0].get_attribute("class")
    _shot(browser, "project")


def test_benchmarks_page_marks_the_project(logged_in, hub):
    browser = logged_in
    browser.get(f"{hub.url}/benchmarks?project_key={hub.overrun_key}")
    _charts_drawn(browser, 3)
    assert browser.find_elements(By.CSS_SELECTOR, "#cost-per-sf tbody tr")
    assert "This project (EAC)" in browser.page_source
    _shot(browser, "benchmarks")


def test_review_queue_and_alerts_pages(logged_in, hub):
    browser = logged_in
    key = hub.keys[ROLE_A][0]
    query(
        "INSERT INTO ml.alerts (project_key, kind, message, forecast_date) VALUES (%s, 'eac_over_gmp', %s, '2026-10-31')"
        " ON CONFLICT DO NOTHING",
        (key, f"{key}: EAC above GMP by 10.0% (UI probe)"),
    )
    try:
        browser.get(hub.url + "/mappings")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Review queue"
        _shot(browser, "mappings")
        browser.get(hub.url + "/alerts")
        assert "EAC above GMP by 10.0% (UI probe)" in browser.find_element(By.ID, "alerts").text
        _shot(browser, "alerts")
    finally:
        query("DELETE FROM ml.alerts WHERE message LIKE '%%(UI probe)'")
