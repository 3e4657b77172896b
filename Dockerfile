# The code location image: gmp_assets + dbt project; also runs the webserver, the daemon and MLflow.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/gmp/dagster_home GMP_STATE_DIR=/var/lib/gmp \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true DAGSTER_EVENT_BATCH_SIZE=1000
WORKDIR /opt/gmp

COPY pyproject.toml requirements.lock README.md ./
COPY gmp_assets ./gmp_assets
RUN pip install -c requirements.lock -e .

COPY dbt_project ./dbt_project
COPY dagster_home/dagster.yaml ./dagster_home/dagster.yaml
COPY workspace.yaml ./
COPY deploy ./deploy
# The dbt manifest is built into the image, with the fingerprint of the sources it was parsed from,
# so no process of the container parses again (parsing needs the profile variables, not a server).
RUN python -c "from gmp_assets.canonical.project import ensure_manifest; ensure_manifest(force=True)"

EXPOSE 4000
# `gmp exec` prepares the databases and exports the runtime variables, then runs the command.
ENTRYPOINT ["gmp", "exec", "--"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "gmp_assets.definitions"]
