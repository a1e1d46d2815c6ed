"""Validation of a quarter's returns, all at once: value conversion, pandera schemas built from
the catalogue, and plausibility warnings. Every finding is one row per cell."""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa

from pipelines.collection.catalogue import Catalogue, Rule
from pipelines.receive.returns import ISSUE_COLUMNS

# Digits with commas only between groups of three (1,234 and 12,345,678, never 12,5 or 1,2,3),
# an optional decimal part, and a pound sign and minus in either order.
_NUMBER = re.compile(r"^(?:-£|£-|-|£)?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")


def to_number(raw: object) -> tuple[float | None, str, str | None]:
    """(value, status, problem) for what a person typed: `1,234`, ` 45 `, `£1,200`, `12.0` are read
    as numbers; `x` is not available; anything else is a problem in words."""
    if isinstance(raw, bool):
        return None, "error", f"'{raw}' is not a number"
    if isinstance(raw, int | float):
        return float(raw), "ok", None
    text = str(raw if raw is not None else "").replace("\xa0", " ").strip()
    if text == "":
        return (
            None,
            "error",
            "the value is empty (or the cell holds an Excel error such as #DIV/0!)",
        )
    if text.lower() == "x":
        return None, "x", None
    compact = text.replace(" ", "")
    if _NUMBER.match(compact) and any(c.isdigit() for c in compact):
        return float(compact.replace("£", "").replace(",", "")), "ok", None
    if text.startswith("#"):
        return None, "error", f"the cell holds the Excel error {text}"
    if "," in compact and _NUMBER.match(compact.replace(",", "")):
        return (
            None,
            "error",
            f"'{text}' is not a number we can read: a comma may only separate thousands "
            "(1,234 or 12,345,678), and decimals take a point (12.5)",
        )
    return None, "error", f"'{text}' is not a number"


def shown(raw: object) -> str:
    """A value as the authority would recognise it: `-14`, not `-14.0`."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def convert_values(values: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    """Adds `value`, `status` and `problem` to the long frame of raw values read from returns."""
    converted = values["raw"].map(to_number)
    out = values.assign(
        value=[c[0] for c in converted],
        status=[c[1] for c in converted],
        problem=[c[2] for c in converted],
    )
    units = catalogue.items.set_index("ref")
    out["unit"] = out["ref"].map(units["unit"])
    out["can_be_negative"] = out["ref"].map(units["can_be_negative"]).fillna(False).astype(bool)
    out["value"] = out["value"].astype("float64")
    return out


def rule_results(wide: pd.DataFrame, rules: list[Rule], decimals: dict[str, int]) -> pd.DataFrame:
    """Whether each rule holds for each return: one column per rule, named by its text. A rule
    with a missing term (not given, or rejected) cannot be checked, so it holds. Both sides are
    compared at the items' decimals, so FTE that add up exactly (1.9 + 0.3 = 2.2) are equal."""
    out = {}
    for rule in rules:
        places = max(decimals[r] for r in (rule.ref, *rule.terms))
        left = wide[rule.ref].round(places)
        right = sum(wide[t] for t in rule.terms).round(places)
        holds = left <= right if rule.op == "<=" else left >= right
        out[rule.text] = holds | left.isna() | right.isna()
    return pd.DataFrame(out, index=wide.index)


def value_schema(catalogue: Catalogue, version: int) -> pa.DataFrameSchema:
    """The long frame of one template version's values: one row per submission and Ref."""
    known = list(catalogue.items_for(version)["ref"])
    whole = catalogue.whole_number_units
    return pa.DataFrameSchema(
        {
            "submission_id": pa.Column(str),
            "ref": pa.Column(str, pa.Check.isin(known, error="unknown Ref")),
            "value": pa.Column(float, nullable=True),
        },
        checks=[
            pa.Check(
                lambda df: ~df.duplicated(["submission_id", "ref"], keep=False),
                name="duplicated Ref",
            ),
            pa.Check(
                lambda df: df["value"].isna() | (df["value"] >= 0) | df["can_be_negative"],
                name="negative",
            ),
            pa.Check(
                lambda df: (
                    df["value"].isna()
                    | ~df["unit"].isin(whole)
                    | (df["value"] == df["value"].round())
                ),
                name="not whole",
            ),
        ],
    )


