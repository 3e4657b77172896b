"""The deployment is safe by default: nothing published beyond 127.0.0.1, no secret in the repository,
a password in front of every Dagster UI route, and a `.env` generator that covers every required secret.

YAML- and text-level checks (`docker compose config` is not installed here); the services that run
here are tested live in tests/integration/test_deploy_live.py.
"""

from __future__ import annotations

import base64
import re
import stat
import subprocess

import bcrypt
import pytest
from click.testing import CliRunner

from gmp_assets import deploy_env, settings
from gmp_assets.cli import main

ROOT = settings.REPO_ROOT
COMPOSE_FILE = ROOT / "docker-compose.yml"
HELM_VALUES = ROOT / "deploy" / "helm" / "values.yaml"
CADDYFILE = ROOT / "deploy" / "proxy" / "Caddyfile"
MLFLOW_AUTH = ROOT / "deploy" / "mlflow" / "basic_auth.ini"
BIND = "${GMP_BIND_ADDRESS:-127.0.0.1}"
LOCAL_HOSTS = {BIND, "127.0.0.1"}

SECRET_NAME = r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|secret[_-]?key)[A-Za-z0-9_.-]*"
VALUE = r"""(?P<value>"[^"]*"|'[^']*'|[^\s,#}\]]+)"""
# A literal value given to a secret-like NAME: `NAME: value` or `NAME=value` opening a line (YAML,
# ini, .env, shell), `"NAME": value` anywhere (JSON, dicts), `NAME = value` anywhere (code, flags).
ASSIGNMENTS = [
    re.compile(rf"""(?i)^\s*(?:-\s*)?(?:export\s+)?["']?(?P<name>{SECRET_NAME})["']?\s*[:=](?!=)\s*{VALUE}"""),
    re.compile(rf"""(?i)["'](?P<name>{SECRET_NAME})["']\s*:\s*{VALUE}"""),
    re.compile(rf"""(?i)(?<![\w.$-])(?P<name>{SECRET_NAME})\s*(?<![=!<>])=(?!=)\s*{VALUE}"""),
]
# ${NAME:-default} / ${NAME-default}: a default secret
DEFAULTED = re.compile(rf"(?i)\$\{{(?P<name>{SECRET_NAME}):?-(?P<value>[^}}]*)\}}")
# scheme://user:password@host with a literal password
URL_CREDENTIALS = re.compile(r"[a-z+]+://[^\s/:@'\"${}]+:(?P<value>[^\s@/'\"]+)@")
NOT_LITERAL = re.compile(
    r"""^(?:\$|\{|\.\.\.|<|CHANGE-ME|(?-i:[A-Z][A-Z0-9_]*$)|true$|false$|null$|none$|~$|self\.|os\.|\w+\()""",
    re.IGNORECASE,
)
# Not secrets of any deployment: throwaway credentials of local fakes in tests (moto's S3), URL
# parsing tests' samples, a documentation placeholder, the hub tokens' public prefix.
ALLOWED = {
    ("tests/integration/test_s3_io.py", "testing"),
    ("tests/unit/test_foundation_units.py", "s3cret"),
    ("docs/operations.md", "pw"),
    ("tests/unit/hub/test_hub_units.py", "secret"),
    ("tests/unit/hub/test_hub_units.py", "pw"),
    ("gmp_assets/hub/tokens.py", "gmp_"),
}
SCANNER = "tests/unit/deployment/test_compose_safety.py"  # this file: its samples are literals on purpose


def literal_secrets(path: str, text: str) -> list[str]:
    """Lines of ``text`` that give a password, secret, key or token a literal value. In Python only
    quoted values count (``token = page.token`` is code); a comment line counts only as a commented-out
    ``NAME=value``."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        comment = line.lstrip().startswith(("#", "//"))
        body = line.lstrip().lstrip("#/ ") if comment else line
        patterns = ASSIGNMENTS[:1] if comment else ASSIGNMENTS
        values = [
            m.group("value")
            for pattern in patterns
            for m in pattern.finditer(body)
            if not m.group("name").lower().endswith("name")
        ]
        if path.endswith(".py"):
            values = [v for v in values if v[:1] in "\"'"]
        values += [m.group("value") for m in DEFAULTED.finditer(line)]
        values += [m.group("value") for m in URL_CREDENTIALS.finditer(line)]
        for value in values:
            bare = value.strip("\"'")
            if bare and not NOT_LITERAL.match(bare) and (path, bare) not in ALLOWED:
                found.append(f"{path}:{number}: {line.strip()}")
    return found


def _tracked_files() -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [
        p
        for p in result.stdout.splitlines()
        if not p.startswith("tests/data/") and p != SCANNER and (ROOT / p).is_file()
    ]


def _published(service: dict) -> list[tuple[str | None, str]]:
    """(host address or None, published port) of each of a service's ``ports`` entries."""
    out = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            out.append((entry.get("host_ip"), str(entry.get("published"))))
            continue
        entry = str(entry)
        if entry.startswith("${"):  # ${GMP_BIND_ADDRESS:-127.0.0.1}:5000:5000
            close = entry.index("}")
            host, port = entry[: close + 1], entry[close + 2 :].split(":")[0]
        else:
            parts = entry.split(":")
            host, port = (parts[0], parts[1]) if len(parts) == 3 else (None, parts[0])
        out.append((host or None, port))
    return out


