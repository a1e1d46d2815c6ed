"""The `liia` command for people who do not use the Dagster UI."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipelines.quarters import QuarterError, parse_quarter


def _quarter(text: str):
    try:
        return parse_quarter(text)
    except QuarterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_template(args) -> int:
    from pipelines.template import build_template

    args.out.parent.mkdir(parents=True, exist_ok=True)
    build_template(args.quarter).save(args.out)
    print(f"Wrote the {args.quarter.label} return template to {args.out}")
    return 0


def quarters_with_returns(inbox: Path) -> list:
    from pipelines.returns import read_return
    from pipelines.submissions import folder_quarter, inbox_files

    found = set()
    for path in inbox_files(inbox):
        quarter = folder_quarter(path.relative_to(inbox)) or read_return(path).quarter
        if quarter is not None:
            found.add(quarter)
    return sorted(found)


def cmd_run(args) -> int:
    import dagster as dg

    from pipelines.definitions import all_assets
    from pipelines.defs.partitions import quarter_partitions
    from pipelines.defs.resources import default_resources

    resources = default_resources()
    inbox = Path(resources["paths"].inbox)
    quarters = quarters_with_returns(inbox) if args.all else [args.quarter]
    known = set(quarter_partitions.get_partition_keys())
    started = time.perf_counter()
    for quarter in quarters:
        if quarter.key not in known:
            print(f"{quarter.label}: not a quarter this pipeline runs yet; skipped")
            continue
        t = time.perf_counter()
        result = dg.materialize(
            all_assets,
            partition_key=quarter.key,
            resources=resources,
            raise_on_error=False,
        )
        if not result.success:
            print(f"{quarter.label}: the run failed; see the error above", file=sys.stderr)
            return 1
        subs = result.output_for_node("validated_returns")["submissions"]
        counts = subs["status"].value_counts()
        print(
            f"{quarter.label}: {len(subs)} files, {counts.get('accepted', 0)} accepted, "
            f"{counts.get('accepted with value errors', 0)} with value errors, "
            f"{counts.get('rejected', 0)} rejected, {counts.get('superseded', 0)} superseded ({time.perf_counter() - t:.1f} s)"
        )
    print(
        f"Done in {time.perf_counter() - started:.1f} s. Warehouse for analysts (open it read-only): "
        f"{resources['paths'].warehouse}; workbooks: {resources['paths'].reports}/<quarter>/, download page: "
        f"{resources['paths'].reports}/index.html"
    )
    return 0


def cmd_validate(args) -> int:
    import pandas as pd

    from pipelines.catalogue import load_authorities, load_catalogue
    from pipelines.feedback import feedback_path, feedback_rows, write_feedback
    from pipelines.returns import RETURN_SUFFIXES
    from pipelines.settlement import settle_quarter
    from pipelines.submissions import check_files

    files = []
    for path in args.paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in RETURN_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            print(f"{path}: no such file", file=sys.stderr)
            return 2
    catalogue, authorities = load_catalogue(), load_authorities()
    measures = catalogue.items.set_index("ref")["measure"]
    unreadable = errors = 0
    no_previous = pd.DataFrame(columns=["authority", "ref", "value"])
    settled: dict[str, pd.DataFrame] = {}
    compared = False
    checked = sorted(check_files(files), key=lambda c: (c[0] is None, c[0] or 0))
    for quarter, subs, values, structure in checked:
        previous = settled.get(quarter.previous().key, no_previous) if quarter else no_previous
        compared |= not previous.empty
        subs, values, issues = settle_quarter(
            subs, values, structure, previous, catalogue, quarter.q if quarter else 1
        )
        if quarter:
            settled[quarter.key] = values[values["is_current"] & (values["status"] == "ok")]
        for sub in subs.itertuples():
            mine = issues[issues["submission_id"] == sub.submission_id]
            rows = feedback_rows(subs[subs["submission_id"] == sub.submission_id], mine, measures)
            status = (
                "rejected" if sub.status == "rejected" else "accepted" if rows.empty else sub.status
            )
            print(f"{sub.file_name}: {status}")
            for r in rows.itertuples(index=False):
                where = "!".join(x for x in (r[2], r[3]) if x)
                print(
                    f"  {r[0]}: {where + ' ' if where else ''}{r[4] + ' ' if r[4] else ''}{r[7]} {r[8]}"
                )
            unreadable += any("could not be opened" in p for p in mine["problem"])
            errors += int((mine["severity"] == "error").sum())
            if args.feedback:
                name = (
                    authorities.name(sub.authority) if sub.authority else Path(sub.file_name).stem
                )
                target = (
                    feedback_path(args.feedback, quarter, name)
                    if quarter
                    else args.feedback / f"{name}.xlsx"
                )
                write_feedback(
                    target,
                    name,
                    quarter.label if quarter else "quarter not given",
                    subs[subs["submission_id"] == sub.submission_id],
                    rows,
                )
                print(f"  feedback written to {target}")
    if compared:
        print("Compared with your previous quarter's return given here.")
    else:
        print(
            "Not compared with your previous quarter: give that quarter's return too "
            "(liia validate LAST_QUARTER.xlsx THIS_QUARTER.xlsx) to check the change."
        )
    print(
        "Not checked here: comparison with other authorities (the London distribution), "
        "which needs their data; it runs when the return is submitted."
    )
    return 2 if unreadable else 1 if errors else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="liia", description="LIIA quarterly benchmarking pipeline"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("template", help="write the blank return template for a quarter")
    p.add_argument("--quarter", type=_quarter, required=True, help="e.g. 2026-27-Q3")
    p.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    p.set_defaults(func=cmd_template)
    p = sub.add_parser("run", help="run the pipeline in-process")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--quarter", type=_quarter, help="one quarter, e.g. 2026-27-Q2")
    which.add_argument("--all", action="store_true", help="every quarter with returns in the inbox")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("validate", help="check returns before sending them (offline)")
    p.add_argument("paths", type=Path, nargs="+", help="return files or folders")
    p.add_argument(
        "--feedback", type=Path, help="also write the feedback workbook under this folder"
    )
    p.set_defaults(func=cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
