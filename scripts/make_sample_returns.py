"""Writes the bundled sample returns: 33 authorities x ten quarters, 2024-25 Q1 to 2026-27 Q2.

Deterministic: the same seed gives the same files' values. Run `uv run python
scripts/make_sample_returns.py` after changing the catalogue or the deliberate problems below, and
update `sample_returns/README.md` with them.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np

from pipelines.collection.catalogue import Catalogue, load_authorities, load_catalogue
from pipelines.collection.quarters import Quarter, parse_quarter, quarter_range
from pipelines.write.template import write_template

FIRST, LAST = Quarter(2024, 1), Quarter(2026, 2)
JOINT_WORKFORCE = ("KUT", "RUT")
JOINT_FROM = Quarter(2025, 1)
NOT_RETURNED = {Quarter(2026, 2): ["HAC", "WES"]}
TRENDS = {
    "WF02": -0.04,
    "WF04": -0.04,
    "FIN15": -0.04,
    "SEN01": 0.024,
    "SEN10": 0.024,
}  # per quarter


def typical(catalogue: Catalogue, quarter: Quarter) -> dict[str, float]:
    """Each item's value for a borough of 60,000 children in `quarter`."""
    out = {}
    for row in catalogue.items.itertuples():
        text = str(row.typical_60k)
        number = float(re.match(r"-?[\d.]+", text)[0])
        out[row.ref] = number * quarter.q if "per quarter elapsed" in text else number
    return out


def authority_values(
    catalogue: Catalogue, quarter: Quarter, population: float, rng: np.random.Generator, t: int
) -> dict[str, float]:
    """Plausible values that obey every rule: typical x population x trend x noise."""
    scale = population / 60_000
    values = {}
    for ref, base in typical(catalogue, quarter).items():
        trend = (1 + TRENDS.get(ref, 0.0)) ** t
        values[ref] = base * scale * trend * rng.normal(1, 0.04)
    units = catalogue.items.set_index("ref")["unit"]
    for ref, unit in units.items():
        values[ref] = round(values[ref], 1 if unit == "fte" else 0)
        if unit != "fte":
            values[ref] = float(int(values[ref]))
    for _ in range(4):  # rules chain (ADO03 <= ADO01, FIN04 <= ADO12 ...): a few passes settle them
        for rule in catalogue.rules:
            right = sum(values[t] for t in rule.terms)
            if rule.op == "<=" and values[rule.ref] > right:
                values[rule.ref] = np.floor(
                    right * 0.97 * (10 if units[rule.ref] == "fte" else 1)
                ) / (10 if units[rule.ref] == "fte" else 1)
            if rule.op == ">=" and values[rule.ref] < right:
                values[rule.ref] = np.ceil(right * 1.3)
    return values


def display(value: float, unit: str) -> float | int:
    return round(value, 1) if unit == "fte" else int(value)


