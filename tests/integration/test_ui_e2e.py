"""Browser end-to-end: the Dagster UI, the dbt docs site and the MLflow UI in headless Chromium, on the real instance.

The Dagster webserver and daemon run as subprocesses against the session's instance (embedded
PostgreSQL, the demo projects ingested); Chromium opens the asset lineage, launches a one-partition
materialization from an asset page, and the daemon's run queue runs it. The dbt docs site is
generated from the same database and served by ``dbt docs serve``; ``gmp mlflow-ui`` serves the
session's tracking store (the registered champion, the datasets its run learnt from). Screenshots go to
``test-artifacts/``. Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gmp_assets import database, settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="browser tests need Debian's chromium and chromium-driver: apt-get install -y chromium chromium-driver",
    ),
]

webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium: pip install -e '.[test]'")
from selenium.common.exceptions import (  # noqa: E402
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service as ChromeService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ARTIFACTS = settings.REPO_ROOT / "test-artifacts"
BIN = Path(sys.executable).parent
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,1000",
)
START_TIMEOUT = 300  # a code location imports TensorFlow: tens of seconds, minutes on a busy 2-core machine
RUN_TIMEOUT = 420  # the daemon starts, dequeues the run, the run worker imports the code location and ingests
UI_TIMEOUT = 60
RAW_ASSETS = ("direct_costs", "gmp_breakdown", "schedule_progress", "source_files", "rejected_rows")
FLAKY_CLICKS = (StaleElementReferenceException, ElementClickInterceptedException, ElementNotInteractableException)


# --- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runtime_env() -> dict[str, str]:
    """This process's environment plus what Dagster, dbt and the code location read (incl. the demo inbox)."""
    return {**os.environ, **database.runtime_env(database.main_url(start=False))}


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's whole process group, then SIGKILL to whatever is left after a grace period."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)  # raises once no process of the group is left
        except ProcessLookupError:
            break
        process.poll()  # reap the leader so that it does not linger as a zombie
        time.sleep(0.5)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


@contextmanager
def _server(command: list[str], log: Path, ready: Callable[[], bool] | None = None) -> Iterator[subprocess.Popen]:
    """Run COMMAND in its own process group (its own session); wait until READY; stop the group at the end."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=settings.REPO_ROOT,
            env=_runtime_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while ready is not None and not ready():
            assert process.poll() is None, f"{command[0]} exited with {process.returncode}:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"{command[0]} not ready after {START_TIMEOUT}s:\n{_tail(log)}"
            time.sleep(1)
        yield process
    finally:
        _stop(process)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


# --- Dagster GraphQL (setup only: the UI is what the tests drive) -------------------------------


def _graphql(base_url: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base_url}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.load(response)
    assert not body.get("errors"), body["errors"]
    return body["data"]


_WORKSPACE = """
{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus locationOrLoadError { __typename
    ... on PythonError { message }
    ... on RepositoryLocation { name repositories { name sensors { id name } schedules { id name } } } } } } } }