def _site_blocks(caddyfile: str) -> dict[str, list[str]]:
    """Site address -> its top-level directive lines (the global options block left out)."""
    sites, current, depth = {}, None, 0
    for raw in caddyfile.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        if depth == 0 and line.endswith("{"):
            address = line[:-1].strip()
            current = address or None  # "{" alone: global options
            if current:
                sites[current] = []
        elif depth == 1 and current:
            sites[current].append(line)
        depth += line.count("{") - line.count("}")
    return sites


def test_every_published_port_listens_on_localhost_unless_the_operator_says_otherwise(compose):
    published = {name: _published(service) for name, service in compose["services"].items() if service.get("ports")}
    assert published, "the compose file publishes the proxy and MLflow"
    for name, ports in published.items():
        for host, port in ports:
            assert host in LOCAL_HOSTS, f"{name} publishes port {port} on {host or 'every interface'}"
    assert not any(service.get("network_mode") == "host" for service in compose["services"].values())


def test_the_parser_sees_an_open_port():
    assert _published({"ports": ["3000:3000"]}) == [(None, "3000")]
    assert _published({"ports": ["0.0.0.0:9001:9001"]}) == [("0.0.0.0", "9001")]
    assert _published({"ports": [f"{BIND}:5000:5000"]}) == [(BIND, "5000")]
    assert _published({"ports": [{"target": 80, "published": 8080}]}) == [(None, "8080")]


def test_the_webservers_and_minio_are_not_published_and_the_proxy_fronts_both_webservers(compose):
    services = compose["services"]
    webservers = {name for name, s in services.items() if "dagster-webserver" in " ".join(s.get("command") or [])}
    assert webservers == {"webserver", "webserver-readonly"}
    for name in webservers | {"minio", "postgres", "code", "daemon"}:
        assert not services[name].get("ports"), f"{name} must not be published"
    assert "--read-only" in services["webserver-readonly"]["command"]
    assert "--read-only" not in services["webserver"]["command"]
    upstreams = re.findall(r"reverse_proxy\s+\{\$\w+:([\w-]+):(\d+)\}", CADDYFILE.read_text())
    assert set(upstreams) == {("webserver", "3000"), ("webserver-readonly", "3000")}
    assert {port for _, port in _published(services["proxy"])} == {"3000", "3001"}
    assert "./deploy/proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


def test_every_proxy_site_asks_for_a_password_on_every_route():
    sites = _site_blocks(CADDYFILE.read_text())
    assert set(sites) == {":3000", ":3001"}
    for address, directives in sites.items():
        names = [d.split()[0] for d in directives]
        auth = [d for d in directives if d.split()[0] in ("basicauth", "basic_auth")]
        # no matcher (a path or @name) between the directive and its block: it covers every request
        assert auth and all(d.split()[1] == "{" for d in auth), f"{address}: basic auth without a matcher"
        assert "reverse_proxy" in names
        assert not {"handle", "handle_path", "route", "respond", "file_server", "redir"} & set(names), (
            f"{address}: a route that could answer before the password is checked"
        )
    # users and hashes come from the environment only
    block = re.findall(r"basicauth \{\n(.*?)\n\t\}", CADDYFILE.read_text(), re.S)
    credentials = [line.split() for chunk in block for line in chunk.splitlines()]
    assert credentials and all(re.fullmatch(r"\{\$\w+\}", word) for pair in credentials for word in pair)
    assert re.search(r"^\s*admin off$", CADDYFILE.read_text(), re.M)


def test_mlflow_runs_its_basic_auth_app_without_a_password_on_its_command_line(compose):
    mlflow = compose["services"]["mlflow"]
    command = " ".join(mlflow["command"])
    assert "--app-name basic-auth" in command
    assert not URL_CREDENTIALS.search(command)
    environment = mlflow["environment"]
    assert environment["MLFLOW_AUTH_CONFIG_PATH"] == "/opt/gmp/deploy/mlflow/basic_auth.ini"
    assert environment["MLFLOW_AUTH_ADMIN_PASSWORD"].startswith("${GMP_MLFLOW_PASSWORD:?")
    assert environment["MLFLOW_TRACKING_PASSWORD"] == environment["MLFLOW_AUTH_ADMIN_PASSWORD"]
    auth = MLFLOW_AUTH.read_text()
    assert "admin_password" not in auth.replace("# ", "")  # from the environment only
    assert re.search(r"^database_uri = postgresql\+psycopg2:///gmp_mlflow$", auth, re.M)


