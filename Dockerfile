# The code location image: gmp_assets + dbt project; also runs the webserver, the daemon and MLflow.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 DAGSTER_HOME=/opt/gmp/dagster_home GMP_STATE_DIR=/var/lib/gmp
WORKDIR /opt/gmp

COPY pyproject.toml requirements.lock README.md ./
COPY gmp_assets ./gmp_assets
RUN pip install -c requirements.lock -e .

COPY dbt_project ./dbt_project
COPY dagster_home/dagster.yaml ./dagster_home/dagster.yaml
COPY workspace.yaml ./
COPY deploy ./deploy
# The dbt manifest is built into the image; parsing needs the profile variables, not a server.
RUN GMP_PG_HOST=localhost GMP_PG_PORT=5432 GMP_PG_USER=x GMP_PG_DATABASE=x \
    dbt parse --project-dir dbt_project --profiles-dir dbt_project

EXPOSE 4000
# `gmp exec` prepares the databases and exports the runtime variables, then runs the command.
ENTRYPOINT ["gmp", "exec", "--"]
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "gmp_assets.definitions"]
