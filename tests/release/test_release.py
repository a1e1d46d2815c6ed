"""The release: what each audience may see, when the quarter is ready, with disclosure control an
intruder cannot undo."""

import csv
import re
import shutil
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pipelines.collection.catalogue import load_authorities, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.defs.resources import working_resource
from pipelines.defs.schedules import revision_schedule
from pipelines.receive.ledger import waiting
from pipelines.release.audit import PROTECTION_MARGIN
from pipelines.release.disclosure import (
    SUPPRESSED,
    Suppression,
    earlier_release,
    exact_audit,
    public_quarter,
)
from pipelines.release.public_edition import quarter_inputs, stored_suppression
from pipelines.release.timing import AS_OF_TAG, LONDON, RELEASE_TAG, REVISIONS_POLICY, deadline
from tests.conftest import SAMPLE, run_quarter, use_region

QUARTER = "2026-27-Q2"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and not href.startswith("#"):
            self.hrefs.append(href)


def _pages(reports: Path) -> dict[Path, Path]:
    """Each page and the root of its audience's tree."""
    pages = {reports / t / "index.html": reports / t for t in ("public", "members", "liia")}
    for folder in (reports / "authorities").iterdir():
        pages[folder / "index.html"] = folder
    return pages


def test_every_link_of_every_page_resolves_inside_its_own_tree(latest_quarter_run):
    reports = latest_quarter_run / "reports"
    assert not (reports / "index.html").exists()  # no page for everyone
    pages = _pages(reports)
    assert len(pages) == 3 + 33
    from pipelines.release.timing import ReleaseSettings

    contact_web = ReleaseSettings.from_environment().contact_web
    linked = 0
    for page, root in pages.items():
        parser = _Links()
        parser.feed(page.read_text())
        for href in parser.hrefs:
            if href == contact_web or href.startswith("mailto:"):
                continue  # the contact's own web address and email: the one way out, on purpose
            assert "://" not in href and not href.startswith("/"), (page, href)
            target = (page.parent / unquote(href)).resolve()
            assert target.is_relative_to(root.resolve()), (page, href)
            assert target.exists(), (page, href)
            linked += 1
    assert linked > 100


def _csv(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return pd.DataFrame(list(csv.DictReader(f)))


def test_the_public_tree_holds_nothing_restricted(latest_quarter_run):
    reports = latest_quarter_run / "reports"
    public = reports / "public"
    files = [p for p in public.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".xlsx", ".csv", ".html"}
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    notes = {
        n for (n,) in con.execute("SELECT note FROM return_values WHERE note <> ''").fetchall()
    }
    for path in files:
        if path.suffix == ".xlsx":
            wb = load_workbook(path)
            text = [str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row]
        else:
            text = [path.read_text()]
        assert not any("RESTRICTED" in t for t in text), path
        assert not any(n in t for t in text for n in notes if len(n) > 12), path

    # Every published figure is the restricted one rounded as shown, or c where suppressed; every
    # small count's unit is c.
    shown = _csv(public / QUARTER / f"LIIA benchmarks {QUARTER} publishable.csv")
    names = load_authorities().table.set_index("name")["liia_code"]
    authority_rows = shown[shown["area_type"] == "authority"].assign(
        authority=lambda f: f["area_name"].map(names)
    )
    restricted = con.execute(
        """SELECT b.indicator_id, b.authority, b.value, i.decimals, e.suppression
        FROM benchmarks AS b JOIN indicators AS i USING (indicator_id)
        JOIN figures_by_edition AS e USING (quarter, indicator_id, authority)
        WHERE b.quarter = ?""",
        [QUARTER],
    ).df()
    both = authority_rows.merge(restricted, on=["indicator_id", "authority"])
    assert len(both) == 33 * 37
    hidden = both["symbol"] == "c"
    assert (both.loc[hidden, "value_x"] == "").all()
    assert both.loc[both["suppression"] == "primary", "symbol"].eq("c").all()
    assert both.loc[both["suppression"] == "complementary", "symbol"].eq("c").all()
    shown_values = both[~hidden & (both["value_x"] != "")]
    expected = [
        round(v, int(d))
        for v, d in zip(shown_values["value_y"], shown_values["decimals"], strict=True)
    ]
    assert np.allclose(shown_values["value_x"].astype(float), expected)
    # In the workbook as in the CSV: a value holds what is shown, not more decimals.
    ws = load_workbook(
        public / QUARTER / f"LIIA adolescents benchmarks {QUARTER} publishable.xlsx"
    )["ADO-I05"]
    numbers = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, float)]
    assert numbers and all(abs(v * 1000 - round(v * 1000)) < 1e-6 for v in numbers)


