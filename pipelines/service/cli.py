"""The `liia` command for people who do not use the Dagster UI."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from pipelines.collection.quarters import parse_quarter, quarter_argument

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cmd_template(args) -> int:
    from pipelines.write.template import build_template

    if args.out.is_dir():
        print(f"--out {args.out}: that is a folder; give the file to write", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    build_template(args.quarter, args.out)
    print(f"Wrote the {args.quarter.label} return template to {args.out}")
    return 0


def quarters_with_returns(inbox: Path, archive: Path) -> list:
    """Every quarter some file in the inbox belongs to."""
    from pipelines.receive.submissions import cover_quarters, received_files

    files = received_files(inbox, archive)
    covers = cover_quarters(files, archive)
    return sorted({f.quarter(covers[f.sha]) for f in files})


def quarter_out_of_range(quarter) -> str | None:
    """Why a quarter cannot be run: before the first one collected, or after the one under way."""
    from datetime import date

    from pipelines.collection.catalogue import load_catalogue
    from pipelines.collection.quarters import quarter_containing

    first, now = load_catalogue().first_quarter, quarter_containing(date.today())
    if quarter < first:
        return f"{quarter.label} is before the first quarter collected ({first.label})"
    if quarter > now:
        return f"{quarter.label} has not begun (the quarter under way is {now.label})"
    return None


class _Progress(logging.Handler):
    """The run's progress, one line per quarter and stage, instead of Dagster's debug log."""

    def emit(self, record: logging.LogRecord) -> None:
        quarter = getattr(record, "quarter", "")
        stage = getattr(record, "stage", "")
        print(f"  {quarter:<11} {stage:<11} {record.getMessage()}", flush=True)


QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def cmd_run(args) -> int:
    import warnings

    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)

    from pipelines.defs.resources import default_resources, one_run_at_a_time

    if not args.all and (problem := quarter_out_of_range(args.quarter)):
        print(f"liia {args.command}: {problem}", file=sys.stderr)
        return 2
    resources = default_resources()
    paths = resources["paths"]
    quarters = (
        quarters_with_returns(Path(paths.inbox), Path(paths.archive))
        if args.all
        else [args.quarter]
    )
    if not quarters:
        print(f"No returns to run in {paths.inbox}.")
        return 1
    with one_run_at_a_time(
        resources["duckdb"],
        lambda: print("Waiting for another run of the pipeline to finish...", flush=True),
    ):
        return _run_quarters(quarters, resources, getattr(args, "tags", {}))


def _run_quarters(quarters: list, resources: dict, tags: dict) -> int:
    import dagster as dg

    from pipelines.collection.catalogue import load_authorities
    from pipelines.definitions import all_assets
    from pipelines.defs.instance import cli_run_tags, project_instance, release_abandoned_runs
    from pipelines.defs.partitions import open_quarters
    from pipelines.validate.settlement import NOT_USED, completeness_text

    paths = resources["paths"]
    instance = project_instance()
    for run_id in release_abandoned_runs(instance):
        print(f"Marked run {run_id} failed: the liia run that made it was killed.")
    open_quarters(instance, quarters)
    progress = logging.getLogger("liia.progress")
    handler = _Progress()
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False
    authorities = load_authorities()
    started = time.perf_counter()
    summary = []
    try:
        for quarter in sorted(quarters):
            print(f"Running {quarter.label}")
            result = dg.materialize(
                all_assets,
                instance=instance,
                partition_key=quarter.label,
                resources=resources,
                run_config=QUIET,
                raise_on_error=False,
                tags={**cli_run_tags(), **tags},
            )
            if not result.success:
                print(f"The run of {quarter.label} failed: {_failure(result)}", file=sys.stderr)
                _tell_the_data_lead(instance, quarter, result.run_id)
                return 1
            subs = result.output_for_node("validated_returns")["submissions"]
            files = f"{len(subs)} files, {int(subs['status'].isin(NOT_USED).sum())} rejected"
            text = completeness_text(subs, authorities)
            summary.append(f"  {quarter.label:<11} {files}; {text}")
    finally:
        progress.removeHandler(handler)
    print(f"Done in {time.perf_counter() - started:.1f} s.")
    print("\n".join(summary))
    print(f"Warehouse for analysts (open it read-only): {paths.warehouse}")
    reports = Path(paths.reports)
    print(f"Public page (the open web): {reports / 'public' / 'index.html'}")
    print(f"Members' page (the 33 authorities): {reports / 'members' / 'index.html'}")
    print(f"Each authority's feedback and pack: {reports / 'authorities'}/<name>/")
    print(f"LIIA's team (status, release state): {reports / 'liia' / 'index.html'}")
    print(f"Run history (liia ui shows it): {instance.root_directory}")
    return 0


def cmd_release(args) -> int:
    """Release a quarter before its deadline: run it, tagged as the data lead's release."""
    from pipelines.release.timing import RELEASE_TAG

    args.all, args.tags = False, {RELEASE_TAG: "requested"}
    code = cmd_run(args)
    if code == 0:
        from pipelines.defs.resources import default_resources, working_db
        from pipelines.release.public_edition import release_summary

        with working_db(default_resources()["duckdb"]) as con:
            print(release_summary(con, args.quarter))
    return code


