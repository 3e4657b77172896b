"""The compose stack's doors, live: MLflow's basic-auth app and the Dagster UI's reverse proxy.

Each runs here as in compose, from the repository's own configuration (deploy/mlflow/basic_auth.ini,
deploy/proxy/Caddyfile) and with secrets from `gmp deploy init-env`'s generator, on 127.0.0.1 ports:
anonymous requests and wrong passwords are refused, the right ones served. MLflow keeps its runs
and users in the session's embedded PostgreSQL, as compose keeps them in its server; only the
Dagster webservers are stood in for, by a small HTTP server.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from gmp_assets import deploy_env, settings

ROOT = settings.REPO_ROOT
STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_served(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url}: the server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- MLflow ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_server(pg, tmp_path_factory):
    """`mlflow server --app-name basic-auth` as the compose service runs it: the repository's auth
    configuration unchanged, tracking store and users in ``gmp_mlflow`` on the platform's PostgreSQL
    (the session's embedded server), reached through libpq's PG* variables."""
    root = tmp_path_factory.mktemp("mlflow-auth")
    values = deploy_env.generate()
    user, password = values["GMP_MLFLOW_USER"], values["GMP_MLFLOW_PASSWORD"]
    port = _free_port()
    from gmp_assets import database

    server = database.mlflow_url(pg).dbt_env()  # MLflow's own role (gmp_mlflow)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GMP_MLFLOW", "PG"))}
    env |= {
        "MLFLOW_AUTH_CONFIG_PATH": str(ROOT / "deploy" / "mlflow" / "basic_auth.ini"),
        "MLFLOW_AUTH_ADMIN_USERNAME": user,
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": values["GMP_MLFLOW_SECRET_KEY"],
        "PGHOST": server["GMP_PG_HOST"],
        "PGPORT": server["GMP_PG_PORT"],
        "PGUSER": server["GMP_PG_USER"],
        "PGPASSWORD": server["GMP_PG_PASSWORD"],
    }
    log = root / "server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--app-name",
        "basic-auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        "postgresql+psycopg2:///gmp_mlflow",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    assert command[-3] in (ROOT / "docker-compose.yml").read_text()  # the compose service's backend store
    with open(log, "w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_served(process, f"{url}/health", log)
        yield url, user, password
    finally:
        _stop(process)


def test_mlflow_refuses_anonymous_and_wrong_credentials_and_serves_the_admin(mlflow_server):
    url, user, password = mlflow_server
    search = f"{url}/api/2.0/mlflow/experiments/search?max_results=5"
    assert requests.get(search, timeout=30).status_code == 401
    assert requests.get(search, auth=(user, password + "x"), timeout=30).status_code == 401
    assert requests.get(search, auth=("nobody", password), timeout=30).status_code == 401
    assert requests.get(f"{url}/api/2.0/mlflow/registered-models/search", timeout=30).status_code == 401
    assert requests.get(f"{url}/", timeout=30).status_code == 401
    served = requests.get(search, auth=(user, password), timeout=30)
    assert served.status_code == 200 and "experiments" in served.json()


def test_mlflow_keeps_its_users_in_postgresql_hashed(mlflow_server, pg):
    import psycopg2

    from gmp_assets import database

    _, user, password = mlflow_server
    with psycopg2.connect(database.mlflow_url(pg).url) as conn, conn.cursor() as cur:
        cur.execute("SELECT username, password_hash, is_admin FROM users")
        users = {name: (hashed, admin) for name, hashed, admin in cur.fetchall()}
    assert users[user][1] is True and password not in users[user][0]


def test_the_pipeline_registers_and_loads_a_model_through_basic_auth(mlflow_server, monkeypatch):
    """The registry code the assets use, signed in with MLFLOW_TRACKING_USERNAME/PASSWORD as in compose;
    artifacts go through the server (mlflow-artifacts:), as GMP_MLFLOW_ARTIFACT_ROOT says there."""
    from mlflow.exceptions import MlflowException
    from support.synthetic import N_FEATURES, WINDOW

    from gmp_assets.models.network import build_forecaster
    from gmp_assets.models.registry import CHAMPION, MlflowResource

    url, user, password = mlflow_server
    registry = MlflowResource(tracking_uri=url, artifact_root="mlflow-artifacts:/gmp", experiment="deploy_live")
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    with pytest.raises(MlflowException, match="401|authenticat"):
        registry.client().search_registered_models()
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    with registry.start_run("deploy_live"):
        version = registry.log_forecaster(
            build_forecaster(N_FEATURES, WINDOW, 3, 4, seed=1),
            {"projects": ["P0", "P1"], "trades": ["03", "04", "05"]},
            "deploy_live_model",
        )
    registry.promote("deploy_live_model", version, "test")
    loaded = registry.load_forecaster("deploy_live_model")
    assert loaded.version == version == registry.version_for("deploy_live_model", CHAMPION)
    assert loaded.projects.keys == ("P0", "P1")


# --- the Dagster UI's reverse proxy ------------------------------------------------------------


class _StandIn(BaseHTTPRequestHandler):
    """Answers every path: what reaches it got past the proxy."""

    def do_GET(self):
        body = f"webserver {self.server.label}: {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


def _stand_in(label: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    server.label = label
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """Caddy with deploy/proxy/Caddyfile, its two sites moved to free 127.0.0.1 ports, in front of
    two stand-in webservers (full and read-only)."""
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip(
            "caddy is not installed (Debian: apt-get install caddy; .ci/run installs it): the proxy"
            " configuration is checked only as text (tests/unit/deployment/test_compose_safety.py)"
        )
    root = tmp_path_factory.mktemp("proxy")
    full, read_only = _stand_in("full"), _stand_in("read-only")
    ports = {":3000": _free_port(), ":3001": _free_port()}
    config = (ROOT / "deploy" / "proxy" / "Caddyfile").read_text()
    for address, port in ports.items():
        config, count = re.subn(rf"(?m)^{address} \{{$", f":{port} {{\n\tbind 127.0.0.1", config)
        assert count == 1, f"site {address} not found in the Caddyfile"
    (root / "Caddyfile").write_text(config)
    values = deploy_env.generate()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GMP_")} | {
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "GMP_WEBSERVER_UPSTREAM": f"127.0.0.1:{full.server_port}",
        "GMP_READONLY_UPSTREAM": f"127.0.0.1:{read_only.server_port}",
        **{
            k: values[k]
            for k in ("GMP_PROXY_USER", "GMP_PROXY_PASSWORD_HASH", "GMP_VIEWER_USER", "GMP_VIEWER_PASSWORD_HASH")
        },
    }
    log = root / "caddy.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [caddy, "run", "--config", str(root / "Caddyfile"), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    urls = {address: f"http://127.0.0.1:{port}" for address, port in ports.items()}
    try:
        for url in urls.values():
            _wait_until_served(process, url, log)
        yield urls, values
    finally:
        _stop(process)
        full.shutdown()
        read_only.shutdown()


@pytest.mark.parametrize("path", ["/", "/graphql", "/runs/abc", "/assets/ml/project_forecasts", "/server_info"])
def test_the_proxy_refuses_anonymous_requests_on_every_path(proxy, path):
    urls, _ = proxy
    for url in urls.values():
        for method in (requests.get, requests.post):
            response = method(url + path, timeout=30)
            assert response.status_code == 401, f"{method.__name__.upper()} {url}{path}"
            assert "webserver" not in response.text
            assert response.headers.get("WWW-Authenticate", "").startswith("Basic")


def test_the_proxy_serves_each_webserver_to_its_users_only(proxy):
    urls, values = proxy
    admin = (values["GMP_PROXY_USER"], values["GMP_PROXY_PASSWORD"])
    viewer = (values["GMP_VIEWER_USER"], values["GMP_VIEWER_PASSWORD"])
    full, read_only = urls[":3000"], urls[":3001"]

    served = requests.get(f"{full}/graphql", auth=admin, timeout=30)
    assert served.status_code == 200 and served.text == "webserver full: /graphql"
    assert requests.get(f"{read_only}/runs", auth=viewer, timeout=30).text == "webserver read-only: /runs"
    assert requests.get(f"{read_only}/runs", auth=admin, timeout=30).status_code == 200
    # the viewer's password does not open the full webserver; a wrong password opens nothing
    assert requests.get(f"{full}/graphql", auth=viewer, timeout=30).status_code == 401
    assert requests.get(f"{full}/", auth=(admin[0], admin[1] + "x"), timeout=30).status_code == 401
    assert requests.get(f"{read_only}/", auth=(viewer[0], values["GMP_PROXY_PASSWORD"]), timeout=30).status_code == 401
