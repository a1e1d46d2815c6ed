"""Reports: the quarter's workbooks, each authority's feedback and the pages, written into the
staging copy."""

import shutil
import time
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.collection.catalogue import THEMES, load_authorities, load_catalogue
from pipelines.collection.quarters import Quarter
from pipelines.defs.assets.benchmarks import published_figures
from pipelines.defs.assets.quarterly import (
    FOR_THE_AUTHORITY,
    QUARTERLY,
    report,
    run_id_of,
    step_quarter,
)
from pipelines.defs.assets.release import public_release
from pipelines.defs.resources import LiiaPaths, ledger_path, working_db
from pipelines.receive.ledger import waiting
from pipelines.release.open_data import write_ees
from pipelines.release.public_edition import (
    public_csv_rows,
    releases_of,
    write_public_csv,
)
from pipelines.release.timing import (
    ReleaseSettings,
    release_facts,
    waiting_text,
)
from pipelines.validate.feedback import feedback_path, feedback_rows
from pipelines.write import staging
from pipelines.write.download_page import write_download_pages
from pipelines.write.feedback_workbook import write_feedback
from pipelines.write.figures import public_figures, quarter_figures
from pipelines.write.workbooks import (
    PUBLIC,
    WriteFailure,
    ees_stem,
    in_parallel,
    public_csv_path,
    theme_workbook_path,
    write_quarter_workbooks,
)