def test_the_publishable_workbook_says_what_its_release_is(latest_quarter_run):
    """Status, source, contact, release date, next release and the revisions policy on the Cover
    sheet, in a column A4 portrait holds (rendered: 88 characters fit, 100 were cut off)."""
    folder = latest_quarter_run / "reports" / "public" / QUARTER
    about = load_workbook(folder / f"LIIA send benchmarks {QUARTER} publishable.xlsx")["Cover"]
    lines = [c.value for (c,) in about.iter_rows(max_col=1) if isinstance(c.value, str)]
    after = {a: b for a, b in zip(lines, lines[1:], strict=False)}
    assert "not official statistics" in after["What these figures are"]
    assert after["Contact"].startswith("LIIA data team")
    assert re.fullmatch(r"\d\d [A-Z][a-z]+ 20\d\d", after["Released"])
    assert after["Next release"].startswith(f"{deadline(parse_quarter('2026-27-Q3')):%d %B %Y}")
    assert after["Revisions"] == REVISIONS_POLICY
    assert about.column_dimensions["A"].width <= 90
    restricted = latest_quarter_run / "reports" / "members" / QUARTER
    lines = [
        c.value
        for (c,) in load_workbook(restricted / f"LIIA send benchmarks {QUARTER}.xlsx")[
            "Cover"
        ].iter_rows(max_col=1)
    ]
    assert "Next release" not in lines


def test_no_authority_folder_holds_another_authoritys_files(latest_quarter_run):
    folders = list((latest_quarter_run / "reports" / "authorities").iterdir())
    assert len(folders) == 33
    for folder in folders:
        for path in folder.rglob("*.xlsx"):
            assert path.stem.endswith(f" {folder.name}"), path


def _exact_audit(b, g, items, suppression: Suppression, bounds: bool = True):
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    return exact_audit(b, g, items, suppression, catalogue, population, bounds)


@pytest.mark.parametrize("quarter", ["2026-27-Q1", QUARTER])
def test_the_audit_finds_every_small_count_protected_in_a_released_quarter(
    latest_quarter_run, quarter
):
    """The stored release of a sample quarter, audited (the model checked to hold the true values,
    the catalogue's rules among them): every small count could be 0 and could be
    PROTECTION_MARGIN or more, given every figure published. Without the complementary
    suppressions the same audit finds counts an intruder can pin down or narrow into 1 to 5.
    `scripts/audit_disclosure.py` audits all ten with each count's bounds (minutes a quarter)."""
    con = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    b, g, items = quarter_inputs(con, quarter)
    stored = stored_suppression(con, quarter)
    assert stored.primary and stored.complementary
    findings = _exact_audit(b, g, items, stored, bounds=False)
    assert len(findings) > 100
    assert all(f.protected for f in findings), [f for f in findings if not f.protected]
    unprotected = _exact_audit(b, g, items, Suppression(stored.primary), bounds=False)
    assert any(not f.protected for f in unprotected)


