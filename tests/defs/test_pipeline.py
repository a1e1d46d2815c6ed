import shutil
import subprocess
import sys

import dagster as dg
import duckdb
import pytest
from openpyxl import load_workbook

from pipelines.collection.catalogue import (
    evaluate_formula,
    formula_refs,
    load_authorities,
    load_catalogue,
)
from pipelines.collection.quarters import parse_quarter
from pipelines.definitions import defs
from pipelines.receive.returns import read_return
from pipelines.write.template import write_template
from tests.conftest import (
    PROJECT,
    SAMPLE,
    SIX,
    check_evaluation,
    run_quarter,
    validated,
)


def _validate(tmp_path, inbox, quarter):
    """Only as far as validation: what a test of how a file is judged needs."""
    return run_quarter(
        tmp_path, inbox, quarter, selection=["received_returns", "validated_returns"]
    )


def test_definitions_load_with_quarters_that_appear_by_themselves():
    assert defs.resolve_asset_graph().get_all_asset_keys()
    partitions = defs.get_assets_def("benchmarks").partitions_def
    assert isinstance(partitions, dg.DynamicPartitionsDefinition) and partitions.name == "quarters"


def test_one_quarter_runs_end_to_end(latest_quarter_run):
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    statuses = dict(
        con.execute(
            "SELECT authority, status FROM submissions WHERE quarter = '2026-27-Q2' AND is_current"
        ).fetchall()
    )
    assert len(statuses) == 30  # 33 less two not returned and Lewisham's rejected cover
    assert statuses["BRE"] == "accepted with value errors" and statuses["EAL"] == "accepted"
    per_indicator = con.execute(
        "SELECT count(*) FROM benchmarks WHERE quarter = '2026-27-Q2' GROUP BY indicator_id"
    ).fetchall()
    assert {n for (n,) in per_indicator} == {33}
    reports = latest_quarter_run / "reports"
    assert len(list((reports / "members" / "2026-27-Q2").glob("LIIA * benchmarks *.xlsx"))) == 4
    # four workbooks, each with its CSV beside it, and the CSV of every published figure
    assert len(list((reports / "public" / "2026-27-Q2").glob("LIIA * publishable.xlsx"))) == 4
    assert len(list((reports / "public" / "2026-27-Q2").glob("LIIA * publishable.csv"))) == 5
    assert len(list((reports / "members" / "2026-27-Q2").glob("LIIA * benchmarks *.csv"))) == 4
    assert (reports / "liia" / "2026-27-Q2" / "LIIA return status 2026-27-Q2.xlsx").exists()


def test_london_figure_is_a_ratio_of_sums(latest_quarter_run):
    """Every indicator's London value, worked out again from the returns in pandas: the formula
    over the summed items of the authorities reporting all of them, the joint pair once."""
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    catalogue, authorities = load_catalogue(), load_authorities()
    values = con.execute(
        """SELECT authority, ref, value FROM return_values
           WHERE quarter = '2026-27-Q2' AND is_current AND status = 'ok'"""
    ).df()
    wide = values.pivot(index="authority", columns="ref", values="value")
    population = authorities.table.set_index("liia_code")["population_0_17"]
    wide["population_0_17"] = population.reindex(wide.index).astype(float)
    london = dict(
        con.execute(
            """SELECT DISTINCT indicator_id, london_value FROM benchmarks
               WHERE quarter = '2026-27-Q2'"""
        ).fetchall()
    )
    for row in catalogue.indicators.itertuples():
        units = wide
        if row.theme == "workforce":  # Kingston and Richmond each send the pair's figures
            units = wide.drop(index="RUT")
        reporting = units[formula_refs(row.formula)].dropna()
        expected = evaluate_formula(row.formula, reporting.sum().to_dict())
        assert london[row.id] == pytest.approx(expected), row.id
    units = con.execute(
        """SELECT DISTINCT reporting_unit, n_units FROM benchmarks
           WHERE quarter = '2026-27-Q2' AND indicator_id = 'WF-I01' AND authority IN ('KUT', 'RUT')"""
    ).fetchall()
    assert units == [("KUT+RUT", 32)]


