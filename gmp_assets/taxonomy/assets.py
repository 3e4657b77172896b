"""Taxonomy assets: each project's division names mapped to canonical CSI trades."""

import json
from collections import Counter

import dagster as dg

from gmp_assets.catalog import (
    DB_RETRY,
    MANUAL_TRADE_MAPPINGS,
    PROJECT_QUALITY,
    RAW_KEYS,
    TRADE_MAPPINGS,
    project_partitions,
    validate_project_key,
)
from gmp_assets.resources import PostgresResource
from gmp_assets.taxonomy import store
from gmp_assets.taxonomy.mapping import TradeMapper
from gmp_assets.taxonomy.names import shown_name
from gmp_assets.taxonomy.quality import QualityInputs, quality_score

# Confirmations made with `gmp mappings confirm` are reported as materializations of this
# external asset, so Dagster shows the project's mappings and canonical tables as stale.
manual_trade_mappings = dg.AssetSpec(
    MANUAL_TRADE_MAPPINGS,
    description="Mappings confirmed by a person (`gmp mappings confirm` / CSV import); they win over automatic ones.",
    group_name="taxonomy",
    partitions_def=project_partitions,
    kinds={"postgres"},
)

_QUALITY_SQL = """
WITH m AS (SELECT raw_division_name, canonical_code FROM taxonomy.trade_mappings WHERE project_key = %(p)s),
budgeted AS (
    SELECT DISTINCT m.canonical_code FROM raw.gmp_breakdown g JOIN m ON m.raw_division_name = g.division
    WHERE g.project_key = %(p)s AND m.canonical_code IS NOT NULL
)
SELECT
    coalesce((SELECT sum(rows_in) FROM raw.source_files WHERE project_key = %(p)s AND kind <> 'project'), 0),
    coalesce((SELECT sum(rows_loaded) FROM raw.source_files WHERE project_key = %(p)s AND kind <> 'project'), 0),
    coalesce(sum(abs(d.amount_cents)), 0),
    coalesce(sum(abs(d.amount_cents)) FILTER (WHERE m.canonical_code IS NOT NULL), 0),
    coalesce(sum(abs(d.amount_cents)) FILTER (WHERE m.canonical_code IN (SELECT canonical_code FROM budgeted)), 0),
    (SELECT count(*) FROM raw.schedule_progress WHERE project_key = %(p)s)
FROM raw.direct_costs d LEFT JOIN m ON m.raw_division_name = d.division
WHERE d.project_key = %(p)s
"""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            TRADE_MAPPINGS,
            description="Raw division name -> canonical CSI division per project, with method, confidence and the"
            " five best candidates (manual > CSI prefix > fuzzy > pending review).",
            group_name="taxonomy",
            deps=[
                *(RAW_KEYS[k] for k in ("gmp_breakdown", "direct_costs", "schedule", "commitments", "change_orders")),
                manual_trade_mappings.key,
            ],
            kinds={"postgres", "python"},
        ),
        dg.AssetSpec(
            PROJECT_QUALITY,
            description="Data quality score per project (0-1): load rate, mapped names and cost, budget coverage,"
            " schedule presence.",
            group_name="taxonomy",
            deps=[RAW_KEYS["source_files"], TRADE_MAPPINGS],
            kinds={"postgres", "python"},
        ),
    ],
    partitions_def=project_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    retry_policy=DB_RETRY,
)
def project_trade_mapping(context: dg.AssetExecutionContext, postgres: PostgresResource):
    """Map every division name of the run's projects and score each project's data quality."""
    mapper = TradeMapper()
    for project_key in context.partition_keys:
        mapping, quality = _map_project(postgres, mapper, validate_project_key(project_key))
        context.add_asset_metadata(mapping, asset_key=TRADE_MAPPINGS, partition_key=project_key)
        context.add_asset_metadata(quality, asset_key=PROJECT_QUALITY, partition_key=project_key)
    yield dg.MaterializeResult(asset_key=TRADE_MAPPINGS)
    yield dg.MaterializeResult(asset_key=PROJECT_QUALITY)


def _map_project(postgres: PostgresResource, mapper: TradeMapper, project_key: str) -> tuple[dict, dict]:
    """Map the project's division names and score its data quality (one transaction); the metadata of
    its trade mappings and of its quality score."""
    with postgres.connect() as conn:
        names = store.raw_division_names(conn, project_key)
        mappings = mapper.map_names(names, confirmed=store.confirmed_mappings(conn, project_key))
        store.replace_mappings(conn, project_key, mappings)
        with conn.cursor() as cur:
            cur.execute(_QUALITY_SQL, {"p": project_key})
            rows_in, rows_loaded, cost_abs, mapped_abs, budgeted_abs, schedule_rows = cur.fetchone()
            mapped = sum(1 for m in mappings if m.canonical_code)
            score, details = quality_score(
                QualityInputs(
                    int(rows_in),
                    int(rows_loaded),
                    len(mappings),
                    mapped,
                    int(cost_abs),
                    int(mapped_abs),
                    int(budgeted_abs),
                    int(schedule_rows),
                )
            )
            cur.execute(
                """
                INSERT INTO raw.project_quality (project_key, score, components) VALUES (%s, %s, %s::jsonb)
                ON CONFLICT (project_key) DO UPDATE
                SET score = EXCLUDED.score, components = EXCLUDED.components, computed_at = now()
                WHERE (project_quality.score, project_quality.components)
                      IS DISTINCT FROM (EXCLUDED.score, EXCLUDED.components)
                """,
                (project_key, score, json.dumps(details)),
            )
    methods = Counter(m.method for m in mappings)
    pending = [m for m in mappings if m.method == "pending"]
    review_queue = "\n".join(
        ["| raw division name | best candidates |", "|---|---|"]
        + [
            f"| {shown_name(m.raw_division_name)} | {', '.join(f'{c.code} {c.name} ({c.score:.0f})' for c in m.candidates[:3])} |"
            for m in pending
        ]
    )
    return (
        {
            "distinct_names": len(mappings),
            "mapped": mapped,
            "pending_review": len(pending),
            **{f"method_{k}": v for k, v in sorted(methods.items())},
            "review_queue": dg.MetadataValue.md(review_queue if pending else "Nothing to review."),
        },
        {
            "quality_score": dg.MetadataValue.float(score),
            **{k: float(v) for k, v in details["components"].items()},
        },
    )
