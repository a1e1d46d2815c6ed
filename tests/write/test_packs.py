"""Which figures a pack puts first, worked out without a workbook: the biggest concerns and
strengths of the sample quarter (the rule itself: tests/benchmark/test_standout.py), and the three
parts of To explain."""

import re
from types import SimpleNamespace

import pandas as pd

from pipelines.write.packs import CONCERN, STRENGTH, UNUSUAL, standing, to_explain


def _ind(id, comparison="rate", polarity="lower_is_better"):
    return SimpleNamespace(id=id, name=f"Indicator {id}", comparison=comparison, polarity=polarity)


def _row(rank, n, flag=None):
    return {"rank": rank, "n_reporting": n, "top_bottom_20": flag}


def test_standing_runs_from_the_best_to_the_worst_of_those_ranked():
    assert standing(_row(1, 30)) == 0 and standing(_row(30, 30)) == 1
    assert standing(_row(None, 30)) is None
    # 26th of 29 stands worse than 27th of 33: the share of London, not the rank, orders them
    assert standing(_row(26, 29)) > standing(_row(27, 33))


def test_to_explain_lists_each_fifth_worst_concern_and_best_strength_first_then_the_unusual():
    indicators = [_ind("A"), _ind("B"), _ind("C"), _ind("D"), _ind("E"), _ind("G")]
    indicators += [_ind("T", comparison="total"), _ind("N", polarity="neutral")]
    mine = {
        "A": _row(30, 30, "bottom 20%"),
        "B": _row(2, 30, "top 20%"),
        "C": _row(25, 29, "bottom 20%"),
        "D": _row(1, 15, "top 20%"),
        "E": _row(15, 30),
        "G": _row(None, 30),
        "T": _row(33, 33),  # a total carries no rank in the warehouse; this one must be ignored
        "N": _row(1, 30, "lowest 20%"),
    }
    parts = [(part.split(":")[0], ind.id) for part, ind in to_explain(mine, indicators)]
    assert parts == [
        (CONCERN, "A"),
        (CONCERN, "C"),
        (STRENGTH, "D"),
        (STRENGTH, "B"),
        (UNUSUAL, "N"),
    ]


# --- the pack's peers, as written (the latest_quarter_run fixture's 2026-27 Q2) -------------

QUARTER = "2026-27-Q2"


def _warehouse_frames(run):
    import duckdb

    with duckdb.connect(str(run / "liia.duckdb"), read_only=True) as con:
        return {
            name: con.execute(sql, [QUARTER]).df() if "?" in sql else con.sql(sql).df()
            for name, sql in {
                "benchmarks": "SELECT * FROM benchmarks WHERE quarter = ?",
                "groups": "SELECT * FROM group_benchmarks WHERE quarter = ? "
                "AND set_id = 'london_neighbours'",
                "members": "SELECT * FROM group_members WHERE set_id = 'london_neighbours'",
                "indicators": "SELECT * FROM indicators WHERE kind = 'indicator'",
                "authorities": "SELECT * FROM authorities",
            }.items()
        }


def _pack(run, name):
    from openpyxl import load_workbook

    return load_workbook(
        run / "reports" / "members" / QUARTER / "packs" / f"LIIA pack {QUARTER} {name}.xlsx"
    )


def _first_words(run, name) -> str:
    """The text of the first eight rows of a pack's Summary sheet (read alone, as it streams)."""
    from openpyxl import load_workbook

    path = run / "reports" / "members" / QUARTER / "packs" / f"LIIA pack {QUARTER} {name}.xlsx"
    book = load_workbook(path, read_only=True)
    try:
        rows = book["Summary"].iter_rows(max_row=8, values_only=True)
        return " ".join(str(value) for row in rows for value in row if value)
    finally:
        book.close()


def _table(ws, name):
    rows = list(ws[ws.tables[name].ref])
    return [c.value for c in rows[0]], rows[1:]


def test_a_pack_shows_the_authoritys_rank_among_its_neighbours_and_their_figures(
    latest_quarter_run,
):
    import pytest

    frames = _warehouse_frames(latest_quarter_run)
    names = frames["authorities"].set_index("authority")["name"]
    members = frames["members"][frames["members"]["group_name"] == "BAR"].sort_values("position")
    header, rows = _table(_pack(latest_quarter_run, "Barnet")["Neighbours"], "Neighbours")
    first = header.index("Highest neighbour") + 1
    assert header[first:] == [names[a] for a in members["authority"]]  # nearest first
    indicators = frames["indicators"].set_index("name")
    groups = frames["groups"][frames["groups"]["authority"] == "BAR"].set_index("indicator_id")
    values = frames["benchmarks"].set_index(["authority", "indicator_id"])["value"]
    checked = 0
    for row in rows:
        ind = indicators.loc[row[0].value]
        g = groups.loc[ind["indicator_id"]]
        rank = row[header.index("Rank among you and your neighbours")].value
        if ind["polarity"] == "neutral":
            assert rank == "by value"
        elif pd.notna(g["rank_in_group"]):
            assert rank == f"{int(g['rank_in_group'])} of {int(g['n_ranked'])}"
            checked += 1
        scale = 100 if ind["unit"] == "percent" else 1
        for cell, code in zip(row[first:], members["authority"], strict=True):
            value = values[(code, ind["indicator_id"])]
            if value == value and isinstance(cell.value, float | int):
                assert cell.value * scale == pytest.approx(value), (code, ind["indicator_id"])
    assert checked >= 20