def test_filled_template_is_accepted(tmp_path):
    sample = read_return(SAMPLE / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx")
    values = dict(zip(sample.values["ref"], sample.values["raw"], strict=True))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_template(
        inbox / "barnet.xlsx", parse_quarter("2026-27 Q1"), values, {"Local authority": "Barnet"}
    )
    result = _validate(tmp_path, inbox, "2026-27-Q1")
    subs = validated(result)["submissions"]
    assert list(subs["status"]) == ["accepted"]
    issues = validated(result)["issues"]
    assert (issues["severity"] != "error").all()


def test_template_command_writes_the_quarter_template(tmp_path):
    out = tmp_path / "template.xlsx"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.service.cli",
            "template",
            "--quarter",
            "2026-27-Q3",
            "--out",
            str(out),
        ],
        check=True,
        cwd=PROJECT,
    )
    wb = load_workbook(out)
    assert wb.sheetnames[:5] == ["Cover", "Finance", "Adolescents", "Workforce", "SEND"]
    assert wb["Cover"]["B4"].value == "2026-27 Q3" and wb["Cover"]["B5"].value == 2
    ws = wb["Workforce"]
    assert (
        ws["A5"].value == "Ref"
        and ws["D6"].protection.locked is False
        and ws["B6"].protection.locked
    )
    assert ws.data_validations.dataValidation
    parsed = read_return(out)
    assert set(parsed.values["ref"]) >= {"WF12", "SEN08"}


def test_bad_quarter_argument_is_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.service.cli",
            "template",
            "--quarter",
            "Q3",
            "--out",
            "x.xlsx",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_inbox_files_are_never_changed(six_region_run):
    # The session's run of two quarters from one inbox: every file as it was sent, and archived.
    inbox = six_region_run / "region" / "inbox"
    sent = sorted(p for p in inbox.rglob("*") if p.is_file())
    assert len(sent) == 2 * len(SIX)
    for path in sent:
        assert path.read_bytes() == (SAMPLE / path.relative_to(inbox)).read_bytes(), path
    assert len(list((six_region_run / "archive").rglob("*.xlsx"))) == len(sent)


def _feedback_issues(reports, quarter) -> dict[str, list[tuple]]:
    out = {}
    for path in [
        *(reports / "authorities").glob(f"*/{quarter}/LIIA feedback*.xlsx"),
        *(reports / "liia" / "unidentified").glob(f"{quarter}/*.xlsx"),
    ]:
        wb = load_workbook(path)
        rows = []
        if "Issues" in wb.sheetnames:
            ws = wb["Issues"]
            rows = [[c.value for c in r] for r in ws[ws.tables["Issues"].ref]][1:]
        out[path.stem.split(f"{quarter} ", 1)[1]] = [(r[0], r[2], r[3], r[4]) for r in rows]
    return out


def test_deliberate_problems_reach_only_their_authority(latest_quarter_run):
    reports = latest_quarter_run / "reports"
    q2 = _feedback_issues(reports, "2026-27-Q2")
    assert q2["Brent"] == [("error", "Finance", "D11", "FIN06")]
    assert q2["Ealing"] == [("error", "Adolescents", "D9", "ADO04")]
    assert q2["Lewisham"] == [("error", "Cover", "B4", None)]
    # Sutton's jump is both 3.7 times its previous quarter and far above the London distribution
    assert q2["Sutton"] == [("warning", "Workforce", "D14", "WF09")] * 2
    assert ("error", "Adolescents", "D13", "ADO08") in _feedback_issues(reports, "2026-27-Q1")[
        "Harrow"
    ]
    others = {k: v for k, v in q2.items() if k not in {"Brent", "Ealing", "Lewisham", "Sutton"}}
    assert len(others) == 31 - 4 and not any(others.values())  # receipts only
    receipt = load_workbook(
        reports / "authorities" / "Barnet" / "2026-27-Q2" / "LIIA feedback 2026-27-Q2 Barnet.xlsx"
    )
    assert any("accepted" in str(c.value) for c in receipt["Summary"]["A"])
    ealing = load_workbook(
        reports / "authorities" / "Ealing" / "2026-27-Q2" / "LIIA feedback 2026-27-Q2 Ealing.xlsx"
    )
    summary = [c.value for c in ealing["Summary"]["A"] if c.value]
    # the negative is in the first file; the resubmission replaced it, so nothing is left to fix
    assert any("since replaced" in line for line in summary)
    assert not any("to fix" in line for line in summary)
    assert any("resubmitted.xlsx: accepted (the return used" in line for line in summary)