def _hard_quarter(seed: int = 7, late: tuple[str, ...] = ()):
    """A synthetic quarter built to be hard: children looked after (ADO12, in four indicators)
    and post-charge detentions (ADO04) small in several authorities of every group, five small
    ones in one sub-region, the City included; costly placements (FIN04), bounded by the
    catalogue's rule FIN04 <= ADO12, 0 in the City and small where children looked after are few,
    so the rules narrow what is hidden; and authorities whose shown values are small beside the
    small ones, where "the smallest value first" would choose the complements. `late`: the
    authorities whose returns are not in yet (the same quarter before their late returns)."""
    rng = np.random.default_rng(seed)
    authorities = load_authorities()
    table = authorities.table.set_index("liia_code")
    codes = list(table.index)
    small = {"CIT", "KAC", "WES", "ISL", "CAM", "HAF", "BEX", "HAV", "SUT", "MER"}
    items = []
    for code in codes:
        pop = table.at[code, "population_0_17"]
        cla = int(rng.integers(1, 6)) if code in small else int(pop * rng.uniform(0.003, 0.006))
        # every value meets the catalogue's rules (ADO06, ADO15, FIN04 <= ADO12; ADO05 >= ADO06)
        missing = (
            int(rng.integers(0, min(3, cla + 1))) if cla < 6 else int(cla * rng.uniform(0.05, 0.12))
        )
        detentions = int(rng.integers(1, 6)) if code in small else int(rng.integers(6, 30))
        uasc = int(rng.integers(0, 2)) if cla < 6 else int(cla * rng.uniform(0.05, 0.2))
        costly = (
            0 if code == "CIT" else int(rng.integers(0, cla + 1)) if cla < 12 else 6 + cla // 20
        )
        items += [
            ("FIN04", code, costly),
            ("ADO12", code, cla),
            ("ADO06", code, missing),
            ("ADO15", code, uasc),
            ("ADO04", code, detentions),
            ("ADO05", code, missing * 2),
            ("FIN03", code, cla * 50_000.0),
        ]
    items = pd.DataFrame(items, columns=["ref", "authority", "value"]).assign(quarter=QUARTER)
    items = items[~items["authority"].isin(late)].reset_index(drop=True)
    items["unit"] = np.where(items["ref"] == "FIN03", "gbp", "count")
    assert (
        items.pivot(index="authority", columns="ref", values="value").eval(
            "FIN04 <= ADO12 and ADO06 <= ADO12 and ADO15 <= ADO12 and ADO05 >= ADO06"
        )
    ).all()
    wide = items.pivot(index="authority", columns="ref", values="value")
    wide["population_0_17"] = table["population_0_17"]
    formulas = {
        "ADO-I03": lambda w: w["ADO04"] / w["population_0_17"] * 10000,
        "FIN-I03": lambda w: w["FIN04"] / w["population_0_17"] * 10000,
        "ADO-I05": lambda w: w["ADO06"] / w["ADO12"] * 100,
        "ADO-I08": lambda w: w["ADO12"] / w["population_0_17"] * 10000,
        "ADO-I10": lambda w: w["ADO15"] / w["ADO12"] * 100,
        "ADO-I04": lambda w: w["ADO05"] / w["ADO06"].replace(0, np.nan),
        "FIN-I09": lambda w: w["FIN03"] / w["ADO12"],
    }
    rows, groups = [], []
    for indicator, formula in formulas.items():
        value = formula(wide)
        for code in codes:
            v = value.get(code, np.nan)
            returned = code not in late
            rows.append(
                {
                    "quarter": QUARTER,
                    "indicator_id": indicator,
                    "authority": code,
                    "reporting_unit": code,
                    "value": None if pd.isna(v) else float(v),
                    "status": "not returned"
                    if not returned
                    else "no denominator"
                    if pd.isna(v)
                    else "ok",
                    "symbol": None if not returned else "z" if pd.isna(v) else None,
                    "low_reliability": False,
                    "inner_outer": table.at[code, "inner_outer_ons"],
                    "sub_region": table.at[code, "sub_region"],
                }
            )
        returned = [c for c in codes if c not in late]
        members = [("london", "London", returned)] + [
            (grouping, name, [c for c in table.index[table[column] == name] if c in returned])
            for grouping, column in (
                ("inner_outer_ons", "inner_outer_ons"),
                ("sub_region", "sub_region"),
            )
            for name in table[column].unique()
        ]
        for grouping, name, who in members:
            total = formula(wide.loc[who].sum().to_frame().T)
            groups.append(
                {
                    "quarter": QUARTER,
                    "indicator_id": indicator,
                    "grouping": grouping,
                    "group_name": name,
                    "value": float(total.iloc[0]),
                    "units": len(who),
                }
            )
    benchmarks = pd.DataFrame(rows)
    for column in [
        "rank",
        "n_reporting",
        "n_units",
        "london_value",
        "london_median",
        "london_lower_quartile",
        "london_upper_quartile",
        "london_min",
        "london_max",
        "quartile_band",
        "top_bottom_20",
        "inner_outer_value",
        "sub_region_value",
        "previous_value",
        "change_on_quarter",
        "direction_on_quarter",
        "year_earlier_value",
        "change_on_year",
        "direction_on_year",
    ]:
        benchmarks[column] = None
    return benchmarks, pd.DataFrame(groups), items