def test_the_rug_shows_every_band_and_the_readers_own_row_in_bold(latest_quarter_run):
    frames = _warehouse_frames(latest_quarter_run)
    names = frames["authorities"].set_index("authority")["name"]
    ws = _pack(latest_quarter_run, "Barnet")["Rug"]
    header, rows = _table(ws, "Rug")
    bands = frames["benchmarks"].set_index(["authority", "indicator_id"])["quartile_band"]
    codes = {n: c for c, n in names.items()}
    places = {"Q1": "1", "Q2": "2", "Q3": "3", "Q4": "4"}
    assert len(rows) == 33
    for row in rows:
        code = codes[row[0].value]
        assert row[0].font.b == (code == "BAR")
        for label, cell in zip(header[1:], row[1:], strict=True):
            band = bands[(code, label.split()[0])]
            if isinstance(band, str):
                assert cell.value == places.get(band, band)
            else:
                assert cell.value is None or cell.value.startswith("[")
    # totals are not banded and so are not in the rug
    totals = set(frames["indicators"].query("comparison == 'total'")["indicator_id"])
    assert totals and not totals & {label.split()[0] for label in header[1:]}


def test_the_public_page_shows_the_published_rug_as_a_table_with_headers(latest_quarter_run):
    from html.parser import HTMLParser

    class Rug(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.rows, self.cell, self.headers = False, [], None, 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "table" and self.inside is False and self.lasttag_section:
                self.inside = True
            if tag == "section" and attrs.get("aria-labelledby") == "rug":
                self.lasttag_section = True
            if self.inside and tag == "tr":
                self.rows.append([])
            if self.inside and tag in ("td", "th"):
                self.cell = ""
                if tag == "th" and attrs.get("scope") == "row":
                    self.headers += 1

        def handle_data(self, data):
            if self.cell is not None:
                self.cell += data

        def handle_endtag(self, tag):
            if self.inside and tag in ("td", "th"):
                self.rows[-1].append(self.cell.strip())
                self.cell = None
            if tag == "table" and self.inside:
                self.inside = None  # the rug's table is done

    page = Rug()
    page.lasttag_section = False
    page.feed((latest_quarter_run / "reports" / "public" / "index.html").read_text())
    header, *body = page.rows
    assert header[0] == "Authority" and len(body) == 33 and page.headers == 33
    import duckdb

    with duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True) as con:
        published = con.execute(
            "SELECT a.name, p.indicator_id, p.quartile_band, p.suppressed_columns "
            "FROM public_benchmarks AS p JOIN authorities AS a USING (authority) "
            "WHERE quarter = ? QUALIFY release = max(release) OVER ()",
            [QUARTER],
        ).df()
    by = {(r.name, r.indicator_id): r for r in published.itertuples()}
    # each column is named: its code, then the indicator's name
    codes = [re.match(r"[A-Z]+-I\d+", h)[0] for h in header[1:]]
    assert all(len(h) > len(c) + 5 for h, c in zip(header[1:], codes, strict=True))
    suppressed = 0
    for row in body:
        for code, text in zip(codes, row[1:], strict=True):
            r = by[(row[0], code)]
            if "value" in str(r.suppressed_columns).split(","):
                assert text == "[c]"  # nothing of a suppressed figure, not even its band
                suppressed += 1
            elif isinstance(r.quartile_band, str):
                assert text == {"Q1": "1", "Q2": "2", "Q3": "3", "Q4": "4"}.get(
                    r.quartile_band, r.quartile_band
                )
    assert suppressed > 0


def test_the_city_of_london_is_set_against_inner_london_having_no_neighbours(latest_quarter_run):
    import duckdb

    ws = _pack(latest_quarter_run, "City of London")["Neighbours"]
    assert ws["A1"].value.startswith("City of London and Inner London")
    header, rows = _table(ws, "Neighbours")
    assert header[2] == "Rank in Inner London" and len(header) == 8  # no member columns
    with duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True) as con:
        inner = con.execute(
            "SELECT i.name, g.rank_in_group, g.n_ranked, i.polarity FROM group_benchmarks AS g "
            "JOIN indicators AS i USING (indicator_id) WHERE g.quarter = ? AND g.authority = 'CIT' "
            "AND g.set_id = 'inner_outer_ons'",
            [QUARTER],
        ).df()
    ranks = {r[0].value.split(" [")[0]: r[2].value for r in rows}
    checked = 0
    for r in inner.itertuples():
        if r.polarity != "neutral" and pd.notna(r.rank_in_group):
            assert ranks[r.name] == f"{r.rank_in_group} of {r.n_ranked}"
            checked += 1
    assert checked >= 5