"""


def _repositories(base_url: str) -> list[dict] | None:
    """The code location's repositories once it is loaded, None while it loads; fails on a load error."""
    entries = _graphql(base_url, _WORKSPACE)["workspaceOrError"]["locationEntries"]
    if not entries or entries[0]["loadStatus"] != "LOADED":
        return None
    location = entries[0]["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location.get("message")
    return [dict(repo, location=location["name"]) for repo in location["repositories"]]


def _pause_automation(base_url: str, repositories: list[dict]) -> None:
    """Stop every sensor and schedule so that the daemon runs only what the tests launch; skip the welcome dialog."""
    for repo in repositories:
        for sensor in repo["sensors"]:
            result = _graphql(
                base_url, "mutation($id: String) { stopSensor(id: $id) { __typename } }", {"id": sensor["id"]}
            )
            assert result["stopSensor"]["__typename"] == "StopSensorMutationResult", result
        for schedule in repo["schedules"]:
            result = _graphql(
                base_url,
                "mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }",
                {"id": schedule["id"]},
            )
            assert result["stopRunningSchedule"]["__typename"] == "ScheduleStateResult", result
    _graphql(base_url, "mutation { setNuxSeen }")


def _restore_automation(base_url: str, repositories: list[dict]) -> None:
    """Give every sensor and schedule back the status its definition declares."""
    for repo in repositories:
        selector = {"repositoryLocationName": repo["location"], "repositoryName": repo["name"]}
        for sensor in repo["sensors"]:
            _graphql(
                base_url,
                "mutation($s: SensorSelector!) { resetSensor(sensorSelector: $s) { __typename } }",
                {"s": {**selector, "sensorName": sensor["name"]}},
            )
        for schedule in repo["schedules"]:
            _graphql(
                base_url,
                "mutation($s: ScheduleSelector!) { resetSchedule(scheduleSelector: $s) { __typename } }",
                {"s": {**selector, "scheduleName": schedule["name"]}},
            )


class DagsterUI:
    def __init__(self, url: str, daemon: subprocess.Popen, logs: Path):
        self.url, self.daemon, self.logs = url, daemon, logs


@pytest.fixture(scope="module")
def dagster_ui(ingested, demo_inbox, tmp_path_factory) -> Iterator[DagsterUI]:
    """dagster-webserver and dagster-daemon on the session's instance, automation paused while they run;
    their code location reads the demo inbox (an earlier module's ``ingest_inbox`` may have pointed this
    process's ``GMP_INBOX_DIR`` at an inbox of its own)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GMP_INBOX_DIR", str(demo_inbox.resolve()))
        yield from _dagster_ui(tmp_path_factory)


def _dagster_ui(tmp_path_factory) -> Iterator[DagsterUI]:
    logs = tmp_path_factory.mktemp("dagster-ui")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    workspace = str(settings.REPO_ROOT / "workspace.yaml")
    repositories: list[dict] = []

    def loaded() -> bool:
        repositories[:] = (_answers(f"{url}/server_info") and _repositories(url)) or []
        return bool(repositories)

    webserver = [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1", "-p", str(port)]
    with _server(webserver, logs / "webserver.log", ready=loaded):
        _pause_automation(url, repositories)
        try:
            with _server([str(BIN / "dagster-daemon"), "run", "-w", workspace], logs / "daemon.log") as daemon:
                yield DagsterUI(url, daemon, logs)
        finally:
            _restore_automation(url, repositories)


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=ChromeService(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(UI_TIMEOUT)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _wait_quietly(driver, condition: Callable, timeout: float):
    """CONDITION's first truthy value within TIMEOUT seconds; None when it stays falsy."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.5, ignored_exceptions=FLAKY_CLICKS).until(condition)
    except TimeoutException:
        return None


def _wait(driver, condition: Callable, what: str, timeout: float = UI_TIMEOUT):
    """CONDITION's first truthy value; on timeout a screenshot ``<what>-timeout.png`` and a failure."""
    value = _wait_quietly(driver, condition, timeout)
    if value is None:
        name = re.sub(r"\W+", "-", what).strip("-")
        driver.save_screenshot(str(ARTIFACTS / f"{name}-timeout.png"))
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (screenshot test-artifacts/{name}-timeout.png)")
    return value


def _click(driver, xpath: str, what: str) -> None:
    """Click the first visible, enabled element at XPATH once there is one (React re-renders replace elements)."""

    def click(d) -> bool:
        for element in d.find_elements(By.XPATH, xpath):
            if element.is_displayed() and element.is_enabled():
                element.click()
                return True
        return False

    _wait(driver, click, what)


def _page_text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def _graph_text(driver) -> str:
    """The names on the asset graph's nodes (HTML in the SVG's foreignObjects; only nodes in view are drawn)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('foreignObject')).map(node => node.textContent).join('\\n');"
    )


def _shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / name))


# --- the tests ----------------------------------------------------------------------------------


def test_asset_lineage_shows_the_assets(browser, dagster_ui):
    browser.get(f"{dagster_ui.url}/asset-groups")
    # Groups start collapsed: each is a node named after it; a click expands it into its assets.
    group = "foreignObject div[data-tooltip='ingest']"
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, group), "the ingest group in the asset lineage")
    assert not any(name in _graph_text(browser) for name in RAW_ASSETS)
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, group).click() or True, "a click on the ingest group")
    # The expanded group is drawn large and only nodes in view are drawn; zoomed out far, nodes lose
    # their names. Zoom out a step at a time and collect the names drawn at each zoom.
    expected = {*RAW_ASSETS, "canonical", "features", "training", "forecasting", "monitoring", "taxonomy"}
    seen: set[str] = set()

    def names_drawn(d) -> bool:
        seen.update(name for name in expected if name in _graph_text(d))
        return seen == expected

    for _ in range(6):
        if _wait_quietly(browser, names_drawn, timeout=5):
            break
        _click(browser, "//button[.//div[@aria-label='zoom_out']]", "the zoom-out button")
    _wait(browser, names_drawn, "the ingest assets and other groups")
    _shot(browser, "dagster-asset-lineage.png")


def test_materialize_one_partition_from_the_ui(browser, dagster_ui, instance, ingested):
    import dagster as dg

    ingested_ok = sorted(key for key, outcome in ingested.items() if outcome.ok)
    assert ingested_ok, "no demo project was ingested"
    partition = ingested_ok[0]
    by_partition = dg.RunsFilter(tags={"dagster/partition": partition})
    busy = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    known = {run.run_id for run in instance.get_runs(by_partition)}

    browser.get(f"{dagster_ui.url}/assets/raw/direct_costs")
    _click(browser, "//button[starts-with(normalize-space(), 'Materialize')]", "the Materialize button")
    # raw/direct_costs comes from a multi-asset that cannot be subset: the UI asks to confirm its siblings.
    _wait(browser, lambda d: "Additional assets will be materialized" in _page_text(d), "the multi-asset notice")
    _click(browser, "//button[normalize-space()='Confirm']", "Confirm")
    _click(browser, "//div[contains(@class, 'TagSelector_placeholder')]", "the partition selector")
    _click(browser, f"//div[@role='menuitem'][.//div[@title='{partition}']]", f"partition {partition} in the list")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # closes the list, not the dialog
    _wait(browser, lambda d: "1 partition" in _page_text(d), "one partition selected")
    _shot(browser, "dagster-materialize-dialog.png")
    _click(browser, "//button[normalize-space()='Launch 1 run']", "Launch 1 run")
    toast = _wait(browser, lambda d: re.search(r"Launched run ([0-9a-f]{8})", _page_text(d)), "the launched-run notice")

    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        new = [run for run in instance.get_runs(by_partition) if run.run_id not in known]
        if new and new[0].is_finished:
            run = new[0]
            break
        assert dagster_ui.daemon.poll() is None, f"the daemon exited:\n{_tail(dagster_ui.logs / 'daemon.log')}"
        assert time.monotonic() < deadline, (
            f"run for {partition} not finished after {RUN_TIMEOUT}s ({new[0].status if new else 'not created'});"
            f" runs in progress: {[(r.run_id[:8], r.job_name, r.status.value) for r in instance.get_runs(busy)]}\n"
            f"{_tail(dagster_ui.logs / 'daemon.log')}"
        )
        time.sleep(2)

    assert run.run_id.startswith(toast.group(1))
    failures = [
        str(e.dagster_event.step_failure_data.error)
        for e in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    ]
    assert run.status == dg.DagsterRunStatus.SUCCESS, (
        failures or [e.message for e in instance.all_logs(run.run_id)][-5:]
    )
    assert dg.AssetKey(["raw", "direct_costs"]) in run.asset_selection
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["raw", "direct_costs"]), asset_partitions=[partition]), limit=1
    ).records
    assert records and records[0].run_id == run.run_id

    browser.get(f"{dagster_ui.url}/runs/{run.run_id}")
    _wait(browser, lambda d: re.search(rf"{run.run_id[:8]}\s+Success", _page_text(d)), "the run page showing Success")
    _shot(browser, "dagster-run-success.png")


def test_dbt_docs_show_models_and_lineage(browser, ingested, tmp_path):
    from gmp_assets.resources import dbt_executable

    dbt = dbt_executable()
    # A target of its own: the code location's manifest in dbt_project/target stays untouched.
    args = [
        "--project-dir",
        str(settings.DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.DBT_PROJECT_DIR),
        "--target-path",
        str(tmp_path / "target"),
    ]
    generated = subprocess.run(
        [dbt, "docs", "generate", *args],
        cwd=settings.DBT_PROJECT_DIR,
        env=_runtime_env(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    assert generated.returncode == 0, generated.stdout[-3000:]
    catalog = json.loads((tmp_path / "target" / "catalog.json").read_text())
    assert "model.gmp.canonical_cost_features" in catalog["nodes"]  # the catalog was read from the database

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [dbt, "docs", "serve", "--port", str(port), "--host", "127.0.0.1", "--no-browser", *args]
    with _server(serve, tmp_path / "dbt-docs.log", ready=lambda: _answers(url)):
        browser.get(f"{url}/#!/model/model.gmp.canonical_cost_features")
        _wait(browser, lambda d: "gmp.analytics.canonical_cost_features" in _page_text(d), "the model page")
        tree = {
            link.get_attribute("title")
            for link in browser.find_elements(By.CSS_SELECTOR, "a[data-nav-unique-id^='model.gmp.']")
        }
        assert {"canonical_cost_features", "canonical_trades", "projects", "project_trade_mappings"} <= tree
        _click(browser, "//a[@title='View Lineage Graph']", "the lineage graph button")
        labels = _wait(
            browser,
            lambda d: d.execute_script(
                "const c = document.getElementById('cy');"
                "return c && c._cyreg && c._cyreg.cy ? c._cyreg.cy.nodes().map(n => n.data('label')) : null;"
            ),
            "the lineage graph",
        )
        _shot(browser, "dbt-docs-lineage.png")
    assert {"canonical_cost_features", "int_trade_monthly_costs", "int_trade_budgets"} <= set(labels)


def test_mlflow_ui_shows_the_champion_and_what_its_run_learnt_from(browser, registry, tmp_path):
    from gmp_assets.models.registry import CHAMPION, GLOBAL_MODEL

    version = registry.client().get_model_version_by_alias(GLOBAL_MODEL, CHAMPION)
    run = registry.client().get_run(version.run_id)
    digest = next(i.dataset.digest for i in run.inputs.dataset_inputs if i.dataset.name == "global_training")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    serve = [str(BIN / "gmp"), "mlflow-ui", "--port", str(port)]
    with _server(serve, tmp_path / "mlflow-ui.log", ready=lambda: _answers(f"{url}/health")):
        browser.get(f"{url}/#/models/{GLOBAL_MODEL}")
        # the versions table: the champion's row carries the alias tag "@ champion"
        _wait(
            browser,
            lambda d: (
                f"Version {version.version}" in _page_text(d)
                and d.find_elements(By.XPATH, f"//div[@role='status' and @title='{CHAMPION}']")
            ),
            "the champion alias",
        )
        _shot(browser, "mlflow-registered-model.png")
        browser.get(f"{url}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}")
        # the Datasets row of the run's overview: name (digest), context, "+1" for the validation set
        _wait(browser, lambda d: f"global_training ({digest})" in d.page_source, "the run's datasets")
        _shot(browser, "mlflow-run-datasets.png")