def test_the_audit_holds_on_a_quarter_built_to_be_hard():
    benchmarks, groups, items = _hard_quarter()
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    edition = public_quarter(benchmarks, groups, items, catalogue, population)
    s = edition.suppression
    assert len(s.primary) >= 40
    assert s.complementary
    counts = edition.counts(catalogue)
    assert counts["primary"].sum() == len(s.primary)
    findings = _exact_audit(benchmarks, groups, items, s)
    assert len(findings) >= 20
    assert all(f.smallest == 0 and f.largest >= PROTECTION_MARGIN for f in findings), [
        f for f in findings if not f.protected
    ]
    # What the public edition shows: c where hidden, the rest rounded as shown; ranks of shown
    # values only, 1 to n without gaps.
    shown = edition.benchmarks
    ado08 = shown[(shown["indicator_id"] == "ADO-I08") & (shown["value"] != "c")]
    assert set(ado08["rank"].dropna().astype(int)) <= set(range(1, len(ado08) + 1))
    assert (ado08["n_reporting"] == len(ado08)).all()
    assert all(re.fullmatch(r"-?\d+(\.\d)?", f"{v}") for v in ado08["value"])


def test_the_audit_finds_the_same_solved_on_one_core_or_on_several(monkeypatch):
    """The audit's parts are solved in threads, one a core: the suppression chosen and every
    finding are the same as when they are solved one after another."""
    from pipelines.release import audit

    benchmarks, groups, items = _hard_quarter()
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    editions = []
    for cores in (1, 4):
        monkeypatch.setattr(audit.os, "cpu_count", lambda cores=cores: cores)
        editions.append(public_quarter(benchmarks, groups, items, catalogue, population))
    alone, together = editions
    assert alone.suppression.units == together.suppression.units
    assert alone.findings == together.findings and len(alone.findings) >= 20


def _as_stored(edition, changed: dict):
    """The release as the release stage stores it and reads it back beside a revision."""
    groups = edition.groups.copy()
    groups["suppressed"] = groups["value"].astype(str) == SUPPRESSED
    groups["value"] = pd.to_numeric(groups["value"].where(~groups["suppressed"]), errors="coerce")
    s = edition.suppression
    suppressed = pd.DataFrame(
        [
            (i, u, "primary" if (i, u) in s.primary else "complementary", s.statuses[(i, u)])
            for i, u in sorted(s.units)
        ],
        columns=["indicator_id", "reporting_unit", "kind", "status"],
    )
    targets = [(f.unit, f.ref) for f in edition.findings]
    return earlier_release(
        edition.benchmarks, groups, suppressed, targets, changed, load_catalogue()
    )


