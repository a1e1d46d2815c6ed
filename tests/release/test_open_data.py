"""The public figures in DfE's open data standard (pipelines/release/open_data.py): the standard's
columns and codes, a metadata file naming every column, and the same figures as the public CSV."""

import csv
import re

from pipelines.collection.catalogue import load_catalogue
from pipelines.release.open_data import DATA_COLUMNS, META_COLUMNS, time_columns

QUARTER = "2026-27-Q2"
GEOGRAPHY = {"Local authority", "Regional"}


def _read(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    assert not text.startswith("\ufeff")  # the standard's files have no byte-order mark
    return list(csv.DictReader(text.splitlines()))


def test_the_open_data_file_follows_dfes_standard_and_says_what_the_public_csv_says(
    latest_quarter_run,
):
    folder = latest_quarter_run / "reports" / "public" / QUARTER
    data = _read(folder / "liia_benchmarks_2026_27_q2.csv")
    meta = _read(folder / "liia_benchmarks_2026_27_q2.meta.csv")
    assert list(data[0]) == DATA_COLUMNS and list(meta[0]) == META_COLUMNS
    indicators = len(load_catalogue().indicators)
    assert len(data) == 34 * indicators  # London and each of the 33 authorities
    assert {r["time_period"] for r in data} == {"202627"}
    assert {r["time_identifier"] for r in data} == {"Financial year Q2"}
    assert time_columns("2024-25-Q4") == ("202425", "Financial year Q4")
    for r in data:
        assert r["geographic_level"] in GEOGRAPHY and r["country_code"] == "E92000001"
        assert r["region_code"] == "E12000007" and r["region_name"] == "London"
        if r["geographic_level"] == "Local authority":
            assert re.fullmatch(r"E0[69]\d{6}", r["new_la_code"]), r
            assert re.fullmatch(r"\d{3}", r["old_la_code"]) and r["la_name"]
        else:
            assert r["new_la_code"] == r["old_la_code"] == r["la_name"] == ""
        assert r["value"] in ("c", "x", "z", "u") or float(r["value"]) == float(r["value"])
    # every filter and indicator column is described; the standard's own columns are not
    described = {m["col_name"] for m in meta}
    assert described == set(DATA_COLUMNS[10:])
    assert {m["col_type"] for m in meta} == {"Filter", "Indicator"}
    # the same figures as the public CSV, a suppressed one c in both
    with open(folder / f"LIIA benchmarks {QUARTER} publishable.csv", encoding="utf-8-sig") as f:
        public = {
            (r["indicator_id"], r["ons_code"] if r["area_type"] == "authority" else "London"): r
            for r in csv.DictReader(f)
            if r["area_type"] in ("authority", "London")
        }
    suppressed = 0
    for r in data:
        p = public[(r["indicator_id"], r["new_la_code"] or "London")]
        if p["value"]:
            assert float(r["value"]) == float(p["value"])
        else:
            assert r["value"] == (p["symbol"] or "x")
            suppressed += r["value"] == "c"
    assert suppressed > 0
