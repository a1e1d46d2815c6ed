"""Release: what the public may see of the quarter, chosen and audited."""

import time

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.defs.assets.benchmarks import benchmarks
from pipelines.defs.assets.quarterly import (
    QUARTERLY,
    metadata_table,
    report,
    step_quarter,
)
from pipelines.defs.resources import ledger_path, working_db
from pipelines.receive.ledger import clear_waiting, record_waiting
from pipelines.release.public_edition import (
    make_release,
    release_summary,
)
from pipelines.release.timing import (
    RELEASE_TAG,
    RevisionRhythm,
    run_moment,
    waiting_text,
)


@dg.asset(group_name="release", deps=[benchmarks], **QUARTERLY)
def public_release(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """What each audience may see of the quarter, decided once and stored: the quarter is released
    by the first run at or after its deadline (or earlier by `liia release`), and re-released as a
    revision when its published figures change. Each release stores the public edition (values as
    shown, c where suppressed) beside the restricted figures, and its disclosure audit."""
    quarter = step_quarter(context)
    tags = context.run.tags if context.run else {}
    now, requested = run_moment(tags), tags.get(RELEASE_TAG) == "requested"
    rhythm = RevisionRhythm.from_environment()
    revise = tags.get(RELEASE_TAG) == "revision" or rhythm.mode == "at once"
    catalogue, authorities = load_catalogue(), load_authorities()
    started = time.perf_counter()
    with working_db(duckdb) as con:
        release, edition, pending = make_release(
            con, quarter, now, requested, catalogue, authorities, revise
        )
        summary = release_summary(con, quarter)
    ledger = ledger_path(duckdb)
    if pending:
        due = rhythm.next_moment(quarter, now)
        record_waiting(ledger, quarter, now, due, *pending)
        summary += f"; waiting for the next revision ({waiting_text(pending, due)})"
    elif release is not None or edition is not None:
        clear_waiting(ledger, quarter)  # published, or nothing differs any more
    metadata = {"release": dg.MetadataValue.text(summary)}
    if edition is not None:
        counts = edition.counts(catalogue)
        protected = sum(f.protected for f in edition.findings)
        metadata |= {
            "suppressions": metadata_table(
                counts[counts[["primary", "complementary", "group_figures"]].sum(axis=1) > 0]
            ),
            "audit": f"{protected} of {len(edition.findings)} small counts protected",
        }
    report(context, quarter, "release", f"{summary} ({time.perf_counter() - started:.1f} s)")
    return dg.MaterializeResult(metadata=metadata)