def test_a_revision_is_audited_together_with_the_release_it_revises():
    """Sutton's return (its counts small) comes after release 1. Its revision, protected alone,
    gives Sutton's counts back to anyone who subtracts release 1's group figures from release
    2's. Chosen together with release 1, the revision hides the group figures Sutton changed,
    and no unit figure release 1 already showed (hiding one protects nothing)."""
    catalogue = load_catalogue()
    population = load_authorities().table.set_index("liia_code")["population_0_17"]
    first = public_quarter(*_hard_quarter(late=("SUT",)), catalogue, population)
    assert not any(u == "SUT" for _, u in first.suppression.units)
    release_1 = _as_stored(first, {"SUT": ("none", None)})
    assert release_1.changed_units == {"SUT"} and release_1.targets
    assert release_1.versions[("SUT", "ADO12")] == ("SUT@none", "ADO12")
    benchmarks, groups, items = _hard_quarter()

    alone = public_quarter(benchmarks, groups, items, catalogue, population)
    read_together = exact_audit(
        benchmarks, groups, items, alone.suppression, catalogue, population, False, (release_1,)
    )
    exposed = {(f.unit, f.ref) for f in read_together if not f.protected}
    assert {("SUT", "ADO04"), ("SUT", "ADO12")} <= exposed

    revision = public_quarter(
        benchmarks, groups, items, catalogue, population, releases=(release_1,)
    )
    # Protected: each count could be 0 and could be PROTECTION_MARGIN or more, read together with
    # release 1 (its exact bounds, 8 CPU-seconds more, are what the hard quarter's test finds)
    findings = exact_audit(
        benchmarks, groups, items, revision.suppression, catalogue, population, False, (release_1,)
    )
    assert {(f.unit, f.ref) for f in findings} >= set(release_1.targets) | exposed
    assert all(f.protected for f in findings), [f for f in findings if not f.protected]
    hidden_groups = revision.suppression.groups
    assert ("ADO-I03", "sub_region", "South") in hidden_groups
    assert len(revision.suppression.complementary) <= len(alone.suppression.complementary)
    shown_before = {
        (i, u)
        for i, units in release_1.units.rows.items()
        for u, r in units.items()
        if r["status"] == "ok" and (i, u) not in release_1.hidden.units
    }
    assert not revision.suppression.complementary & shown_before

    # A correction that changes no count (Barnet's spend, FIN03) leaves every count the same
    # unknown in both releases: read together they say no more than the revision alone.
    corrected = _as_stored(alone, {"BAR": ("before", {"FIN03"})})
    assert corrected.versions == {("BAR", "FIN03"): ("BAR@before", "FIN03")}
    again = public_quarter(benchmarks, groups, items, catalogue, population, releases=(corrected,))
    assert again.suppression.units == alone.suppression.units
    assert again.suppression.groups == alone.suppression.groups


def _inbox(tmp_path: Path, names: list[str]) -> Path:
    inbox = tmp_path / "inbox" / QUARTER
    inbox.mkdir(parents=True)
    for name in names:
        (path,) = (SAMPLE / QUARTER).glob(f"*{name}*")
        shutil.copy(path, inbox / path.name)
    return tmp_path / "inbox"