@dg.asset(
    group_name="reports",
    deps=[public_release, published_figures],
    **QUARTERLY,
)
def benchmark_workbooks(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """Before release, the status workbook (reports/liia/<quarter key>/). Once released: one
    Excel workbook per theme (About, Summary, a sheet and chart per indicator, Trends,
    Definitions), RESTRICTED, and a pack for each authority, in reports/members/<quarter key>/
    (each pack copied to its authority's folder); the publishable edition of each theme and the
    CSV of every published figure, from the stored release, in reports/public/<quarter key>/.
    A quarter with no accepted return gets none. Written into the run's staging copy of the
    reports, put in place by the run's last step."""
    reports = staging.begin(Path(paths.reports), run_id_of(context))
    authorities, catalogue = load_authorities(), load_catalogue()
    quarter = step_quarter(context)
    started = time.perf_counter()
    with working_db(duckdb) as con:
        figures, issues = quarter_figures(con, quarter)
        releases = releases_of(con, quarter)
        public = public_figures(con, figures) if releases else None
    if not figures.has_returns:
        report(context, quarter, "reports", "no accepted return yet: no workbooks")
        return dg.MaterializeResult(metadata={"workbooks": 0})
    facts = ()
    if releases:
        _keep_earlier_release(reports, quarter, releases[-1].number)
        facts = release_facts(ReleaseSettings.from_environment(), releases, quarter)
    pending = {w.quarter: w for w in waiting(ledger_path(duckdb))}.get(quarter)
    books = write_quarter_workbooks(
        reports,
        figures,
        issues,
        authorities,
        catalogue,
        public,
        release=facts,
        waiting=waiting_text((pending.figures_changed, pending.what), pending.due)
        if pending
        else "",
    )
    if public is not None:
        rows = public_csv_rows(public, authorities, catalogue, releases[-1].number)
        books["csv"] = [write_public_csv(public_csv_path(reports, quarter), rows)]
        # the same figures in DfE's open data standard, with its metadata file
        books["csv"] += write_ees(public_csv_path(reports, quarter).parent, ees_stem(quarter), rows)
        # beside each theme workbook, its figures as one tidy table, in the same edition
        restricted = public_csv_rows(figures, authorities, catalogue, releases[-1].number)
        for theme in THEMES:
            for publishable, edition in ((True, rows), (False, restricted)):
                path = theme_workbook_path(reports, quarter, theme, publishable).with_suffix(".csv")
                books["csv"].append(
                    write_public_csv(path, [r for r in edition if r["theme"] == theme])
                )
    failed = _failures(context, books)
    themes, packs = books["themes"], books["packs"]
    shown = [*themes, *books.get("csv", []), *books["status"]]
    live = Path(paths.reports)
    written = [
        live / Path(p).relative_to(reports) for p in shown if not isinstance(p, WriteFailure)
    ]
    where = "released" if releases else "not released yet"
    report(
        context,
        quarter,
        "reports",
        f"{len(themes)} theme workbooks, {len(packs)} packs and the status workbook for "
        f"{live}, put in place at the end of the run ({where}; "
        f"{time.perf_counter() - started:.1f} s)",
    )
    _fail_if_any(failed)
    return dg.MaterializeResult(
        metadata={
            "workbooks": dg.MetadataValue.md("\n".join(f"- `{p}`" for p in written)),
            "reports_folder": dg.MetadataValue.path(str(live)),
        }
    )


def _keep_earlier_release(reports: Path, quarter: Quarter, number: int) -> None:
    """Before a revision is written, the public files of the release before it are kept in
    public/<quarter>/release N/, where the public page links them."""
    folder = reports / PUBLIC / quarter.key
    kept = folder / f"release {number - 1}"
    if number < 2 or kept.exists() or not folder.exists():
        return
    partial = folder / f".release {number - 1}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith("."):
            shutil.copy2(path, partial / path.name)
    partial.rename(kept)


def _failures(context, written: dict[str, list] | list) -> list[WriteFailure]:
    """The files that could not be written (each logged); the rest were written."""
    results = (
        [r for kind in written.values() for r in kind] if isinstance(written, dict) else written
    )
    failed = [r for r in results if isinstance(r, WriteFailure)]
    for f in failed:
        context.log.error(f"{f.path} could not be written: {f.reason}")
    return failed


def _fail_if_any(failed: list[WriteFailure]) -> None:
    if failed:
        named = "; ".join(f"{Path(f.path).name} ({f.reason})" for f in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        raise dg.Failure(
            description=f"{len(failed)} file(s) could not be written; every other one was: "
            f"{named}{more}.",
            metadata={"not_written": "; ".join(f"{f.path}: {f.reason}" for f in failed[:20])},
        )


@dg.asset(group_name="reports", **QUARTERLY, **FOR_THE_AUTHORITY)
def feedback_workbooks(
    context: dg.AssetExecutionContext, validated_returns: dict, paths: LiiaPaths
) -> dg.MaterializeResult:
    """For each authority that sent a file: every error and warning with sheet and cell, or a
    receipt, in reports/authorities/<authority>/<quarter key>/. Files that name no authority go
    to reports/liia/unidentified/. One workbook that cannot be written costs no other."""
    authorities = load_authorities()
    measures = load_catalogue().items.set_index("ref")["measure"]
    quarter = step_quarter(context)
    submissions = validated_returns["submissions"]
    issues = validated_returns["issues"]
    calls = []
    for code, subs in submissions.groupby(submissions["authority"].fillna(""), sort=True):
        name = authorities.name(code) if code else "Unidentified"
        rows = feedback_rows(
            subs, issues[issues["submission_id"].isin(subs["submission_id"])], measures
        )
        path = feedback_path(Path(paths.reports), quarter, name)
        calls.append((write_feedback, (path, name, quarter.label, subs, rows), {}))
    results = in_parallel(calls)
    failed = _failures(context, results)
    _fail_if_any(failed)
    return dg.MaterializeResult(metadata={"feedback_workbooks": len(results) - len(failed)})


@dg.asset(
    group_name="reports",
    deps=[benchmark_workbooks, feedback_workbooks],
    **QUARTERLY,
)
def download_page(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, paths: LiiaPaths
) -> dg.MaterializeResult:
    """A page per audience, each linking only inside its own tree: reports/public/index.html (the
    open web), members/ (the 33 authorities), authorities/<name>/ (each authority alone) and
    liia/ (LIIA's team). Static, so they open from disk or any web server."""
    step_quarter(context)  # tags the run with this process
    reports = staging.begin(Path(paths.reports), run_id_of(context))
    with working_db(duckdb) as con:
        pages = write_download_pages(
            reports, con, load_authorities(), load_catalogue(), waiting(ledger_path(duckdb))
        )
    live = {name: Path(paths.reports) / path.relative_to(reports) for name, path in pages.items()}
    return dg.MaterializeResult(
        metadata={
            "public_page": dg.MetadataValue.path(str(live["public"])),
            "members_page": dg.MetadataValue.path(str(live["members"])),
            "liia_page": dg.MetadataValue.path(str(live["liia"])),
            "pages": len(pages),
        }
    )