def rule_schema(catalogue: Catalogue, version: int) -> pa.DataFrameSchema:
    """The wide frame (one row per submission, one column per Ref): the consistency rules, as one
    check (a check per rule costs pandera's fixed overhead each); the failing rows' rules are
    named afterwards from rule_results."""
    rules = catalogue.rules_for(version)
    decimals = catalogue.item_decimals
    return pa.DataFrameSchema(
        checks=[
            pa.Check(
                lambda wide: rule_results(wide, rules, decimals).all(axis=1),
                name="consistency rules",
                error="a consistency rule is broken",
            )
        ]
    )


_MESSAGES = {
    "unknown Ref": (
        "'{ref}' is not a Ref on this template.",
        "Use the LIIA template's Refs; delete rows you added.",
    ),
    "duplicated Ref": (
        "{ref} appears more than once.",
        "Keep one row for {ref} and delete the others.",
    ),
    "negative": ("{measure} cannot be negative.", "Enter the figure as zero or more."),
    "not whole": (
        "{measure} is a count or whole pounds, so it must be a whole number.",
        "Enter a whole number.",
    ),
}


def _schema_issues(schema, frame, describe) -> list[dict]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return describe(exc.failure_cases)
    return []


def validate_quarter(
    values: pd.DataFrame, versions: dict[str, int], catalogue: Catalogue
) -> pd.DataFrame:
    """All value-level findings for a quarter's returns as rows of ISSUE_COLUMNS.

    `values` is the long frame of every return (submission_id, sheet, ref, cell, raw, note), as
    convert_values gives it, and `versions` the template version of each submission."""
    measures = catalogue.items.set_index("ref")["measure"]
    issues: list[dict] = []

    def row(v, problem, fix, rule, severity="error"):
        return {
            "submission_id": v.submission_id,
            "severity": severity,
            "sheet": v.sheet,
            "cell": v.cell.split("!")[-1],
            "ref": v.ref,
            "found": shown(v.raw),
            "problem": problem,
            "fix": fix,
            "rule": rule,
        }

    flagged = values[
        (values["status"] == "error") | ((values["status"] == "x") & (values["note"] == ""))
    ]
    for v in flagged.itertuples():
        if v.status == "error":
            issues.append(
                row(
                    v,
                    f"{measures.get(v.ref, v.ref)}: {v.problem}.",
                    "Enter a number, or x with a reason in Notes if the figure is not available.",
                    "not a number",
                )
            )
        elif v.status == "x" and not v.note:
            issues.append(
                row(
                    v,
                    "x (not available) is given without a reason.",
                    "Say in Notes why the figure is not available.",
                    "x without a reason",
                    severity="warning",
                )
            )

    for version in sorted(set(versions.values())):
        subs = [s for s, ver in versions.items() if ver == version]
        part = values[values["submission_id"].isin(subs)].reset_index(drop=True)
        if part.empty:
            continue

        def describe_values(fc, part=part):
            out = []
            for case in fc.itertuples():
                if case.index is None or pd.isna(case.index):
                    continue
                v = part.loc[int(case.index)]
                key = case.check if case.check in _MESSAGES else "unknown Ref"
                problem, fix = _MESSAGES[key]
                words = {"ref": v.ref, "measure": measures.get(v.ref, v.ref)}
                out.append(row(v, problem.format(**words), fix.format(**words), key))
            return out

        issues += _schema_issues(value_schema(catalogue, version), part, describe_values)
        found = set(zip(part["submission_id"], part["ref"], strict=True))
        refs = list(catalogue.items_for(version)["ref"])
        for sub in subs:
            for ref in refs:
                if (sub, ref) not in found:
                    issues.append(
                        {
                            "submission_id": sub,
                            "severity": "error",
                            "sheet": None,
                            "cell": None,
                            "ref": ref,
                            "found": "",
                            "problem": f"{ref} ({measures[ref]}) is missing from the return.",
                            "fix": f"Restore the row for {ref} from the LIIA template and fill it in.",
                            "rule": "missing Ref",
                        }
                    )
        # A rejected value keeps only itself out: rules it is a term of cannot be checked.
        rejected = {(i["submission_id"], i["ref"]) for i in issues if i["severity"] == "error"}
        usable = part.drop_duplicates(["submission_id", "ref"], keep=False)
        keys = zip(usable["submission_id"], usable["ref"], strict=True)
        usable = usable.assign(value=usable["value"].where([k not in rejected for k in keys]))
        wide = usable.pivot(index="submission_id", columns="ref", values="value")
        wide = wide.reindex(columns=refs)
        cells = usable.set_index(["submission_id", "ref"])

        def describe_rules(fc, wide=wide, cells=cells, version=version):
            out = []
            rules = {r.text: r for r in catalogue.rules_for(version)}
            failing = sorted({int(i) for i in fc["index"].dropna()})
            broken = ~rule_results(
                wide.iloc[failing], list(rules.values()), catalogue.item_decimals
            ).stack()
            for sub, text in broken[broken].index:
                rule = rules[text]
                v = cells.loc[(sub, rule.ref)]
                right = " + ".join(f"{t} ({_fmt(wide.at[sub, t])})" for t in rule.terms)
                word = "more than" if rule.op == "<=" else "less than"
                out.append(
                    {
                        "submission_id": sub,
                        "severity": "error",
                        "sheet": v["sheet"],
                        "cell": v["cell"].split("!")[-1],
                        "ref": rule.ref,
                        "found": _fmt(wide.at[sub, rule.ref]),
                        "problem": f"{measures[rule.ref]} ({_fmt(wide.at[sub, rule.ref])}) is {word} {right}.",
                        "fix": f"Check {rule.ref} and {', '.join(rule.terms)}: {rule.text} must hold.",
                        "rule": f"rule: {rule.text}",
                    }
                )
            return out

        issues += _schema_issues(
            rule_schema(catalogue, version), wide.reset_index(drop=True), describe_rules
        )
    return pd.DataFrame(issues, columns=ISSUE_COLUMNS).drop_duplicates(ignore_index=True)