def _tell_the_data_lead(instance, quarter, run_id: str) -> None:
    """A run `liia run` or `liia release` started is watched like the daemon's: its failure is
    alerted (the failure sensor watches only the daemon's job)."""
    from pipelines.defs.runs import failure_of, local_time
    from pipelines.write.alerts import AlertSettings, failure_alert, send

    failure = failure_of(instance, run_id)
    alert = failure_alert(
        quarter.label,
        failure.step,
        failure.reason,
        local_time(time.time()),
        "it was started by `liia run` on the server: run it again once the cause is fixed.",
        run_id,
    )
    for outcome in send(alert, AlertSettings.from_environment()):
        print(f"  {outcome}", file=sys.stderr)


def _failure(result) -> str:
    """The first failed step and its error, in one line."""
    from pipelines.write.alerts import plain_reason

    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:  # the cause, not Dagster's wrapper
                error = error.cause
            message = plain_reason(error.message, 2000) if error else "unknown error"
            return f"{event.step_key}: {message}"
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            problems = evaluation.metadata.get("problems")
            return f"check {evaluation.check_name} failed: {problems.value if problems else ''}"
    return "see the Dagster UI (liia ui) for the run's log"


def cmd_status(args) -> int:
    import duckdb

    from pipelines.collection.catalogue import load_authorities
    from pipelines.defs.resources import default_resources
    from pipelines.receive.safe_text import safe_text
    from pipelines.validate.settlement import submission_tracker, unmatched_files, unmatched_text

    warehouse = Path(default_resources()["paths"].warehouse)
    if not warehouse.exists():
        print(f"No warehouse yet at {warehouse}: run `liia run --all` first.", file=sys.stderr)
        return 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        latest = con.execute(
            """SELECT coalesce((SELECT quarter FROM latest_quarter), max(quarter))
            FROM submissions"""
        ).fetchone()[0]
        key = args.quarter.key if args.quarter else latest
        subs = con.execute("SELECT * FROM submissions WHERE quarter = ?", [key]).df()
        issues = con.execute("SELECT * FROM validation_issues WHERE quarter = ?", [key]).df()
    if subs.empty:
        print(f"No returns for {key.replace('-Q', ' Q')} in {warehouse}.", file=sys.stderr)
        return 1
    authorities = load_authorities()
    tracker = submission_tracker(subs, issues, authorities, parse_quarter(key))
    accepted = int(tracker["Status"].str.startswith("accepted").sum())
    print(f"{key.replace('-Q', ' Q')}: {accepted} of {len(authorities.codes)} accepted")
    shown = tracker.drop(
        columns=["Date completed", "Template version", "Deadline", "Feedback", "First received"]
        + ["Contact"]
    )
    shown["Received"] = shown["Received"].dt.strftime("%d/%m/%Y %H:%M")
    print(_text_table(shown))
    if unmatched := unmatched_text(subs):
        print(f"\n{unmatched}:")
        for f in unmatched_files(subs).sort_values("file_name").itertuples():
            print(safe_text(f"  {f.relative_path}: {f.status}"))
    return 0


