"""`gmp`: the platform's command line (a stable interface: scripts and people depend on it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from gmp_assets import database, db_roles, settings
from gmp_assets.exports import write_csv


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """GMP forecasting platform: ingest project exports, build canonical cost tables, forecast."""
    try:
        settings.console_log_level()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


# --- database ---------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Manage the embedded PostgreSQL server (ignored when GMP_DATABASE_URL is set)."""


@db.command("start")
def db_start() -> None:
    """Start the embedded server and create the databases and schemas."""
    url = database.prepare(start=True)
    click.echo(f"PostgreSQL ready: {db_roles.redacted(url)} (gmp db url prints it whole)")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded server."""
    click.echo("stopped" if database.stop_embedded() else "not running")


@db.command("status")
def db_status() -> None:
    """Say whether the embedded server runs (exit 1 if not)."""
    if settings.external_database_url():
        click.echo("external server (GMP_DATABASE_URL)")
        return
    status = database.embedded_status()
    if status is None:
        click.echo(f"not running (data in {database.pgdata_dir()})")
        sys.exit(1)
    click.echo(f"running: pid {status['pid']}, socket {status['socket_dir']}, data {status['pgdata']}")


@db.command("url")
def db_url() -> None:
    """Print the main database URL (as gmp_pipeline, with its password)."""
    click.echo(database.main_url(start=False).url)


@main.command("env")
def env() -> None:
    """Print the environment (shell `export` lines) that Dagster, dbt and the code location read."""
    database.prepare(start=True)
    for key, value in database.runtime_env(database.main_url(start=False)).items():
        click.echo(f"export {key}='{value}'")


@main.command("exec", context_settings={"ignore_unknown_options": True})
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(command: tuple[str, ...]) -> None:
    """Prepare the database, export the runtime environment and run COMMAND (containers' entrypoint)."""
    database.prepare(start=True)
    os.execvp(command[0], list(command))


# --- demo data and ingestion --------------------------------------------------------------------


@main.command("demo-data")
@click.option("--projects", "n_projects", default=6, show_default=True, help="Number of projects.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same files).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Data cut-off date.")
@click.option(
    "--regime",
    type=click.Choice(["demo", "independent"]),
    default="demo",
    show_default=True,
    help="independent: timing, cost curves, overruns, progress reports and names not drawn from the taxonomy.",
)
def demo_data(n_projects: int, seed: int, out_dir: Path, as_of, regime: str = "demo") -> None:
    """Write a realistic demo portfolio of project folders (input contract format)."""
    from gmp_assets.demo.generator import generate_portfolio

    summaries = generate_portfolio(out_dir, n_projects, seed, as_of=as_of.date() if as_of else None, regime=regime)
    for s in summaries:
        click.echo(
            f"{s.project_key:<14} {s.status:<9} {s.n_divisions:>3} divisions {s.n_budget_lines:>4} budget lines "
            f"{s.n_cost_rows:>6} cost rows"
        )
    click.echo(f"{len(summaries)} projects written to {out_dir}")


def _progress(line: str) -> None:
    """A progress line on stderr, any text of a file in it escaped for the terminal."""
    from gmp_assets.taxonomy.names import printable

    click.echo(printable(line), err=True)


def _print_outcomes(outcomes) -> None:
    from gmp_assets.taxonomy.names import printable

    header = (
        f"{'project':<14} {'status':<7} {'rows in':>8} {'loaded':>8} {'rejected':>8} {'trades':>6} {'pending':>7}"
        f" {'months':>6} {'quality':>7}"
    )
    click.echo(header)
    click.echo("-" * len(header))
    for o in outcomes:
        quality = f"{o.quality:.3f}" if o.quality is not None else "-"
        click.echo(
            f"{o.project_key:<14} {'ok' if o.ok else 'FAILED':<7} {o.rows_in:>8} {o.rows_loaded:>8} "
            f"{o.rows_rejected:>8} {o.trades_mapped:>6} {o.pending:>7} {o.months:>6} {quality:>7}"
        )
        if o.unchanged:
            click.echo("  unchanged: its files are loaded as they are; nothing ran")
        if o.error:
            click.echo(f"  reason: {printable(o.error)}")
        if o.in_database:
            click.echo(f"  in the database: {o.in_database}")
        for reject in o.first_rejects:
            click.echo(f"  rejected: {reject}")
        if o.rows_rejected > len(o.first_rejects):
            click.echo(
                f"  ... {o.rows_rejected - len(o.first_rejects)} more: gmp rejects list --project {o.project_key}"
            )
        for warning in o.warnings:
            click.echo(f"  warning: {printable(warning)}")


@main.command("ingest")
@click.option("--inbox", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
def ingest(inbox: Path) -> None:
    """Materialize raw files -> canonical tables for every project folder of INBOX, through Dagster."""
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox

    database.prepare(start=True)
    outcomes = ingest_inbox(defs, inbox, progress=_progress)
    _print_outcomes(outcomes)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


def _print_models(summary) -> None:
    from gmp_assets.models.fallback import ADAPTER_MIN_MONTHS
    from gmp_assets.taxonomy.names import printable

    if summary.trained or summary.backtested:
        role = "champion" if summary.promoted else "challenger, not promoted"
        click.echo(f"global model: version {summary.global_version} ({role}: {summary.decision})")
    else:
        click.echo(f"global model: nothing trained ({summary.decision})")
    waiting = {k: m for k, m in summary.adapters_kept.items() if m < ADAPTER_MIN_MONTHS}
    click.echo(f"adapters kept: {', '.join(k for k in summary.adapters_kept if k not in waiting) or 'none'}")
    if waiting:
        click.echo(
            f"adapters kept, not used before {ADAPTER_MIN_MONTHS} months of data (the global model forecasts"
            f" until then): {', '.join(f'{k} ({m} months)' for k, m in waiting.items())}"
        )
    totals = {}
    if summary.forecasts:
        from gmp_assets.forecasting.store import totals_as_of

        with database.connect() as conn:
            totals = totals_as_of(conn, summary.forecasts)
    for key, month in sorted(summary.forecasts.items()):
        click.echo(f"forecast: {key} as of {month}" + (f": {_total_line(totals[key])}" if key in totals else ""))
    for warning in summary.warnings:
        click.echo(f"check: {printable(warning)}")
    if summary.warnings:
        click.echo("(confirm pending mappings with gmp mappings confirm, then gmp run again)")
    for error in summary.errors:
        click.echo(f"error: {printable(error)}")


def _total_line(total: dict) -> str:
    """'EAC $41.2M vs GMP $40.0M (+3.0%), 80% interval $40.1M to $42.6M' for a project's totals."""
    from gmp_assets.forecasting.store import eac_over_gmp

    def millions(cents) -> str:
        return f"${int(cents) / 1e8:,.1f}M"

    share = eac_over_gmp(total)
    versus = f" ({share:+.1%})" if share is not None else ""
    return (
        f"EAC {millions(total['predicted_eac_cents'])} vs GMP {millions(total['bac_cents'])}{versus},"
        f" {float(total['confidence_level']):.0%} interval {millions(total['confidence_lower_cents'])} to"
        f" {millions(total['confidence_upper_cents'])}"
    )


@main.command("run")
@click.option("--inbox", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
def run(inbox: Path) -> None:
    """The whole pipeline for INBOX as Dagster runs: ingest, canonical, features; training when the data or
    the recipe changed (a new global version replaces the champion only if its backtest beats it), the active
    projects forecast with the models in use before it; then the adapters and forecasts from the champion."""
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox, run_models

    database.prepare(start=True)
    progress = _progress
    outcomes = ingest_inbox(defs, inbox, progress=progress)
    _print_outcomes(outcomes)
    summary = run_models(defs, outcomes, progress=progress)
    _print_models(summary)
    if not all(o.ok for o in outcomes) or summary.errors:
        sys.exit(1)


@main.group()
def forecasts() -> None:
    """Read the forecasts."""


@forecasts.command("export")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--totals", is_flag=True, help="One row per project: its totals over its trades (EAC vs GMP).")
def forecasts_export(out_file: Path, totals: bool) -> None:
    """Write the current forecasts (latest forecast date per project) as CSV: one row per trade, or per
    project with --totals."""
    from gmp_assets.forecasting.store import export_csv

    database.prepare(start=True)
    with database.connect() as conn:
        count = export_csv(conn, out_file, totals=totals)
    click.echo(f"{count} {'project total' if totals else 'forecast'} rows written to {out_file}")


def _mlflow():
    from gmp_assets.models.registry import MlflowResource

    database.prepare(start=True)
    return MlflowResource.from_env()


@main.command("backtest")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--reuse", is_flag=True, help="Write the latest report instead of running the backtest again.")
def backtest(json_file: Path, reuse: bool) -> None:
    """Run the backtest (model vs the formulas at 25/50/75% elapsed) through Dagster and write its JSON."""
    import dagster as dg

    from gmp_assets.evaluation.assets import backtest_json_path
    from gmp_assets.evaluation.backtest import how_sure, totals_line

    database.prepare(start=True)
    if not reuse:
        from gmp_assets.definitions import defs
        from gmp_assets.orchestration.runner import _failure_message, execute

        result = execute(defs.resolve_job_def("backtest_job"), dg.DagsterInstance.get())
        if not result.success:
            raise click.ClickException(f"backtest run {result.run_id} failed: {_failure_message(result)}")
    if not backtest_json_path().exists():
        raise click.ClickException("no backtest report yet: run without --reuse")
    report = json.loads(backtest_json_path().read_text())
    totals = report.get("project_totals")  # None in a report written before them
    json_file.write_text(
        json.dumps({"stages": report["stages"], **({"project_totals": totals} if totals else {})}, indent=2)
    )
    for stage, methods in report["stages"].items():
        best = ", ".join(f"{m} {v['mape']:.3f}" for m, v in methods.items() if v.get("mape") is not None)
        click.echo(f"{stage}%: MAPE {best}")
        if "gain_over_best_evm" in methods["adapter"]:  # a report written before the intervals has none
            click.echo(f"     {how_sure(methods['adapter'])}")
        if totals:
            click.echo(f"     {totals_line(totals[stage])}")
    if "promotion" in report:
        click.echo(f"global model version {report['promotion']['challenger_version']}: {report['promotion']['reason']}")
    click.echo(f"written to {json_file}")
    _build_benchmarks()


def _build_benchmarks() -> None:
    """Rebuild the benchmark marts (they read the latest backtest) through Dagster."""
    import dagster as dg

    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import _failure_message, execute

    result = execute(defs.resolve_job_def("benchmarks_job"), dg.DagsterInstance.get())
    if not result.success:
        raise click.ClickException(f"benchmarks run {result.run_id} failed: {_failure_message(result)}")
    click.echo("benchmarks: analytics.benchmark_cost_per_sf, benchmark_completion_curves, benchmark_forecast_accuracy")


@main.group()
def models() -> None:
    """See the registered models' aliases; move the champion alias by hand."""


@models.command("list")
def models_list() -> None:
    """Every registered model with its champion, challenger and previous champion, and why the champion is
    the champion (or, for an adapter retired because it no longer beats the global model, why)."""
    rows = _mlflow().overview()
    columns = ["name", "champion", "challenger", "previous_champion", "note"]
    _echo_table(columns, [[row[c] for c in columns] for row in rows])


RENEWAL_HINT = (
    "The current forecasts it serves are made again within 2 minutes while the daemon runs (gmp ui:"
    " model_change_forecast_sensor)."
)


def _verified(registry, name: str, version: str) -> None:
    """Refuse to make a champion of a version the forecasts would refuse to load."""
    from gmp_assets.models.artifact_safety import UnsafeModelError

    try:
        registry.load_version(name, version)
    except UnsafeModelError as exc:
        raise click.ClickException(str(exc)) from exc


@models.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why (recorded on the model version).")
def models_promote(name: str, version: str, reason: str) -> None:
    """Make VERSION of registered model NAME the champion (once its artifacts pass verification)."""
    registry = _mlflow()
    _verified(registry, name, version)
    registry.promote(name, version, f"manual: {reason}", by_hand=True)
    click.echo(f"{name}: version {version} is the champion")
    click.echo(RENEWAL_HINT)


@models.command("rollback")
@click.argument("name")
def models_rollback(name: str) -> None:
    """Make the previous champion of NAME the champion again."""
    from gmp_assets.models.registry import PREVIOUS

    registry = _mlflow()
    previous = registry.version_for(name, PREVIOUS)
    if previous is None:
        raise click.ClickException(f"{name} has no previous champion to roll back to")
    _verified(registry, name, previous)
    registry.promote(name, previous, "manual rollback", by_hand=True)
    click.echo(f"{name}: version {previous} is the champion again")
    click.echo(RENEWAL_HINT)


# --- rejected rows ------------------------------------------------------------------------------


def _in_database(action, *args):
    """``action(conn, *args)`` in one transaction on the started database; a ValueError is the user's error."""
    database.prepare(start=True)
    try:
        with database.connect() as conn:
            return action(conn, *args)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.group()
def rejects() -> None:
    """Rows of the source files that were not loaded, kept with the file, the line and the reason."""


@rejects.command("list")
@click.option("--project", default=None, help="Only this project.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def rejects_list(project: str | None, fmt: str) -> None:
    """List rejected rows: project_key, source_file, line_number, column, reason, raw_values (the cells as
    read; escaped where they hold invisible or look-alike characters)."""
    from gmp_assets.ingest.report import list_rejects
    from gmp_assets.taxonomy.names import escaped

    rows = _in_database(list_rejects, project)
    columns = ["project_key", "source_file", "line_number", "column", "reason", "raw_values"]
    values = [
        [
            r.project_key,
            escaped(r.source_file),
            str(r.line_number),
            escaped(r.column_name or ""),
            escaped(r.reason),
            r.shown_values(),
        ]
        for r in rows
    ]
    _echo_rows(columns, values, fmt, "rejected row(s)")


# --- mappings -----------------------------------------------------------------------------------


@main.group()
def mappings() -> None:
    """Review the mapping of raw division names to canonical CSI trades."""


@mappings.command("list")
@click.option(
    "--pending",
    is_flag=True,
    help="Only names waiting for review, with the mapper's candidates and,"
    " by the amounts filed under each, the trade it likely belongs to.",
)
@click.option("--project", default=None, help="Only this project.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def mappings_list(pending: bool, project: str | None, fmt: str) -> None:
    """List mappings: project_key, raw_division_name, canonical_code, method, confidence (with --pending also
    candidates and by_the_amounts), name_note; the CSV, with canonical_code filled in, is what `gmp mappings
    import` reads. Names are shown escaped (\\uXXXX) where they hold invisible or look-alike characters."""
    from gmp_assets.forecasting.expectations import review_hints
    from gmp_assets.taxonomy.names import escaped, fold_note
    from gmp_assets.taxonomy.store import list_mappings

    database.prepare(start=True)
    with database.connect() as conn:
        rows = list_mappings(conn, pending_only=pending, project_key=project)
        hints = review_hints(conn, [r.project_key for r in rows]) if pending else {}
    columns = ["project_key", "raw_division_name", "canonical_code", "method", "confidence"]
    if pending:
        columns += ["candidates", "by_the_amounts"]
    values = [
        [r.project_key, escaped(r.raw_division_name), r.canonical_code or "", r.method, f"{r.confidence:.2f}"]
        + (
            [
                "; ".join(f"{c['code']} {c['name']} ({c['score']})" for c in r.candidates),
                hints.get((r.project_key, r.raw_division_name), ""),
            ]
            if pending
            else []
        )
        + [fold_note(r.raw_division_name)]
        for r in rows
    ]
    columns.append("name_note")  # what a name with invisible or look-alike characters reads as
    _echo_rows(columns, values, fmt, "mapping(s)")


def _echo_rows(columns: list[str], values: list[list[str]], fmt: str, noun: str) -> None:
    """Rows as CSV on stdout, or as a table with their count on stderr."""
    if fmt == "csv":
        write_csv(sys.stdout, columns, values)
        return
    _echo_table(columns, values)
    click.echo(f"{len(values)} {noun}", err=True)


def _echo_table(columns: list[str], values: list[list[str]]) -> None:
    from gmp_assets.taxonomy.names import printable

    values = [[printable(v) for v in row] for row in values]
    widths = [max([len(c)] + [len(v[i]) for v in values]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for v in values:
        click.echo("  ".join(x.ljust(w) for x, w in zip(v, widths)))


APPLY_HINT = (
    "To apply it downstream: gmp run --inbox DIR, or, with the daemon running (gmp ui), launch"
    " project_ingest_job for the project, or materialize its partition of taxonomy/trade_mappings and"
    " the analytics models downstream in the Dagster UI; its months, features and forecasts follow by"
    " sensor."
)


@mappings.command("confirm")
@click.argument("project")
@click.argument("raw_name")
@click.argument("code")
def mappings_confirm(project: str, raw_name: str, code: str) -> None:
    """Confirm that RAW_NAME of PROJECT means CSI division CODE (e.g. 09)."""
    from gmp_assets.taxonomy.store import confirm_mapping

    database.prepare(start=True)
    try:
        with database.connect() as conn:
            confirm_mapping(conn, project, raw_name, code)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    from gmp_assets.orchestration.runner import report_confirmations

    report_confirmations({project}, f"{raw_name!r} -> {code}")
    click.echo(f"{project}: {raw_name!r} -> {code} (manual)")
    click.echo(APPLY_HINT)


@mappings.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def mappings_import(csv_file: Path) -> None:
    """Confirm every row of a review CSV (columns project_key, raw_division_name, canonical_code)."""
    from gmp_assets.taxonomy.store import import_confirmations

    done = _in_database(import_confirmations, csv_file)
    from gmp_assets.orchestration.runner import report_confirmations

    report_confirmations({p for p, _, _ in done}, f"imported {csv_file.name}")
    click.echo(f"{len(done)} mapping(s) confirmed")
    click.echo(APPLY_HINT)


# --- alerts -------------------------------------------------------------------------------------


@main.group()
def alerts() -> None:
    """Alerts on the current forecasts and on failed runs (docs/alerts.md)."""


@alerts.command("list")
@click.option("--project", default=None, help="Only this project.")
@click.option("--open", "open_only", is_flag=True, help="Only alerts not resolved.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
def alerts_list(project: str | None, open_only: bool, fmt: str) -> None:
    """List alerts, newest first: project_key, kind, message, first_seen, last_seen, resolved_at."""
    from gmp_assets.alerts.store import LIST_COLUMNS, list_alerts
    from gmp_assets.catalog import is_project_key

    if project is not None and not is_project_key(project):
        raise click.BadParameter("expected 1-40 characters of A-Z a-z 0-9 _ -", param_hint="--project")
    database.prepare(start=True)
    with database.connect() as conn:
        rows = list_alerts(conn, project_key=project, open_only=open_only)
    values = [
        [v.isoformat(timespec="seconds") if hasattr(v, "isoformat") else ("" if v is None else str(v)) for v in row]
        for row in rows
    ]
    if fmt == "csv":
        write_csv(sys.stdout, LIST_COLUMNS, values)
        return
    _echo_table(list(LIST_COLUMNS), values)
    click.echo(f"{len(values)} alert(s)", err=True)


# --- access -------------------------------------------------------------------------------------


@main.group()
def access() -> None:
    """Who may read which owner's projects (row-level security in PostgreSQL)."""


@access.command("grant")
@click.argument("role")
@click.argument("owner")
@click.option("--login", is_flag=True, help="Create ROLE as a login role if it does not exist.")
@click.option("--reviewer", is_flag=True, help="Also let ROLE confirm trade mappings (in the hub's review queue).")
@click.option(
    "--password-stdin", is_flag=True, help="Read ROLE's login password from standard input (set as the administrator)."
)
def access_grant(role: str, owner: str, login: bool, reviewer: bool, password_stdin: bool) -> None:
    """Let database ROLE read the projects of OWNER (raw.projects.owner, exactly)."""
    from gmp_assets import access as access_control
    from gmp_assets.hub.tokens import grant_reviewer

    database.prepare(start=True)
    try:
        with database.connect() as conn:
            granted = access_control.grant(conn, role, owner, login=login)
            if reviewer:
                grant_reviewer(conn, role)
        if password_stdin:
            with database.connect(database.admin_url(start=False)) as conn:
                access_control.set_password(conn, role, click.get_text_stream("stdin").readline().rstrip("\n"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{granted.role} may read {granted.project_count} project(s) of {granted.owner!r}")
    if granted.project_count == 0:
        click.echo(f"warning: no project has owner {owner!r} yet (check the spelling)", err=True)


@access.command("revoke")
@click.argument("role")
@click.argument("owner")
def access_revoke(role: str, owner: str) -> None:
    """Stop database ROLE from reading the projects of OWNER."""
    from gmp_assets import access as access_control

    database.prepare(start=True)
    with database.connect() as conn:
        done = access_control.revoke(conn, role, owner)
    click.echo("revoked" if done else f"{role} had no access to {owner!r}")


@access.command("list")
def access_list() -> None:
    """List grants: role, owner, owner group role, visible projects."""
    from gmp_assets import access as access_control

    database.prepare(start=True)
    with database.connect() as conn:
        for g in access_control.list_grants(conn):
            click.echo(f"{g.role}\t{g.owner}\t{g.owner_role}\t{g.project_count}")


# --- deployment ---------------------------------------------------------------------------------


@main.group()
def deploy() -> None:
    """Set up the Docker Compose deployment (deploy/README.md)."""


@deploy.command("init-env")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".env"),
    show_default=True,
    help="Where to write it (docker compose reads .env next to docker-compose.yml).",
)
def deploy_init_env(out_file: Path) -> None:
    """Write a .env with random passwords and keys for docker-compose.yml; never overwrites one."""
    from gmp_assets import deploy_env

    try:
        values = deploy_env.write_new(out_file)
    except FileExistsError:
        raise click.ClickException(
            f"{out_file} exists: not overwritten (its secrets are in use; move it away"
            " first to start over with new ones)"
        ) from None
    click.echo(
        f"written {out_file} (readable by you only): random passwords for PostgreSQL, MinIO, MLflow and"
        " the Dagster UI's proxy"
    )
    click.echo(
        f"Dagster UI: http://127.0.0.1:3000 as {values['GMP_PROXY_USER']} (password GMP_PROXY_PASSWORD),"
        f" read-only http://127.0.0.1:3001 as {values['GMP_VIEWER_USER']} (GMP_VIEWER_PASSWORD);"
        f" MLflow http://127.0.0.1:5000 as {values['GMP_MLFLOW_USER']} (GMP_MLFLOW_PASSWORD)"
    )


from gmp_assets.hub.cli import serve, token  # noqa: E402 - the forecast hub's commands

access.add_command(token)
main.add_command(serve)


# --- UIs ----------------------------------------------------------------------------------------


def _stop_on_sigterm() -> None:
    """Let SIGTERM (``kill``, ``docker stop``, a process manager) stop the servers as Ctrl-C does, so
    children are stopped too instead of being left running."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _run_foreground(command: list[str], **kwargs) -> int:
    """Run a server in the foreground; Ctrl-C or SIGTERM stops it (SIGINT to the child, whose default
    SIGINT handling is restored)."""
    _stop_on_sigterm()
    process = subprocess.Popen(command, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.send_signal(signal.SIGINT)
        return process.wait()


@main.command("docs")
@click.option("--port", default=8580, show_default=True)
@click.option("--no-serve", is_flag=True, help="Only generate the site (dbt_project/target/docs/index.html).")
def docs(port: int, no_serve: bool) -> None:
    """Generate and serve the dbt docs site (lineage of the canonical tables), in a target of its own:
    the manifest the Dagster code location reads is never rewritten under it."""
    from gmp_assets.resources import dbt_executable

    database.prepare(start=True)
    site = settings.DBT_PROJECT_DIR / "target" / "docs"
    args = [
        "--project-dir",
        str(settings.DBT_PROJECT_DIR),
        "--profiles-dir",
        str(settings.DBT_PROJECT_DIR),
        "--target-path",
        str(site),
    ]
    subprocess.run([dbt_executable(), "docs", "generate", *args], check=True, cwd=settings.DBT_PROJECT_DIR)
    if no_serve:
        click.echo(f"dbt docs written to {site / 'index.html'}")
        return
    click.echo(f"dbt docs: http://127.0.0.1:{port}")
    sys.exit(
        _run_foreground(
            [dbt_executable(), "docs", "serve", "--port", str(port), "--host", "127.0.0.1", "--no-browser", *args],
            cwd=settings.DBT_PROJECT_DIR,
        )
    )


def _listening(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:PORT."""
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _wait_for_port(process: subprocess.Popen, port: int, timeout: float = 300.0) -> None:
    """Return once something listens on 127.0.0.1:PORT; fail if PROCESS exits first or TIMEOUT passes."""
    import time

    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if _listening(port):
            return
        if time.monotonic() > deadline:
            raise click.ClickException(f"nothing listens on port {port} after {timeout:.0f}s")
        time.sleep(0.5)
    raise click.ClickException(f"{' '.join(map(str, process.args))} exited with status {process.returncode}")


@main.command("ui")
@click.option("--port", default=3000, show_default=True, help="Dagster web UI port.")
@click.option(
    "--all", "all_uis", is_flag=True, help="Also serve the forecast hub, the dbt docs site and the MLflow UI."
)
@click.option("--docs-port", default=8580, show_default=True, help="dbt docs port (with --all).")
@click.option("--mlflow-port", default=5000, show_default=True, help="MLflow UI port (with --all).")
@click.option("--hub-port", default=8000, show_default=True, help="Forecast hub port (with --all).")
def ui(port: int, all_uis: bool, docs_port: int, mlflow_port: int, hub_port: int = 8000) -> None:
    """Serve the Dagster UI (with the daemon: schedules and sensors) against the real instance.

    With --all, `gmp serve` (the forecast hub), `gmp docs` and `gmp mlflow-ui` are served too, each
    answering before Dagster starts.
    """
    from gmp_assets.canonical.project import ensure_manifest

    wanted = {"docs": docs_port, "mlflow-ui": mlflow_port, "serve": hub_port} if all_uis else {}
    taken = [p for p in (port, *wanted.values()) if _listening(p)]
    if taken:  # another gmp ui, or any other service: its page would be taken for ours
        raise click.ClickException(
            f"port(s) {', '.join(map(str, taken))} already in use on 127.0.0.1: stop what"
            " listens there or choose others (--port, --hub-port, --docs-port, --mlflow-port)"
        )
    _stop_on_sigterm()
    database.prepare(start=True)
    ensure_manifest()
    companions: list[subprocess.Popen] = []
    try:
        for command, companion_port in wanted.items():  # each prints its own URL once it serves
            companions.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gmp_assets.cli", command, "--port", str(companion_port)],
                    preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                )
            )
            _wait_for_port(companions[-1], companion_port)
        click.echo(f"Dagster UI: http://127.0.0.1:{port}  (Ctrl-C stops {'them' if companions else 'it'})")
        dagster = Path(sys.executable).parent / "dagster"
        status = _run_foreground(
            [str(dagster), "dev", "-w", str(settings.REPO_ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
            cwd=settings.REPO_ROOT,
            env=os.environ.copy(),
        )
    finally:
        for companion in companions:
            if companion.poll() is None:
                companion.send_signal(signal.SIGINT)
            companion.wait()
    sys.exit(status)


@main.command("mlflow-ui")
@click.option("--port", default=5000, show_default=True)
def mlflow_ui(port: int) -> None:
    """Serve the MLflow UI (runs, metrics, registered models) on the platform's tracking store."""
    database.prepare(start=True)
    click.echo(f"MLflow UI: http://127.0.0.1:{port}")
    mlflow = Path(sys.executable).parent / "mlflow"
    sys.exit(
        _run_foreground(
            [
                str(mlflow),
                "ui",
                "--backend-store-uri",
                os.environ["GMP_MLFLOW_TRACKING_URI"],
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
        )
    )


@main.command("demo")
@click.option("--projects", "n_projects", default=6, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--no-ui",
    is_flag=True,
    default=lambda: os.environ.get("GMP_DEMO_NO_UI") == "1",
    help="Stop after the run instead of serving the Dagster UI (or GMP_DEMO_NO_UI=1).",
)
@click.option("--port", default=3000, show_default=True)
@click.pass_context
def demo(ctx: click.Context, n_projects: int, seed: int, no_ui: bool, port: int) -> None:
    """Start the database, write demo data, run the whole pipeline, then serve the Dagster UI and the
    forecast hub (its demo token: GMP_STATE_DIR/hub-token)."""
    database.prepare(start=True)
    inbox = settings.state_dir() / "inbox"
    ctx.invoke(demo_data, n_projects=n_projects, seed=seed, out_dir=inbox, as_of=None)
    from gmp_assets.definitions import defs
    from gmp_assets.orchestration.runner import ingest_inbox, run_models

    progress = _progress
    outcomes = ingest_inbox(defs, inbox, progress=progress)
    _print_outcomes(outcomes)
    summary = run_models(defs, outcomes, progress=progress)
    _print_models(summary)
    if not summary.backtested:
        progress("backtest: completed projects at 25/50/75% elapsed, model vs the formulas")
    ctx.invoke(backtest, json_file=settings.state_dir() / "backtest-summary.json", reuse=summary.backtested)
    click.echo(
        f"\nData: PostgreSQL {db_roles.redacted(database.main_url(start=False))} (schemas raw, taxonomy, analytics, ml)"
    )
    click.echo(
        "Forecasts: gmp forecasts export --out forecasts.csv (--totals: per project)   |   review queue:"
        " gmp mappings list --pending"
    )
    click.echo(
        "dbt docs: gmp docs   |   MLflow UI: gmp mlflow-ui   |   Dagster UI: gmp ui   |   forecast hub: gmp serve"
    )
    from gmp_assets.hub.cli import hub_lines

    for line in hub_lines(8000):
        click.echo(line)
    if not all(o.ok for o in outcomes) or summary.errors:
        sys.exit(1)
    if not no_ui:
        ctx.invoke(ui, port=port, all_uis=True, docs_port=8580, mlflow_port=5000, hub_port=8000)


if __name__ == "__main__":
    main()