@pytest.mark.parametrize(
    "file, code, words",
    [
        ("2026-27-Q2/Barnet LIIA return 2026-27 Q2.xlsx", 0, "accepted"),
        ("2026-27-Q2/Brent LIIA return 2026-27 Q2.xlsx", 1, "Finance!D11 FIN06"),
        ("2026-27-Q2/Lewisham LIIA return 2026-27 Q2.xlsx", 1, "Cover!B4"),
    ],
)
def test_validate_command_exit_codes(file, code, words):
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.service.cli", "validate", str(SAMPLE / file)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert result.returncode == code, result.stdout + result.stderr
    assert words in result.stdout and "Not checked here" in result.stdout


def test_validate_command_compares_with_the_previous_quarter_given_alongside():
    files = [
        SAMPLE / q / f"Sutton LIIA return {q.replace('-Q', ' Q')}.xlsx"
        for q in ("2026-27-Q1", "2026-27-Q2")
    ]
    alone = subprocess.run(
        [sys.executable, "-m", "pipelines.service.cli", "validate", str(files[1])],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    both = subprocess.run(
        [sys.executable, "-m", "pipelines.service.cli", "validate", *map(str, files)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert alone.returncode == both.returncode == 0  # warnings do not fail the check
    assert "Workforce!D14" not in alone.stdout and "Not compared" in alone.stdout
    assert (
        "warning: Workforce!D14 WF09" in both.stdout
        and "3.7 times the previous quarter" in both.stdout
    )


def test_validate_command_refuses_a_file_that_is_not_a_workbook(tmp_path):
    bad = tmp_path / "return.xlsx"
    bad.write_text("this is not a workbook")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.service.cli",
            "validate",
            str(bad),
            "--feedback",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert result.returncode == 2 and "This is not a workbook: it is a text file" in result.stdout
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("*.xlsx")) != []


def test_validation_check_reports_each_authority(latest_results):
    # Q2's run, after Q1's: Sutton's warning compares with its previous quarter
    evaluation = check_evaluation(latest_results["2026-27-Q2"], "returns_fit_to_load")
    assert evaluation.passed and evaluation.partition == "2026-27 Q2"
    rows = {r.data["authority"]: r.data for r in evaluation.metadata["per_authority"].records}
    assert rows["EAL"] == {
        "authority": "EAL",
        "received": 2,
        "accepted": 1,
        "rejected": 0,
        "errors": 1,
        "warnings": 0,
    }
    assert (
        rows["LEW"]["rejected"] == 1 and rows["SUT"]["warnings"] == 2 and rows["BAR"]["errors"] == 0
    )


def test_an_authoritys_feedback_is_written_before_dfes_figures_and_the_benchmarks(latest_results):
    """Of the steps ready at once, what an authority waits for runs first (Dagster's step
    priority): its feedback does not wait for DfE's figures to be read or the benchmarks loaded."""
    started = latest_results["2026-27-Q2"].steps_started()
    assert started[:3] == ["received_returns", "validated_returns", "feedback_workbooks"]
    assert started.index("published_figures") < started.index("benchmarks")


def test_cover_quarter_wins_over_the_folder_with_a_warning(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "2026-27-Q1").mkdir(parents=True)
    shutil.copy(
        SAMPLE / "2026-27-Q2" / "Barnet LIIA return 2026-27 Q2.xlsx",
        inbox / "2026-27-Q1" / "barnet.xlsx",
    )
    q1 = validated(_validate(tmp_path, inbox, "2026-27-Q1"))["submissions"]
    assert q1.empty
    result = validated(_validate(tmp_path, inbox, "2026-27-Q2"))
    assert list(result["submissions"]["status"]) == ["accepted"]
    (warning,) = result["issues"].itertuples()
    assert (warning.severity, warning.cell) == (
        "warning",
        "B4",
    ) and "2026-27 Q1 folder" in warning.problem