def _text_table(frame) -> str:
    """Text left-aligned, numbers right-aligned, blanks for nothing."""
    import pandas as pd

    from pipelines.receive.safe_text import safe_text

    numeric = {c for c in frame.columns if c in ("Errors", "Warnings", "Files", "Days late")}
    cells = [
        [
            ("" if pd.isna(v) else str(int(v)) if c in numeric else safe_text(v, 80))
            for c, v in row.items()
        ]
        for _, row in frame.iterrows()
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(frame.columns)]

    def line(values):
        return "  ".join(
            v.rjust(w) if c in numeric else v.ljust(w)
            for c, v, w in zip(frame.columns, values, widths, strict=True)
        ).rstrip()

    return "\n".join([line(list(frame.columns))] + [line(r) for r in cells])


STOP_SECONDS = 10  # how long the UI's processes are given to stop before they are killed


def _port_taken(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def cmd_instance(args) -> int:
    from pipelines.defs.instance import project_instance

    with project_instance() as instance:
        print(f"Dagster instance ready in {instance.root_directory}")
    return 0


def cmd_ui(args) -> int:
    import signal
    import subprocess

    if _port_taken(args.port):
        print(
            f"liia ui: port {args.port} on 127.0.0.1 is in use (another liia ui?); "
            "choose another with --port",
            file=sys.stderr,
        )
        return 2
    from pipelines.defs.instance import dagster_home, project_instance, release_abandoned_runs
    from pipelines.service.install import AlreadyRunning, hold_daemon_lock

    home = dagster_home()
    try:
        hold_daemon_lock(home)  # `dagster dev` starts a daemon of its own
    except AlreadyRunning as exc:
        print(f"liia ui: {exc}", file=sys.stderr)
        return 2
    release_abandoned_runs(project_instance())
    print(f"Dagster UI on http://127.0.0.1:{args.port} (run history in {home}); Ctrl-C stops it.")
    command = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions"]
    command += ["--host", "127.0.0.1", "--port", str(args.port)]
    command += ["--log-level", "warning", "--code-server-log-level", "warning"]
    # Its own session: Ctrl-C and SIGTERM reach this process, which stops the UI and waits for it.
    ui = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DAGSTER_HOME": str(home), "PYTHONWARNINGS": "ignore"},
        start_new_session=True,
    )

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        code = ui.wait()
        print("The Dagster UI stopped.", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        ui.send_signal(signal.SIGINT)  # dagster dev stops its webserver, daemon and code servers
        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and _group_alive(ui.pid):
            ui.poll()
            time.sleep(0.2)
        if _group_alive(ui.pid):
            os.killpg(ui.pid, signal.SIGKILL)
        ui.wait()
        print("Stopped.")
        return 0


def _group_alive(group: int) -> bool:

    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _validate_files(paths: list[Path]) -> tuple[list[Path], str | None]:
    """The files to check, or why there are none: folders give every file in them."""
    from pipelines.receive.submissions import inbox_files

    files = []
    for path in paths:
        if path.is_dir():
            found = inbox_files(path)
            if not found:
                return [], f"{path}: no files to check in this folder"
            files += found
        elif path.is_file():
            files.append(path)
        else:
            return [], f"{path}: no such file"
    return files, None


def cmd_validate(args) -> int:
    from pipelines.collection.catalogue import load_authorities
    from pipelines.receive.safe_text import safe_text
    from pipelines.receive.submissions import sha256_of
    from pipelines.validate.feedback import feedback_path
    from pipelines.validate.precheck import check_returns
    from pipelines.write.feedback_workbook import write_feedback

    if args.feedback and args.feedback.exists() and not args.feedback.is_dir():
        print(f"--feedback {args.feedback}: that is a file; give a folder", file=sys.stderr)
        return 2
    files, problem = _validate_files(args.paths)
    if problem:
        print(safe_text(problem), file=sys.stderr)
        return 2
    first_of: dict[str, Path] = {}
    for path in files:
        sha = sha256_of(path)
        if sha in first_of:
            print(safe_text(f"{path.name}: the same file as {first_of[sha].name}, checked once"))
        else:
            first_of[sha] = path
    authorities = load_authorities()
    answers, compared = check_returns(list(first_of.values()))
    for answer in answers:
        quarter = answer.quarter
        print(safe_text(f"{answer.file_name}: {answer.status}"))
        for r in answer.rows.itertuples(index=False):
            where = "!".join(x for x in (r[2], r[3]) if x)
            line = (
                f"  {r[0]}: {where + ' ' if where else ''}{r[4] + ' ' if r[4] else ''}{r[7]} {r[8]}"
            )
            print(safe_text(line, 2000))
        if args.feedback:
            name = (
                authorities.name(answer.authority)
                if answer.authority
                else Path(answer.file_name).stem
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
                answer.submission,
                answer.rows,
            )
            print(safe_text(f"  feedback written to {target}"))
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
    unreadable = sum(a.unreadable for a in answers)
    errors = sum(a.errors for a in answers)
    return 2 if unreadable else 1 if errors else 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from pipelines.service.cli_service import add_service_commands
    from pipelines.service.cli_web import add_web_commands

    parser = _Parser(prog="liia", description="LIIA quarterly benchmarking pipeline")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("template", help="write the blank return template for a quarter")
    p.add_argument("--quarter", type=quarter_argument, required=True, help="e.g. 2026-27-Q3")
    p.add_argument("--out", type=Path, required=True, help="the .xlsx file to write")
    p.set_defaults(func=cmd_template)
    p = sub.add_parser(
        "run",
        help="run the pipeline in-process, with progress per quarter and stage",
        description="Runs the pipeline in this process: a range of consecutive quarters is one "
        "run. Prints progress per quarter and stage and a summary at the end.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--quarter", type=quarter_argument, help="one quarter, e.g. 2026-27-Q2")
    which.add_argument("--all", action="store_true", help="every quarter with returns in the inbox")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser(
        "release",
        help="release a quarter before its deadline (the data lead's call)",
        description="Runs the quarter and releases it now: its benchmarks reach the packs, theme "
        "workbooks, pages and the public edition. A quarter is otherwise released by the first run "
        "at or after its return deadline.",
    )
    p.add_argument("--quarter", type=quarter_argument, required=True, help="e.g. 2026-27-Q3")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser(
        "status",
        help="print the submission tracker for a quarter",
        description="Every authority's current return, its status, errors and warnings, from the "
        "analysts' warehouse (read-only).",
    )
    p.add_argument("--quarter", type=quarter_argument, help="e.g. 2026-27-Q2 (default: the latest)")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("validate", help="check returns before sending them (offline)")
    p.add_argument("paths", type=Path, nargs="+", help="return files or folders")
    p.add_argument(
        "--feedback", type=Path, help="also write the feedback workbook under this folder"
    )
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser(
        "ui",
        help="start the Dagster UI on localhost, run history kept between starts",
        description="Starts `dagster dev` bound to 127.0.0.1 with DAGSTER_HOME=.dagster_home "
        "(or $DAGSTER_HOME), so runs, schedules and sensors are kept between starts.",
    )
    p.add_argument("--port", type=int, default=3000, help="default 3000")
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser(
        "instance",
        help="create the Dagster instance's storage in DAGSTER_HOME if it is new",
        description="Creates the run, event and schedule storage in DAGSTER_HOME (.dagster_home "
        "unless set), one process at a time. The service units run it before starting, so the "
        "daemon and the webserver never both create it.",
    )
    p.set_defaults(func=cmd_instance)
    add_service_commands(sub)
    add_web_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipelines.collection.places import load_environment_file
    from pipelines.service.install import missing_environment_file

    args = build_parser().parse_args(argv)
    load_environment_file()  # the service's own, so a command acts on the service's folders
    named = missing_environment_file()
    if named is not None and args.command not in ("install", "validate", "template"):
        print(
            f"liia {args.command}: the service's environment file {named} "
            "(LIIA_ENVIRONMENT_FILE) is missing, so this command would act on the checkout's own "
            "folders, not the service's. Restore it from the backup, or run `liia install`.",
            file=sys.stderr,
        )
        return 2
    try:
        return args.func(args)
    except BrokenPipeError:  # the reader went away (`liia validate ... | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130
    except Exception as exc:  # a person sees one line; the Dagster UI keeps the detail
        from pipelines.receive.safe_text import safe_text

        print(safe_text(f"liia {args.command}: {type(exc).__name__}: {exc}", 2000), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