def test_the_samples_picks_keep_the_rule_and_a_pack_without_a_return_says_why(
    latest_quarter_run,
):
    """Every pick of the quarter is in its fifth, past the control limit on its side, no tie
    across the fifth's edge and no zero London's rate would not expect; each pack's first words
    say its picks, that nothing stands out, or why there is no return and what to do."""
    import duckdb

    from pipelines.benchmark.standout import CONTROL_LIMIT, tie_across_the_edge
    from pipelines.collection.catalogue import load_authorities, load_catalogue
    from pipelines.collection.quarters import parse_quarter
    from pipelines.write.figures import quarter_figures
    from pipelines.write.packs import headlines, pack_inputs

    with duckdb.connect(str(latest_quarter_run / "liia.duckdb"), read_only=True) as con:
        figures, issues = quarter_figures(con, parse_quarter(QUARTER))
    shared = pack_inputs(figures, load_authorities(), load_catalogue(), issues)
    assert shared.why_none  # the sample quarter has authorities without an accepted return
    said = {}
    for code, name in shared.order:
        concerns, strengths = headlines(shared, code)
        for part, chosen in (("bottom 20%", concerns), ("top 20%", strengths)):
            for pick in chosen:
                b = shared.rows[code][pick.indicator.id]
                assert b["top_bottom_20"] == part and abs(pick.standing.z) >= CONTROL_LIMIT
                assert not tie_across_the_edge(b, figures.current)
                if pick.standing.events == 0:
                    assert pick.standing.expected >= 6.9
        said[code] = _first_words(latest_quarter_run, name)
        if code in shared.why_none:
            assert f"We have no accepted return from {name}" in said[code]
            assert shared.why_none[code].rstrip(".") in said[code]
            assert ("send it again" in said[code]) == ("not accepted" in shared.why_none[code])
        elif not concerns and not strengths:
            assert "Nothing stands out" in said[code]
        else:
            assert all(p.indicator.name in said[code] for p in [*concerns, *strengths])
    # each pick says where the authority stands in England, where DfE publishes the indicator
    from pipelines.write.packs import _in_england

    looked_after = next(i for i in shared.indicators if i.id == "ADO-I08")
    assert _in_england(shared, "BAR", looked_after) == "2025: 11th of 151 (Q1); England 67.0"
    cost = next(i for i in shared.indicators if i.id == "FIN-I04")
    assert _in_england(shared, "BAR", cost) == "not published by DfE"
    rejected = [c for c, why in shared.why_none.items() if "was not accepted" in why]
    assert rejected and all(":" in shared.why_none[c] for c in rejected)  # with its problem


def test_the_england_sheets_say_where_each_authority_stands_in_england(latest_quarter_run):
    """DfE's 2025 looked-after rate: Barnet 11th lowest of 151 (Q1), in Barnet's pack and in the
    adolescents workbook's England sheet (recounted from DfE's file in test_published)."""
    ws = _pack(latest_quarter_run, "Barnet")["England"]
    header, rows = _table(ws, "England")
    (row,) = [r for r in rows if r[0].value == "Children looked after per 10k children"]
    assert row[header.index("Rank in England")].value == "11 of 151"
    assert row[header.index("Quarter of England")].value == "Q1"
    path = (
        latest_quarter_run
        / "reports"
        / "members"
        / QUARTER
        / f"LIIA adolescents benchmarks {QUARTER}.xlsx"
    )
    from openpyxl import load_workbook

    header, rows = _table(load_workbook(path)["England"], "England")
    (barnet,) = [r for r in rows if r[0].value == "Barnet"]
    assert barnet[header.index("ADO-I08 rank in England")].value == "11 of 151 (Q1)"


def test_best_and_last_among_neighbours_count_only_indicators_ranked_with_another():
    from pipelines.write.comparator_sheets import ranked_summary

    indicators = [SimpleNamespace(id=i, polarity="higher_is_better") for i in "abcd"]
    indicators.append(SimpleNamespace(id="e", polarity="neutral"))
    mine = {
        "a": {"rank_in_group": 1, "n_ranked": 2},
        "b": {"rank_in_group": 2, "n_ranked": 2},
        "c": {"rank_in_group": 1, "n_ranked": 1},  # alone: neither best nor last among them
        "d": {"rank_in_group": None, "n_ranked": 0},
        "e": {"rank_in_group": 1, "n_ranked": 3},
    }
    assert ranked_summary(indicators, mine, "your neighbours") == (
        "Of 2 indicators ranked, you are best among your neighbours on 1 and last on 1."
    )