@pytest.mark.long_running(seconds=40)
def test_a_quarter_is_released_at_its_deadline_or_by_the_data_lead_and_revised_after(
    tmp_path, monkeypatch
):
    use_region(tmp_path / "region", ["BAR", "CAM", "BRE"], monkeypatch)  # Brent's comes late
    quarter = parse_quarter(QUARTER)
    before = f"{deadline(quarter).isoformat()}T06:00:00+00:00"
    early = {AS_OF_TAG: "2026-10-20T09:00:00+01:00"}
    inbox = _inbox(tmp_path, ["Barnet", "Camden"])
    assert run_quarter(tmp_path, inbox, QUARTER, tags=early).success
    reports = tmp_path / "reports"
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM releases").fetchone() == (0,)
    assert con.execute("SELECT * FROM latest_quarter").fetchall() == []
    con.close()
    assert not (reports / "public" / QUARTER).exists()
    assert not (reports / "members" / QUARTER).exists()
    assert (reports / "liia" / QUARTER / f"LIIA return status {QUARTER}.xlsx").exists()
    assert (
        reports / "authorities" / "Barnet" / QUARTER / f"LIIA feedback {QUARTER} Barnet.xlsx"
    ).exists()
    assert "No quarter has been released yet" in (reports / "public" / "index.html").read_text()

    # The data lead releases it early.
    assert run_quarter(tmp_path, inbox, QUARTER, tags={**early, RELEASE_TAG: "requested"}).success
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    assert con.execute("SELECT release, reason FROM releases").fetchall() == [(1, "data lead")]
    assert con.execute("SELECT quarter FROM latest_quarter").fetchall() == [(QUARTER,)]
    con.close()
    first_csv = reports / "public" / QUARTER / f"LIIA benchmarks {QUARTER} publishable.csv"
    first = first_csv.read_bytes()

    # A late return after release waits for the next revision moment (weekly, Monday 07:00),
    # and the data team's page and status workbook say what is waiting and until when.
    shutil.copy(next((SAMPLE / QUARTER).glob("*Brent*")), inbox / QUARTER)
    assert run_quarter(tmp_path, inbox, QUARTER, tags={AS_OF_TAG: before}).success
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    assert con.execute("SELECT max(release) FROM releases").fetchone() == (1,)
    con.close()
    assert first_csv.read_bytes() == first
    (pending,) = waiting(tmp_path / "answered.sqlite")
    monday = datetime(2026, 11, 16, 7, tzinfo=LONDON)  # the first Monday after `before`
    assert pending.quarter.key == QUARTER and pending.due == monday
    said = f"late return from Brent: {pending.figures_changed} published figures changed"
    assert said in (reports / "liia" / "index.html").read_text()
    assert "Monday 16 November 2026 07:00" in (reports / "liia" / "index.html").read_text()
    status = load_workbook(reports / "liia" / QUARTER / f"LIIA return status {QUARTER}.xlsx")
    lines = [c.value for row in status["Submissions"].iter_rows(max_row=8) for c in row if c.value]
    assert any(str(v).startswith(f"Waiting for the next revision: {said}") for v in lines)

    # Nothing is due before Monday; at Monday 07:00 the revision schedule publishes it.
    resources = {"duckdb": working_resource(tmp_path / "liia.duckdb")}

    def revision_tick(when):
        with dg.build_schedule_context(scheduled_execution_time=when, resources=resources) as c:
            return revision_schedule(c)

    assert isinstance(revision_tick(monday - timedelta(days=7)), dg.SkipReason)
    (request,) = revision_tick(monday)
    assert request.tags[RELEASE_TAG] == "revision"
    assert run_quarter(tmp_path, inbox, QUARTER, tags=request.tags).success
    assert waiting(tmp_path / "answered.sqlite") == []
    assert isinstance(revision_tick(monday + timedelta(days=7)), dg.SkipReason)
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    rows = con.execute("SELECT release, reason, changes FROM releases ORDER BY 1").fetchall()
    assert [r[:2] for r in rows] == [(1, "data lead"), (2, "revision")]
    # The revision's audit covered every count release 1's did, read together with it.
    audited = con.execute(
        """SELECT release, count(*), bool_and(protected) FROM disclosure_audit
        WHERE quarter = ? GROUP BY release ORDER BY release""",
        [QUARTER],
    ).fetchall()
    assert audited[0][2] and audited[1][2] and audited[1][1] >= audited[0][1]
    assert con.execute(
        "SELECT count(*) FROM suppressions WHERE quarter = ? AND status IS NULL", [QUARTER]
    ).fetchone() == (0,)
    assert rows[1][2].startswith("late return from Brent")
    assert con.execute(
        "SELECT count(DISTINCT release) FROM public_benchmarks WHERE quarter = ?", [QUARTER]
    ).fetchone() == (2,)
    con.close()
    kept = reports / "public" / QUARTER / "release 1" / first_csv.name
    assert kept.read_bytes() == first
    assert first_csv.read_bytes() != first
    page = (reports / "public" / "index.html").read_text()
    assert "Revised" in page and "late return from Brent" in page and "release%201" in page

    # The same again changes nothing: no third release.
    assert run_quarter(tmp_path, inbox, QUARTER, tags={AS_OF_TAG: before}).success
    con = duckdb.connect(str(tmp_path / "published" / "liia.duckdb"), read_only=True)
    assert con.execute("SELECT max(release) FROM releases").fetchone() == (2,)