def write_return(path: Path, quarter: Quarter, values: dict, cover: dict, header_offset: int = 0):
    """The template filled in; `header_offset` more guidance rows above the Workforce header."""
    extra = {"Workforce": header_offset} if header_offset else None
    write_template(path, quarter, values, cover, extra_guidance=extra)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_returns"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--authorities", type=Path, help="another authority list (CSV)")
    parser.add_argument("--first", type=parse_quarter, default=FIRST, help="first quarter")
    parser.add_argument("--last", type=parse_quarter, default=LAST, help="last quarter")
    parser.add_argument(
        "--quarters",
        type=parse_quarter,
        nargs="+",
        help="write only these quarters' files (each quarter's values are still drawn in turn, "
        "so they are the whole run's)",
    )
    parser.add_argument(
        "--clean",
        action="store_true",
        help="every authority returns every quarter, without the deliberate problems",
    )
    args = parser.parse_args(argv)
    catalogue, authorities = load_catalogue(), load_authorities(args.authorities)
    units = catalogue.items.set_index("ref")["unit"]
    rng = np.random.default_rng(args.seed)
    for folder in args.out.glob("20*"):
        shutil.rmtree(folder)
    for t, quarter in enumerate(quarter_range(args.first, args.last)):
        version = catalogue.template_version(quarter)
        refs = list(catalogue.items_for(version)["ref"])
        table = authorities.table.set_index("liia_code")
        all_values = {
            code: authority_values(catalogue, quarter, row.population_0_17, rng, t)
            for code, row in table.iterrows()
        }
        if (
            quarter >= JOINT_FROM and not args.clean
        ):  # one workforce return covers both: the pair's combined figures
            a, b = JOINT_WORKFORCE
            for ref in catalogue.items[catalogue.items["theme"] == "workforce"]["ref"]:
                combined = all_values[a][ref] + all_values[b][ref]
                all_values[a][ref] = all_values[b][ref] = combined
        for code, row in table.iterrows():
            if code in NOT_RETURNED.get(quarter, []) and not args.clean:
                continue
            if args.quarters and quarter not in args.quarters:
                continue
            values = {ref: display(all_values[code][ref], units[ref]) for ref in refs}
            cover = {
                "Local authority": row["name"],
                "Completed by": "Performance team",
                "Email": f"performance@{code.lower()}.example.gov.uk",
                "Date completed": quarter.end.isoformat(),
            }
            if quarter >= JOINT_FROM and code in JOINT_WORKFORCE and not args.clean:
                partner = [c for c in JOINT_WORKFORCE if c != code][0]
                cover["Workforce reported jointly with"] = table.at[partner, "name"]
            header_offset, extra = 0, {}
            if not args.clean:
                values, cover, header_offset, extra = apply_problems(
                    code, quarter, values, cover, t
                )
            name = f"{row['name']} LIIA return {quarter.label}.xlsx"
            write_return(args.out / quarter.key / name, quarter, values, cover, header_offset)
            for suffix, (v2, c2) in extra.items():
                write_return(
                    args.out
                    / quarter.key
                    / f"{row['name']} LIIA return {quarter.label} {suffix}.xlsx",
                    quarter,
                    v2,
                    c2,
                )
    write_manifest(args.out)
    print(f"wrote sample returns to {args.out}")


MANIFEST = ".manifest.sha256"


def write_manifest(folder: Path) -> Path:
    """Every sample file's SHA-256, as `sha256sum` writes them (hidden, so the inbox skips it):
    tests copy exactly these files, whatever else someone has dropped into the folder."""
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(folder).as_posix()}"
        for path in sorted(folder.glob("20*/*.xlsx"))
    ]
    target = folder / MANIFEST
    target.write_text("\n".join(lines) + "\n")
    return target


def apply_problems(code: str, quarter: Quarter, values: dict, cover: dict, t: int):
    """The quirks and deliberate problems listed in sample_returns/README.md."""
    values, cover, extra, offset = dict(values), dict(cover), {}, 0
    latest, before = LAST, LAST.previous()
    # Quirks people produce that must be accepted (every quarter, so history stays complete).
    if code == "BAD":
        cover["Local authority"] = "LB Barking & Dagenham"
        values["FIN01"] = f"£{values['FIN01']:,}"
        values["ADO12"] = f"{values['ADO12']:,}"
    if code == "CAM":
        cover["Local authority"] = "E09000007"
        values["ADO07"] = f" {values['ADO07']} "
        values["WF07"] = f"{values['WF07']}.0"
    if code == "ISL":
        values["SEN02"] = f"={values['SEN02'] - 35}+35"
    if code == "MER":
        values["ADO09"] = ("x", "Recording system migration: CCE flag not reportable this quarter")
        values["ADO10"] = ("x", "Recording system migration: CSE flag not reportable this quarter")
    if code == "BEX":
        offset = 3
    # Deliberate errors and the warning case, in the two latest quarters.
    if quarter == latest and code == "BRE":
        values["FIN06"] = "tbc"
    if quarter == latest and code == "EAL":
        corrected = dict(values)
        values["ADO04"] = -values["ADO04"] or -3
        cover["Date completed"] = quarter.end.replace(day=1).isoformat()
        extra["resubmitted"] = (corrected, cover | {"Date completed": quarter.end.isoformat()})
    if quarter == before and code == "HAW":
        values["ADO08"] = values["ADO07"] + 12
    if quarter == latest and code == "LEW":
        cover["Quarter"] = "Q2"
    if quarter == latest and code == "SUT":
        values["WF09"] = round(values["WF09"] * 3.4)
    return values, cover, offset, extra


if __name__ == "__main__":
    main()
