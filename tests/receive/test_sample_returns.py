import functools
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import load_catalogue
from pipelines.receive.returns import read_return
from pipelines.receive.submissions import inbox_files
from pipelines.validate.checks import convert_values
from tests.conftest import GENERATED_QUARTERS, SAMPLE

catalogue = load_catalogue()
# the files with deliberate value errors, listed in sample_returns/README.md
DELIBERATE = [
    "2026-27-Q2/Brent LIIA return 2026-27 Q2.xlsx",
    "2026-27-Q2/Ealing LIIA return 2026-27 Q2.xlsx",
    "2026-27-Q1/Harrow LIIA return 2026-27 Q1.xlsx",
]


def _values(folder: Path) -> pd.DataFrame:
    return _read_values(folder).copy()


@functools.cache
def _read_values(folder: Path) -> pd.DataFrame:
    """Every value of every return under folder, read once per test process."""
    frames = []
    for path in inbox_files(folder):
        parsed = read_return(path)
        frames.append(
            parsed.values.assign(
                file=path.relative_to(folder).as_posix(), authority=parsed.authority
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_same_seed_gives_the_same_values(generated_returns):
    """The generator's quarters written here equal the committed files value for value (every
    quarter: scripts/check_sample_returns.py)."""
    committed = _values(SAMPLE)
    committed = committed[committed["file"].str[:10].isin(GENERATED_QUARTERS)]
    committed = committed.sort_values(["file", "ref"], ignore_index=True)
    fresh = _values(generated_returns).sort_values(["file", "ref"], ignore_index=True)
    assert fresh["file"].str[:10].unique().tolist() == list(GENERATED_QUARTERS)
    pd.testing.assert_frame_equal(committed, fresh)


def test_every_valid_sample_obeys_every_rule():
    values = convert_values(_values(SAMPLE), catalogue)
    valid = values[~values["file"].isin(DELIBERATE)]
    assert (valid["status"] != "error").all()
    wide = valid.pivot(index="file", columns="ref", values="value")
    assert len(wide) == 10 * 33 - 2 + 1 - len(DELIBERATE)  # two not returned, one resubmission
    for rule in catalogue.rules:
        left, right = wide[rule.ref], sum(wide[t] for t in rule.terms)
        holds = (left <= right) if rule.op == "<=" else (left >= right)
        assert (holds | left.isna() | right.isna()).all(), rule.text
        assert left.notna().sum() > 0


def test_values_scale_with_population_and_city_of_london_is_tiny():
    values = convert_values(_values(SAMPLE), catalogue)
    looked_after = values[values["ref"] == "ADO12"].groupby("authority")["value"].mean()
    assert looked_after["CIT"] < 10
    assert looked_after["CRO"] > 5 * looked_after["KAC"] / 2


def test_ehc_plans_grow_and_agency_workers_ease():
    values = convert_values(_values(SAMPLE), catalogue)
    values["quarter"] = values["file"].str[:10]
    by_quarter = values.groupby(["ref", "quarter"])["value"].sum()
    assert by_quarter["SEN01"]["2026-27-Q2"] / by_quarter["SEN01"]["2025-26-Q2"] > 1.05
    assert by_quarter["WF02"]["2026-27-Q2"] < by_quarter["WF02"]["2024-25-Q2"]
