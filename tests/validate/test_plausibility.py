"""The London-distribution check compares each item over a base that makes sense for it: sickness
days per permanent FTE, not per child. Pure functions, no workbook."""

import pandas as pd

from pipelines.collection.catalogue import load_catalogue
from pipelines.validate.checks import distribution_warnings


def _returns(sickness: dict[str, float], fte: dict[str, float], population: dict[str, float]):
    rows = []
    for code in sickness:
        for ref, value, unit in (("WF09", sickness[code], "days"), ("WF01", fte[code], "fte")):
            rows.append(
                {
                    "submission_id": code,
                    "sheet": "Workforce",
                    "cell": "Workforce!D14" if ref == "WF09" else "Workforce!D6",
                    "ref": ref,
                    "value": value,
                    "unit": unit,
                    "population": population[code],
                }
            )
    return pd.DataFrame(rows)


def test_sickness_days_are_compared_per_permanent_fte_not_per_child():
    codes = [f"A{n:02}" for n in range(12)]
    fte = {c: 100.0 + 20 * n for n, c in enumerate(codes)}
    sickness = {c: 2.0 * fte[c] + n for n, c in enumerate(codes)}  # about 2 days per FTE each
    population = {c: 60_000.0 for c in codes}
    population["A00"] = 1_000.0  # a small authority: per child its figure looks far out
    sickness["A11"] = 9.0 * fte["A11"]  # 9 days per FTE: far out whatever its size
    frame = _returns(sickness, fte, population)
    per = load_catalogue().items.set_index("ref")["per"].dropna().to_dict()
    assert per["WF09"] == "WF01"

    found = distribution_warnings(frame, per=per)
    found = found[found["ref"] == "WF09"]
    assert list(found["submission_id"]) == ["A11"]
    assert "9.00 per WF01" in found.iloc[0]["problem"]
    # without the base the small authority is questioned and the outlier missed
    per_child = distribution_warnings(frame, per={})
    per_child = per_child[per_child["ref"] == "WF09"]
    assert "A00" in set(per_child["submission_id"])
    assert "per 10,000 children" in per_child.iloc[0]["problem"]


def test_an_item_whose_base_is_missing_or_zero_is_not_compared():
    codes = [f"A{n:02}" for n in range(8)]
    fte = {c: 100.0 for c in codes}
    fte["A03"] = 0.0
    sickness = {c: 200.0 for c in codes}
    sickness["A03"] = 5_000.0
    frame = _returns(sickness, fte, {c: 60_000.0 for c in codes})
    found = distribution_warnings(frame, per={"WF09": "WF01"})
    assert "A03" not in set(found.loc[found["ref"] == "WF09", "submission_id"])
