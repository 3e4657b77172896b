"""The hub's commands: ``gmp serve`` and ``gmp access token create|list|revoke`` (registered in gmp_assets.cli)."""

from __future__ import annotations

from pathlib import Path

import click

from gmp_assets import database, settings

DEMO_ROLE = "demo_viewer"


def token_file() -> Path:
    """Where ``make demo`` leaves the demo token: ``GMP_STATE_DIR/hub-token``."""
    return settings.state_dir() / "hub-token"


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the forecast hub (web app and JSON API, docs at /docs), connecting as gmp_hub."""
    import uvicorn

    from gmp_assets.hub.app import create_app
    from gmp_assets.hub.auth import hub_url

    main = database.prepare(start=True)  # sets gmp_hub's password (gmp_assets/db_roles.py)
    app = create_app(hub_url(main.url))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(
        f"Forecast hub: http://{shown}:{port}  (API docs: /docs; log in with a token from"
        f" gmp access token create ROLE{', or ' + str(token_file()) if token_file().exists() else ''})"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")


@click.group("token")
def token() -> None:
    """Bearer tokens of the forecast hub: each acts as one PostgreSQL role (row-level security)."""


@token.command("create")
@click.argument("role")
def token_create(role: str) -> None:
    """Create a token for ROLE (a role granted owners with gmp access grant) and print it alone on
    standard output, once: only its hash is stored."""
    from gmp_assets.hub.tokens import create_token

    database.prepare(start=True)
    try:
        with database.connect() as conn:
            token_id, secret = create_token(conn, role)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"token {token_id} for role {role} (shown once; revoke with gmp access token revoke {token_id})", err=True
    )
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens: id, role, created, last used, revoked (never the tokens themselves)."""
    from gmp_assets.hub.tokens import list_tokens

    database.prepare(start=True)
    with database.connect() as conn:
        rows = list_tokens(conn)
    click.echo("token_id\trole\tcreated_at\tlast_used_at\trevoked_at")
    for t in rows:
        click.echo(
            "\t".join(
                str(v) if v is not None else ""
                for v in (t.token_id, t.role_name, t.created_at, t.last_used_at, t.revoked_at)
            )
        )


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID: requests with it get 401 from then on."""
    from gmp_assets.hub.tokens import revoke_token

    database.prepare(start=True)
    with database.connect() as conn:
        done = revoke_token(conn, token_id)
    if not done:
        raise click.ClickException(f"no token {token_id}, or it was revoked already")
    click.echo(f"token {token_id} revoked")


def demo_token() -> tuple[str, Path]:
    """The demo's token: role ``demo_viewer`` granted every owner ingested and reviewer rights; the
    token in ``token_file()`` is kept while it still works, else a new one is written there (0600)."""
    from gmp_assets import access
    from gmp_assets.hub.tokens import create_token, grant_reviewer, token_hash

    path = token_file()
    with database.connect() as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT owner FROM raw.projects ORDER BY 1")
            owners = [o for (o,) in cur.fetchall()]
        for owner in owners:
            access.grant(conn, DEMO_ROLE, owner)
        grant_reviewer(conn, DEMO_ROLE)
        if path.exists():
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT 1 FROM access.api_tokens WHERE token_sha256 = %s AND role_name = %s AND revoked_at IS NULL",
                    (token_hash(path.read_text().strip()), DEMO_ROLE),
                )
                if cur.fetchone():
                    return path.read_text().strip(), path
        _, secret = create_token(conn, DEMO_ROLE)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret, path


def hub_lines(port: int) -> list[str]:
    """What the demo prints about the hub."""
    secret, path = demo_token()
    return [
        f"Forecast hub: http://127.0.0.1:{port}  (log in with the token in {path}: {secret})",
        f"  API: curl -H 'Authorization: Bearer {secret}' http://127.0.0.1:{port}/api/projects",
    ]