def test_each_theme_workbook_has_its_figures_as_a_csv_beside_it_in_its_own_edition(
    latest_quarter_run,
):
    reports = latest_quarter_run / "reports"
    public = _csv(reports / "public" / QUARTER / f"LIIA benchmarks {QUARTER} publishable.csv")
    for theme in ("finance", "adolescents"):
        published = _csv(
            reports / "public" / QUARTER / f"LIIA {theme} benchmarks {QUARTER} publishable.csv"
        )
        assert len(published) and set(published["theme"]) == {theme}
        assert published.equals(public[public["theme"] == theme].reset_index(drop=True))
        restricted = _csv(reports / "members" / QUARTER / f"LIIA {theme} benchmarks {QUARTER}.csv")
        assert list(restricted.columns) == list(published.columns)
        # every published row, and the groups only the restricted edition shows
        assert len(restricted) >= len(published)
        restricted = restricted[restricted["area_type"] != "Inner/Outer London (statutory)"]
        restricted = restricted.reset_index(drop=True)
        assert len(restricted) == len(published)
        # the restricted table has every figure the public one suppressed
        hidden = published["symbol"] == "c"
        assert hidden.any()
        kept = restricted.loc[hidden]
        assert ((kept["value"] != "") | kept["symbol"].isin(["x", "z"])).all()
        assert (kept["value"] != "").mean() > 0.9
        assert set(kept["symbol"]) <= {"", "u", "x", "z"}


def test_the_public_csv_opens_in_excel_and_says_what_the_workbooks_say(latest_quarter_run):
    """A byte-order mark, so that Excel shows £ and accents as written; no rank for a neutral
    indicator and its place in words, as the workbooks print them."""
    from pipelines.collection.catalogue import load_catalogue

    path = (
        latest_quarter_run
        / "reports"
        / "public"
        / QUARTER
        / f"LIIA benchmarks {QUARTER} publishable.csv"
    )
    assert path.read_bytes().startswith("\ufeff".encode())
    rows = _csv(path)
    rows = rows[rows["area_type"] == "authority"]
    neutral = set(load_catalogue().indicators.query("polarity == 'neutral'")["id"])
    mine = rows[rows["indicator_id"].isin(neutral)]
    assert len(mine) and (mine["rank"] == "").all() and (mine["ranked_of"] == "").all()
    assert set(mine["band"]) <= {"", "lowest", "low", "high", "highest"}
    assert {"lowest", "highest"} <= set(mine["band"])
    rated = rows[~rows["indicator_id"].isin(neutral)]
    assert set(rated["band"]) <= {"", "A", "B", "C", "D"} and (rated["rank"] != "").any()
    assert "£" in path.read_text(encoding="utf-8-sig")


def test_the_contacts_on_the_covers_stay_in_the_pipelines_own_database(latest_quarter_run):
    """Who completed each return is personal data for LIIA's team: the working database holds
    it (the status workbook shows it); the analysts' copy, its exports and every page do not."""
    working = duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True)
    (brent,) = working.execute(
        """SELECT c.email FROM submission_contacts AS c JOIN submissions AS s
        USING (quarter, submission_id) WHERE s.authority = 'BRE' AND s.quarter = ?""",
        [QUARTER],
    ).fetchone()
    assert brent == "performance@bre.example.gov.uk"
    published = latest_quarter_run / "published" / "liia.duckdb"
    copy = duckdb.connect(str(published), read_only=True)
    tables = [t for (t,) in copy.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    assert "submission_contacts" not in tables and "submissions" in tables
    for table in tables:
        text = str(copy.execute(f"SELECT * FROM {table}").fetchall())
        assert "example.gov.uk" not in text and "Performance team" not in text, table
    outputs = [
        *(latest_quarter_run / "exports").rglob("*"),
        *(latest_quarter_run / "reports").rglob("*.html"),
    ]
    for path in outputs:
        if path.is_file():
            assert b"example.gov.uk" not in path.read_bytes(), path