def _fmt(x: float) -> str:
    return "" if pd.isna(x) else f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


SMALL_NUMBER = 20  # below this, a count moving by half is ordinary noise, not worth a question


def _warning(v, problem: str, fix: str, rule: str) -> dict:
    """An issue row warning about value row `v` (submission_id, sheet, cell, ref, value)."""
    return {
        "submission_id": v.submission_id,
        "severity": "warning",
        "sheet": v.sheet,
        "cell": v.cell.split("!")[-1],
        "ref": v.ref,
        "found": _fmt(v.value),
        "problem": problem,
        "fix": fix,
        "rule": rule,
    }


def plausibility_warnings(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    catalogue: Catalogue,
    quarter_number: int,
    threshold: float = 0.5,
) -> pd.DataFrame:
    """Warnings for values more than `threshold` away from the authority's previous accepted quarter.
    Both frames hold authority, ref, value; `current` also submission_id, sheet, cell. Year-to-date
    items are compared per quarter elapsed."""
    merged = current.merge(
        previous[["authority", "ref", "value"]], on=["authority", "ref"], suffixes=("", "_prev")
    )
    merged = merged[
        merged["value"].notna() & merged["value_prev"].notna() & (merged["value_prev"] != 0)
    ]
    ytd_refs = set(catalogue.items.loc[catalogue.items["period"] == "year_to_date", "ref"])
    ytd = merged["ref"].isin(ytd_refs)
    previous_q = 4 if quarter_number == 1 else quarter_number - 1
    merged.loc[ytd, "value_prev"] = merged.loc[ytd, "value_prev"] / previous_q * quarter_number
    merged = merged[merged[["value", "value_prev"]].abs().max(axis=1) >= SMALL_NUMBER]
    merged = merged.assign(ratio=merged["value"] / merged["value_prev"])
    out = merged[(merged["ratio"] - 1).abs() > threshold]
    rows = [
        _warning(
            v,
            f"{_fmt(v.value)} is {v.ratio:.1f} times the previous quarter"
            + (
                " (allowing for the quarters elapsed)."
                if v.ref in ytd_refs
                else f" ({_fmt(v.value_prev)})."
            ),
            "Check the figure; if it is right, say why it changed in Notes.",
            "change on previous quarter",
        )
        for v in out.itertuples()
    ]
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def distribution_warnings(
    current: pd.DataFrame, fences: float = 3.0, per: dict[str, str] | None = None
) -> pd.DataFrame:
    """Warnings for values far outside the London distribution of that quarter, each over a base
    that makes sense for it so that large and small authorities compare: the item named in the
    catalogue's `per` (sickness days per permanent FTE, cases per case-holding social worker, spend
    per placement week), else per 10,000 children (pounds per child); beyond `fences`
    interquartile ranges outside the quartiles. `current` holds submission_id, sheet, cell, ref,
    value, unit and the `population` the value covers (both authorities' for a joint workforce
    return)."""
    per = {k: v for k, v in (per or {}).items() if isinstance(v, str) and v}
    ok = current[current["value"].notna() & (current["value"] >= 0)].copy()
    if ok.empty:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    by_item = ok.set_index(["submission_id", "ref"])["value"]
    base_ref = ok["ref"].map(per)
    base_value = pd.Series(
        [
            by_item.get((sid, ref)) if isinstance(ref, str) else None
            for sid, ref in zip(ok["submission_id"], base_ref, strict=True)
        ],
        index=ok.index,
        dtype="float64",
    )
    per_child = ok["unit"].map(lambda u: 1 if u == "gbp" else 10_000)  # £ per child, per 10,000
    ok["rate"] = (ok["value"] / ok["population"] * per_child).astype("float64")
    based = base_ref.notna()
    ok.loc[based, "rate"] = ok.loc[based, "value"] / base_value[based]
    ok["base"] = base_ref
    # an item with a base is compared only where its base is there and above zero
    ok = ok[~based | (base_value > 0)]
    quartiles = ok.groupby("ref")["rate"].quantile([0.25, 0.75]).unstack()
    quartiles.columns = ["q1", "q3"]
    ok = ok.join(quartiles, on="ref")
    iqr = ok["q3"] - ok["q1"]
    ok["above"] = (ok["rate"] - ok["q3"]) / iqr
    ok["below"] = (ok["q1"] - ok["rate"]) / iqr
    far = ok[
        (iqr > 0)
        & (ok["value"].abs() >= SMALL_NUMBER)
        & ((ok["above"] > fences) | (ok["below"] > fences))
    ]
    rows = []
    for v in far.itertuples():
        direction, by = ("above", v.above) if v.above > fences else ("below", v.below)
        quartile = "upper" if direction == "above" else "lower"
        if isinstance(v.base, str):
            rate = f"{v.rate:,.2f} per {v.base}"
        elif v.unit == "gbp":
            rate = f"£{v.rate:,.0f} per child"
        else:
            rate = f"{v.rate:,.1f} per 10,000 children"
        rows.append(
            _warning(
                v,
                f"{_fmt(v.value)} is {rate}, {direction} the London {quartile} quartile by "
                f"{by:.1f} times the interquartile range.",
                "Check the figure; if it is right, say why in Notes.",
                "outside London's range",
            )
        )
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)
