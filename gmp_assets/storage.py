"""Where asset outputs passed between steps (the pickled ``ml/training_dataset``) are stored.

With ``GMP_S3_BUCKET`` set (the compose deployment, a cloud deployment) they go to S3 through
dagster-aws, so every container and run worker reads the same objects; otherwise they stay on the
local disk in the Dagster instance's storage directory (``$GMP_DAGSTER_STORAGE_DIR``, under the
state dir). AWS credentials and the region are read by boto3 from the usual ``AWS_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

S3_BUCKET_VAR = "GMP_S3_BUCKET"
S3_PREFIX_VAR = "GMP_S3_PREFIX"
DEFAULT_S3_PREFIX = "dagster"
# The first one set wins: our own, boto3's standard one, then the one the MLflow server already uses.
S3_ENDPOINT_VARS = ("GMP_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL")


def s3_endpoint_url(env: Mapping[str, str] = os.environ) -> str | None:
    """The S3 endpoint (MinIO, moto...), or None for AWS's own."""
    return next((env[name] for name in S3_ENDPOINT_VARS if env.get(name)), None)


def io_manager(env: Mapping[str, str] = os.environ) -> dg.ConfigurableIOManager:
    """The code location's ``io_manager``: S3 pickles when ``GMP_S3_BUCKET`` is set, else local files."""
    bucket = env.get(S3_BUCKET_VAR)
    if not bucket:
        return dg.FilesystemIOManager()  # no base_dir: the instance's storage directory
    from dagster_aws.s3 import S3PickleIOManager, S3Resource

    return S3PickleIOManager(
        s3_resource=S3Resource(endpoint_url=s3_endpoint_url(env)),
        s3_bucket=bucket,
        s3_prefix=env.get(S3_PREFIX_VAR) or DEFAULT_S3_PREFIX,
    )