def test_every_secret_the_compose_file_uses_is_required_and_generated_by_init_env(compose):
    text = COMPOSE_FILE.read_text()
    references = set(re.findall(r"\$\{(\w+)", text))
    secrets = {name for name in references if re.search(r"PASSWORD|SECRET|_HASH|ROOT_USER", name)}
    assert {"POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "GMP_MLFLOW_PASSWORD", "GMP_PROXY_PASSWORD_HASH"} <= secrets
    optional = {"GMP_SMTP_PASSWORD"}  # only with an SMTP relay that asks for a login: empty by default
    for name in secrets - optional:
        forms = set(re.findall(rf"\$\{{{name}(:?[?-]?)", text))
        assert forms == {":?"}, f"{name} must be required (${{{name}:?...}}), not defaulted"
    for name in optional & secrets:
        assert set(re.findall(rf"\$\{{{name}:-([^}}]*)\}}", text)) == {""}, f"{name} has a default value"
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required <= set(deploy_env.generate()), "init-env must write every variable compose requires"
    for message in re.findall(r"\$\{\w+:\?([^}]*)\}", text):
        assert "deploy/README.md" in message


def test_helm_exposes_nothing_and_runs_a_read_only_webserver(helm):
    assert helm["ingress"]["enabled"] is False
    assert helm["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    assert helm["dagsterWebserver"]["enableReadOnly"] is True

    def service_types(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "service" and isinstance(value, dict) and "type" in value:
                    yield value["type"]
                yield from service_types(value)
        elif isinstance(node, list):
            for item in node:
                yield from service_types(item)

    assert set(service_types(helm)) == {"ClusterIP"}
    env = {item["name"]: item for item in helm["dagster-user-deployments"]["deployments"][0]["env"]}
    assert "secretKeyRef" in env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]


def test_no_literal_secret_in_the_repository():
    files = _tracked_files()
    assert "docker-compose.yml" in files and "deploy/helm/values.yaml" in files
    found = [hit for path in files for hit in literal_secrets(path, (ROOT / path).read_text(errors="replace"))]
    assert found == []


@pytest.mark.parametrize(
    "line",
    [
        "POSTGRES_PASSWORD: gmp",
        "  MINIO_ROOT_PASSWORD: ${MINIO_ROOT_PASSWORD:-gmpsecret}",
        'password = "hunter2"',
        '{"AWS_SECRET_ACCESS_KEY": "abc123"}',
        "postgresqlPassword: test",
        "GMP_DATABASE_URL: postgresql://gmp:gmp@postgres:5432/gmp",
        "api_key='sk-live-1234'",
        "token=abcdef",
        "# POSTGRES_PASSWORD=abc",
    ],
)
def test_the_secret_scan_finds_a_literal(line):
    assert literal_secrets("x", line)


@pytest.mark.parametrize(
    "line",
    [
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, see deploy/README.md}",
        "PGPASSWORD: ${POSTGRES_PASSWORD:?set it}",
        "password: \"{{ env_var('GMP_PG_PASSWORD') }}\"",
        "secretKeyRef: {name: gmp-secrets, key: mlflow-password}",
        "postgresqlSecretName: gmp-dagster-postgresql",
        "--from-literal=aws-secret-access-key=...",
        '"GMP_PG_PASSWORD": self.password,',
        "{$GMP_PROXY_USER} {$GMP_PROXY_PASSWORD_HASH}",
        "GMP_DATABASE_URL: postgresql://${POSTGRES_USER:-gmp}:${POSTGRES_PASSWORD:?set}@postgres:5432/gmp",
        "if password == expected:",
        '# Secret with key "postgresql-password": the password of the user below.',
    ],
)
def test_the_secret_scan_lets_references_through(line):
    assert literal_secrets("x", line) == []


def test_init_env_writes_fresh_secrets_readable_by_the_owner_only_and_never_overwrites(tmp_path):
    runner = CliRunner()
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    result = runner.invoke(main, ["deploy", "init-env", "--out", str(first)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    runner.invoke(main, ["deploy", "init-env", "--out", str(second)])
    values = _read_env(first)
    assert values.keys() == _read_env(second).keys() >= {"POSTGRES_PASSWORD", "GMP_PROXY_PASSWORD_HASH"}
    generated = [name for name, default, _ in deploy_env.SETTINGS if default is None]
    for key in generated:
        assert values[key] != _read_env(second)[key] and len(values[key]) >= 12
    for plain, hashed in deploy_env.HASHED.items():
        assert bcrypt.checkpw(values[plain].encode(), base64.b64decode(values[hashed]))
        assert not bcrypt.checkpw(b"wrong", base64.b64decode(values[hashed]))
    before = first.read_text()
    again = runner.invoke(main, ["deploy", "init-env", "--out", str(first)])
    assert again.exit_code != 0 and "not overwritten" in again.output
    assert first.read_text() == before


def test_the_generated_env_stays_out_of_git_and_of_the_image():
    result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT)
    assert result.returncode == 0, ".env must be in .gitignore"
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def _read_env(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
