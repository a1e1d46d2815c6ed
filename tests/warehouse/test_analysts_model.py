"""The analysts' warehouse as a model: its keys hold, every export equals its table with names beside
codes, notes join to indicators through the catalogue, group trends are also like for like, the
README says what the database says, and its recipes give one answer on every client."""

import os
import re
import shutil
import subprocess
from importlib.metadata import version as package_version

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.benchmark.comparisons import FIFTH, UNIT_BENCHMARK_SQL
from pipelines.collection.catalogue import THEMES, formula_refs, load_catalogue
from pipelines.collection.quarters import parse_quarter
from pipelines.release.timing import AS_OF_TAG, deadline
from pipelines.warehouse.model import KEYS, item_frames
from pipelines.warehouse.tables import QUARTERLY_TABLES
from pipelines.write.exports import (
    DIMENSIONS,
    EDITIONS,
    NAMES,
    PUBLIC_ROWS,
    PUBLIC_TABLES,
    VIEWS,
    columns_of,
    edition_tables,
    export_name,
)
from pipelines.write.layout import SYMBOL_LEGEND
from tests.conftest import PROJECT, copy_of_six_region_first_quarter, run_quarter
from tests.duckdb_clients import CLIENTS, answers, own_database_answer, statements, version

README = PROJECT / "warehouse" / "README.md"
QUARTERS = ("2026-27-Q1", "2026-27-Q2")  # Q2: 30 of 33 returns accepted


@pytest.fixture(scope="module")
def model(latest_quarter_run):
    """The two latest sample quarters, run once for the session (conftest): only read here."""
    published = latest_quarter_run / "published" / "liia.duckdb"
    con = duckdb.connect(str(published), read_only=True)
    yield {"tmp": latest_quarter_run, "published": published, "con": con}
    con.close()


def _rows(con, sql, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def test_the_keys_are_declared_hold_and_are_enforced(model, tmp_path):
    con = model["con"]
    declared = _rows(
        con,
        """SELECT table_name, constraint_type, constraint_column_names,
                  referenced_table, referenced_column_names
           FROM duckdb_constraints()
           WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')""",
    )
    primary = {(t, tuple(c)) for t, kind, c, _, _ in declared if kind == "PRIMARY KEY"}
    foreign = {
        (t, tuple(c), r, tuple(rc)) for t, kind, c, r, rc in declared if kind == "FOREIGN KEY"
    }
    assert primary == {(t, pk) for t, (pk, _) in KEYS.items() if pk}
    assert foreign == {
        (t, own, p, theirs) for t, (_, fks) in KEYS.items() for own, p, theirs in fks
    }
    assert len(foreign) > 30
    # They hold, checked without relying on DuckDB's enforcement: keys unique, no orphans.
    for table, (pk, fks) in KEYS.items():
        if pk:
            key = ", ".join(pk)
            ((rows, distinct),) = _rows(
                con, f"SELECT count(*), count(DISTINCT ({key})) FROM {table}"
            )
            assert rows == distinct, table
        for own, parent, theirs in fks:
            on = " AND ".join(f"p.{b} = c.{a}" for a, b in zip(own, theirs, strict=True))
            present = " AND ".join(f"c.{a} IS NOT NULL" for a in own)
            ((orphans,),) = _rows(
                con,
                f"SELECT count(*) FROM {table} AS c WHERE {present} "
                f"AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {on})",
            )
            assert orphans == 0, (table, own, parent)
    ((benchmarks, submissions),) = _rows(
        con, "SELECT (SELECT count(*) FROM benchmarks), (SELECT count(*) FROM submissions)"
    )
    assert benchmarks == 2 * 33 * 37 and submissions >= 63
    # And DuckDB enforces them: a benchmark of an authority nobody knows is refused.
    writable = tmp_path / "copy.duckdb"
    shutil.copy(model["published"], writable)
    os.chmod(writable, 0o644)
    with duckdb.connect(str(writable)) as copy:
        with pytest.raises(duckdb.ConstraintException, match="foreign key"):
            copy.execute(
                "INSERT INTO benchmarks (quarter, indicator_id, authority) "
                "VALUES ('2026-27-Q2', 'WF-I01', 'XYZ')"
            )
        with pytest.raises(duckdb.ConstraintException):
            copy.execute("INSERT INTO authorities (authority, name) VALUES ('BAR', 'Barnet')")


def test_every_export_equals_its_table_with_names_and_codes(model):
    con = model["con"]
    exports = model["tmp"] / "exports"
    for edition, sub in EDITIONS.items():
        folder = exports / sub
        tables = edition_tables(edition)
        assert sorted(p.name for p in folder.glob("*.parquet")) == sorted(
            export_name(t, edition) for t in tables
        )
        dictionary = pd.read_csv(folder / f"data_dictionary {edition}.csv", encoding="utf-8-sig")
        for table in tables:
            path = str(folder / export_name(table, edition))
            kv = dict(
                _rows(
                    con, "SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata(?)", [path]
                )
            )
            assert kv["warehouse_table"] == table
            assert kv["marking"].startswith("RESTRICTED" if edition == "RESTRICTED" else "OFFICIAL")
            own = [name for name, _ in columns_of(table)]
            # A view is computed again for each read, its sums of doubles in any order: its
            # figures are compared to a millionth.
            types = dict(
                _rows(
                    con,
                    "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?",
                    [table],
                )
            )
            listed = ", ".join(
                f"round({c}, 6)" if table in VIEWS and types[c] == "DOUBLE" else c for c in own
            )
            held = table  # the rows the edition holds
            if edition == "PUBLIC" and table in PUBLIC_ROWS:
                held = f"(SELECT * FROM {table} AS t WHERE {PUBLIC_ROWS[table]})"
            for left, right in (
                (f"read_parquet('{path}')", held),
                (held, f"read_parquet('{path}')"),
            ):
                ((extra,),) = _rows(
                    con,
                    f"SELECT count(*) FROM (SELECT {listed} FROM {left} "
                    f"EXCEPT ALL SELECT {listed} FROM {right})",
                )
                assert extra == 0, (edition, table)
            ((exported,),) = _rows(con, f"SELECT count(*) FROM read_parquet('{path}')")
            ((stored,),) = _rows(con, f"SELECT count(*) FROM {held}")
            assert exported == stored, table
            columns = [r[0] for r in _rows(con, f"DESCRIBE SELECT * FROM read_parquet('{path}')")]
            assert not {"completed_by", "email"} & set(columns), table  # the covers' contacts
            assert columns == dictionary.loc[dictionary["table"] == table, "column"].tolist()
            if table in DIMENSIONS:
                continue
            for code, dimension, key, names in NAMES:
                if code not in own:
                    continue
                for name, shown in names:
                    ((wrong,),) = _rows(
                        con,
                        f"""SELECT count(*) FROM read_parquet('{path}') AS e
                        LEFT JOIN {dimension} AS d ON d.{key} = e.{code}
                        WHERE e.{code} IS NOT NULL AND e.{shown} IS DISTINCT FROM d.{name}""",
                    )
                    assert wrong == 0, (table, shown)
    benchmarks = con.execute(
        f"SELECT * FROM '{exports / 'restricted' / 'benchmarks RESTRICTED.parquet'}' "
        "WHERE authority = 'BAR' AND indicator_id = 'WF-I01' ORDER BY quarter"
    ).df()
    assert benchmarks[
        ["authority_name", "ons_code", "dfe_la_code"]
    ].drop_duplicates().values.tolist() == [["Barnet", "E09000003", "302"]]
    assert benchmarks["quarter_label"].tolist() == ["2026-27 Q1", "2026-27 Q2"]
    assert benchmarks["indicator_name"].eq("Agency rate (%)").all()
    # The publishable edition holds only what the public edition shows.
    public = {p.name for p in (exports / "publishable").iterdir()}
    assert public == {export_name(t, "PUBLIC") for t in PUBLIC_TABLES} | {
        "data_dictionary PUBLIC.csv",
        "data_dictionary PUBLIC.xlsx",
    }
    shown = con.execute(
        f"SELECT * FROM '{exports / 'publishable' / 'public_benchmarks PUBLIC.parquet'}'"
    ).df()
    hidden = shown["suppressed_columns"].fillna("").str.split(",").map(lambda c: "value" in c)
    assert hidden.sum() > 50 and shown.loc[hidden, "value"].isna().all()
    assert "restricted_value" not in shown.columns
    # A suppressed figure is c and nothing else: nothing that says what kind of suppression, or
    # anything of the hidden value (its status, reliability, rank, band or change).
    assert not {"suppression", "kind"} & set(shown.columns)
    about_the_value = [
        "value",
        "status",
        "low_reliability",
        "rank",
        "quartile_band",
        "top_bottom_20",
        "change_on_quarter",
        "direction_on_quarter",
        "change_on_year",
        "direction_on_year",
    ]
    assert shown.loc[hidden, about_the_value].isna().all().all()
    assert shown.loc[hidden, "symbol"].eq("c").all()
    assert shown.loc[~hidden, "status"].notna().all()
    # Of the comparator groups, only those the public edition shows figures of.
    public_sets = con.execute(
        f"SELECT DISTINCT set_id FROM '{exports / 'publishable' / 'group_members PUBLIC.parquet'}'"
    ).fetchall()
    groupings = _rows(con, "SELECT DISTINCT grouping FROM public_group_figures")
    assert ("london",) in groupings
    assert sorted(public_sets) == sorted(groupings) and ("chosen_comparators",) not in public_sets


def test_notes_join_to_indicators_through_the_catalogue_without_parsing_text(model):
    con = model["con"]
    assert _rows(con, "SELECT count(*) FROM return_values WHERE trim(note) = ''") == [(0,)]
    notes = con.execute("SELECT * FROM notes ORDER BY quarter, ref").df()
    ((with_notes,),) = _rows(con, "SELECT count(*) FROM return_values WHERE note IS NOT NULL")
    assert len(notes) == with_notes == 4  # Merton's two x items, each quarter
    joined = con.execute(
        """SELECT n.quarter, n.authority, n.ref, ii.indicator_id, b.status
           FROM notes AS n
           JOIN indicator_items AS ii USING (ref)
           JOIN benchmarks AS b
             ON b.quarter = n.quarter AND b.authority = n.authority
            AND b.indicator_id = ii.indicator_id
           ORDER BY ALL"""
    ).df()
    catalogue = load_catalogue()
    expected = {
        (row.id, ref)
        for row in catalogue.indicators.itertuples()
        for ref in formula_refs(row.formula)
        if ref in set(notes["ref"])
    }
    assert set(zip(joined["indicator_id"], joined["ref"], strict=True)) == expected
    assert set(joined["indicator_id"]) == {"ADO-I07"}
    assert (joined["status"] != "ok").all()  # the items noted are x: the indicator has no value


def test_every_indicator_is_linked_to_the_items_its_formula_uses():
    catalogue = load_catalogue()
    frames = item_frames(catalogue)
    links = frames["indicator_items"]
    assert set(links["indicator_id"]) == set(catalogue.indicators["id"])
    assert set(links["ref"]) <= set(frames["items"]["ref"])
    agency = links[links["indicator_id"] == "WF-I01"].set_index("ref")
    assert agency.loc["WF02", "in_numerator"] and agency.loc["WF02", "in_denominator"]
    assert not agency.loc["WF01", "in_numerator"] and agency.loc["WF01", "in_denominator"]


def test_like_for_like_changes_are_over_the_authorities_in_both_quarters(model):
    con = model["con"]
    fractions = con.execute(
        """SELECT quarter, reporting_unit, any_value(numerator) AS numerator,
                  any_value(denominator) AS denominator, count(*) AS authorities
           FROM indicator_fractions
           WHERE indicator_id = 'WF-I01' AND numerator IS NOT NULL AND denominator IS NOT NULL
           GROUP BY ALL"""
    ).df()
    now = fractions[fractions["quarter"] == QUARTERS[1]].set_index("reporting_unit")
    before = fractions[fractions["quarter"] == QUARTERS[0]].set_index("reporting_unit")
    both = now.index.intersection(before.index)
    assert len(both) == len(now) < len(before)  # three authorities did not report in Q2
    lfl = now.loc[both, "numerator"].sum() / now.loc[both, "denominator"].sum()
    lfl_before = before.loc[both, "numerator"].sum() / before.loc[both, "denominator"].sum()
    row = (
        con.execute(
            """SELECT * FROM group_trends WHERE quarter = ? AND indicator_id = 'WF-I01'
           AND grouping = 'london' AND compared_with = 'previous quarter'""",
            [QUARTERS[1]],
        )
        .df()
        .iloc[0]
    )
    assert row["like_for_like_units"] == len(both)
    assert row["like_for_like_authorities"] == now.loc[both, "authorities"].sum() == 30
    assert (row["authorities"], row["earlier_authorities"]) == (30, 33)
    assert row["like_for_like_value"] == pytest.approx(lfl)
    assert row["like_for_like_earlier_value"] == pytest.approx(lfl_before)
    assert row["like_for_like_change"] == pytest.approx(lfl - lfl_before)
    assert abs(row["change"] - row["like_for_like_change"]) > 0.05  # 33 against 30 misleads
    # Every group figure of every quarter is group_aggregates', with the units it covers.
    mismatched = _rows(
        con,
        """SELECT count(*) FROM group_aggregates AS g
           LEFT JOIN group_trends AS t
             ON t.quarter = g.quarter AND t.indicator_id = g.indicator_id
            AND t.grouping = g.grouping AND t.group_name = g.group_name
            AND t.compared_with = 'previous quarter'
           WHERE t.units IS DISTINCT FROM g.units OR t.authorities IS DISTINCT FROM g.authorities
              OR NOT (abs(t.value - g.value) < 1e-9 OR (t.value IS NULL AND g.value IS NULL))""",
    )
    assert mismatched == [(0,)]
    ((groups,),) = _rows(con, "SELECT count(*) FROM group_trends")
    assert groups == 2 * _rows(con, "SELECT count(*) FROM group_aggregates")[0][0]
    ((too_many,),) = _rows(
        con,
        """SELECT count(*) FROM group_trends
           WHERE like_for_like_units > least(units, coalesce(earlier_units, 0))""",
    )
    assert too_many == 0


def test_every_comparator_group_has_its_figure_and_london_is_a_set(model):
    con = model["con"]
    assert _rows(con, "SELECT name, kind FROM group_sets WHERE set_id = 'london'") == [
        ("London", "partition")
    ]
    assert _rows(
        con, "SELECT count(DISTINCT authority) FROM group_members WHERE set_id = 'london'"
    ) == _rows(con, "SELECT count(*) FROM authorities")
    # Every group of every set has figures in every quarter.
    missing = _rows(
        con,
        """SELECT DISTINCT m.set_id, m.group_name FROM group_members AS m
           CROSS JOIN (SELECT DISTINCT quarter FROM group_aggregates) AS q
           WHERE NOT EXISTS (SELECT 1 FROM group_aggregates AS g
                             WHERE g.quarter = q.quarter AND g.grouping = m.set_id
                               AND g.group_name = m.group_name)""",
    )
    assert missing == []
    # A neighbours group's figure is the one each authority is compared with in group_benchmarks
    # (computed apart): over its neighbours, itself and a unit it shares left out.
    compared = con.execute(
        """SELECT b.set_id, b.authority, g.value, b.group_value, g.units, b.group_units
           FROM group_benchmarks AS b
           JOIN group_sets AS s USING (set_id)
           JOIN group_aggregates AS g
             ON g.quarter = b.quarter AND g.indicator_id = b.indicator_id
            AND g.grouping = b.set_id AND g.group_name = b.group_name
           JOIN indicators AS i ON i.indicator_id = b.indicator_id AND i.kind = 'indicator'
           WHERE s.kind = 'neighbours' AND i.comparison = 'rate'"""
    ).df()
    assert len(compared) > 1000 and {"dfe_neighbours", "london_neighbours"} <= set(
        compared["set_id"]
    )
    assert (compared["units"] == compared["group_units"]).all()
    assert np.allclose(compared["value"], compared["group_value"], rtol=1e-12, equal_nan=True)
    # Kingston's London neighbours include Richmond, with whom it reports as one unit (KUT+RUT):
    # that unit is Kingston's own, so its figure is over the other six.
    ((with_richmond,),) = _rows(
        con,
        """SELECT count(*) FROM group_members
           WHERE set_id = 'london_neighbours' AND group_name = 'KUT' AND authority = 'RUT'""",
    )
    kingston = _rows(
        con,
        """SELECT DISTINCT units FROM group_aggregates WHERE grouping = 'london_neighbours'
           AND group_name = 'KUT' AND indicator_id = 'WF-I01'""",
    )
    assert with_richmond == 1 and kingston == [(6,)]


def test_each_figure_says_what_it_is(model):
    con = model["con"]
    assert _rows(con, "SELECT count(*) FROM indicators WHERE period IS NULL") == [(0,)]
    periods = dict(_rows(con, "SELECT ref, period FROM items"))
    assert periods["WF01"] == "quarter_end" and periods["FIN01"] == "full_year"
    assert (
        dict(_rows(con, "SELECT indicator_id, published_measure FROM indicators"))["WF-I01"]
        == "Work_Force_Agecy_Rate"
    )
    assert _rows(
        con,
        "SELECT count(*) FROM authorities WHERE population_vintage IS NULL "
        "OR population_source IS NULL",
    ) == [(0,)]
    for quarter, due, released, latest in _rows(
        con, "SELECT quarter, deadline, released, latest_release FROM quarters"
    ):
        assert due == deadline(parse_quarter(quarter))
        assert released == (quarter in QUARTERS) and (latest == 1) == released
    types = dict(
        _rows(
            con,
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'submissions'",
        )
    )
    assert types["completed_on"] == "DATE"
    assert _rows(
        con,
        """SELECT count(*) FROM submissions
           WHERE completed_on IS NULL AND completed_on_as_written IS NOT NULL""",
    ) == [(0,)]
    assert _rows(
        con,
        """SELECT count(*) FROM validation_issues AS v JOIN submissions AS s USING (submission_id)
           WHERE v.authority IS DISTINCT FROM s.authority""",
    ) == [(0,)]
    rules = {r for (r,) in _rows(con, "SELECT DISTINCT rule FROM validation_issues")}
    assert None not in rules and len(rules) >= 3
    documented = _rows(
        con,
        "SELECT comment FROM duckdb_columns() "
        "WHERE table_name = 'validation_issues' AND column_name = 'rule'",
    )[0][0]
    assert all(r.split(":")[0] in documented for r in rules), rules
    ((built, files, returns, pipeline),) = _rows(
        con,
        "SELECT count(*), len(last(files ORDER BY built_at)), last(returns ORDER BY built_at), "
        "last(pipeline_version ORDER BY built_at) FROM builds",
    )
    current = _rows(con, "SELECT count(*) FROM submissions WHERE is_current")[0][0]
    assert (built, files, returns, pipeline) == (
        2,
        current,
        current,
        package_version("liia-benchmarking"),
    )


def _markdown_table(text: str, heading: str) -> list[list[str]]:
    lines = text[text.index(heading) :].splitlines()[2:]
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in lines[: next(i for i, line in enumerate(lines) if not line.startswith("|"))]
    ]


def test_the_readme_says_what_the_database_says(model):
    text = README.read_text()
    con = model["con"]
    tables = _markdown_table(text, "| Table | One row per | Primary key |")
    assert {r[0].strip("`"): r[4] for r in tables} == dict(
        _rows(con, "SELECT table_name, comment FROM duckdb_tables()")
    )
    keys = {r[0].strip("`"): (r[2], r[3]) for r in tables}
    for table, (pk, fks) in KEYS.items():
        refers = "; ".join(
            f"{parent} ({', '.join(own)})"
            if own == theirs
            else f"{parent} ({', '.join(own)} → {', '.join(theirs)})"
            for own, parent, theirs in fks
        )
        assert keys[table] == (", ".join(pk) or "(none)", refers), table
    views = _markdown_table(text, "| View | One row per |")
    assert {r[0].strip("`"): r[2] for r in views} == dict(
        _rows(con, "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal")
    )
    for name, comment in _markdown_table(text, "| Column | Its comment in the database |"):
        table, column = name.strip("`").split(".")
        assert _rows(
            con,
            "SELECT comment FROM duckdb_columns() WHERE table_name = ? AND column_name = ?",
            [table, column],
        ) == [(comment,)], name
    symbols = _markdown_table(text, "| Symbol | Meaning |")
    stored = {s: (m, w, st) for s, m, w, st in _rows(con, "SELECT * FROM symbols")}
    assert {r[0].strip("`"): (r[1], r[2], [x for x in r[3].split(", ") if x]) for r in symbols} == (
        stored
    )
    # The workbooks' legend says the same of each symbol.
    assert all(
        f"[{symbol}] {meaning}" in SYMBOL_LEGEND for symbol, (meaning, _, _) in stored.items()
    )
    # The symbols table is what the benchmarks show: each status has its one symbol.
    shown = _rows(con, "SELECT DISTINCT status, symbol FROM benchmarks WHERE status <> 'ok'")
    by_status = {st: s for s, (_, _, statuses) in stored.items() for st in statuses}
    assert len(shown) >= 4 and all(by_status[status] == symbol for status, symbol in shown)
    # No prose left saying neutral indicators are unranked, or x and z the other way round.
    project_readme = (PROJECT / "README.md").read_text()
    assert "neutral one (neither higher nor lower is better) is not\nranked:" not in project_readme
    assert "not available (`x` in the return)" not in text


def test_every_readme_query_gives_the_same_answer_on_every_client(model, tmp_path):
    queries = statements(README.read_text())
    numbered = [q for q in queries if re.match(r"-- \d+\. ", q)]
    assert len(numbered) >= 20
    for client, (_, _, expected) in CLIENTS.items():
        assert version(client).startswith(expected), client
    results = {
        client: answers(client, model["published"], queries, tmp_path / client.replace(" ", "_"))
        for client in CLIENTS
    }
    reference = results["Python 2.0"]
    for client, result in results.items():
        for query, mine, theirs in zip(queries, result, reference, strict=True):
            assert mine == theirs, (client, query.splitlines()[0])
    empty = [q.splitlines()[0] for q, rows in zip(queries, reference, strict=True) if len(rows) < 2]
    # Only question 10 finds nobody on the samples (three rises running need four quarters).
    assert [q[:6] for q in empty] == ["-- 10."]


def test_the_readme_own_database_recipe_attaches_the_warehouse_on_every_client(model, tmp_path):
    steps = statements(README.read_text(), own_database=True)
    assert any(s.lstrip("-").strip().startswith("ATTACH") or "\nATTACH" in s for s in steps)
    expected = _rows(
        model["con"],
        "SELECT count(*), count(DISTINCT quarter) FROM benchmarks "
        "WHERE indicator_id = 'ADO-I05' AND released",
    )
    assert expected[0][0] > 0
    for client in CLIENTS:
        answer = own_database_answer(
            client, model["published"], steps, tmp_path / client.replace(" ", "_")
        )
        assert answer[1] == [float(x) for x in expected[0]], client
    # The published file is untouched by an analyst's own work beside it.
    assert oct(model["published"].stat().st_mode)[-3:] in ("444", "440", "400")


def test_the_readme_python_snippet_runs_on_both_python_clients(model, tmp_path):
    (snippet,) = statements(README.read_text(), "python")
    (tmp_path / "warehouse").mkdir()
    (tmp_path / "warehouse" / "liia.duckdb").symlink_to(model["published"])
    printed = set()
    for client in ("Python 2.0", "Python 1.1"):
        _, python, _ = CLIENTS[client]
        run = subprocess.run(
            [str(python), "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0, (client, run.stderr)
        printed.add(run.stdout)
    assert printed == {f"[('2026-27-Q2', '2026-27 Q2')] {33 * 8}\n"}


def _sentences(text: str) -> str:
    return " ".join(text.replace("- Ties and rounding", "Ties and rounding").split())


def test_ties_and_rounding_are_one_rule_written_once_and_the_sql_keeps_it():
    rule = re.search(
        r"Ties and rounding: .*?none of them is flagged\.", _sentences(README.read_text())
    )
    assert rule is not None
    assert rule.group(0) in _sentences((PROJECT / "README.md").read_text())

    catalogue = load_catalogue()
    indicator = catalogue.indicators.query(
        "polarity == 'higher_is_better' and comparison == 'rate' and decimals == 1"
    ).iloc[0]
    # ten units: 4.04 and 4.01 are equal as shown (4.0) and straddle the top fifth's edge (2)
    values = [5.0, 4.04, 4.01, 3.0, 2.5, 2.0, 1.5, 1.0, 0.51, 0.2]
    frame = pd.DataFrame(
        {
            "scope": "any",
            "unit": [f"U{i:02d}" for i in range(10)],
            "indicator_id": indicator["id"],
            "value": values,
            "status": "ok",
            "low_reliability": False,
        }
    )
    con = duckdb.connect()
    con.register("unit_indicators", frame)
    con.register("catalogue_indicators", catalogue.indicators)
    out = con.execute(UNIT_BENCHMARK_SQL, {"fifth": FIFTH}).df().set_index("unit")
    assert out.loc[["U01", "U02"], "rank"].tolist() == [2, 2]  # equal as shown share a rank
    assert out.loc["U00", "top_bottom_20"] == "top 20%"
    assert out.loc[["U01", "U02"], "top_bottom_20"].isna().all()  # straddling: none flagged
    assert out.loc[["U08", "U09"], "top_bottom_20"].eq("bottom 20%").all()
    shown = [round(v, 1) for v in values]
    assert out["london_median"].iloc[0] == pytest.approx(pd.Series(shown).median())
    assert out["london_upper_quartile"].iloc[0] == pytest.approx(pd.Series(shown).quantile(0.75))
    assert out["london_max"].iloc[0] == 5.0 and out["london_min"].iloc[0] == 0.2


def test_figures_of_a_quarter_not_yet_released_are_marked_and_left_out_of_the_recipes(
    tmp_path, six_region_run, monkeypatch
):
    """One early return for the quarter under way: its rows say so, and the README's recipes
    and views, which show released quarters, do not make it a one-authority London."""
    # Q1 run and released, as the session's six-region run left it after its first quarter (a
    # copy, to run on from); of Q2, only Barnet's return has come.
    folder = copy_of_six_region_first_quarter(six_region_run, tmp_path / "run", monkeypatch)
    inbox = folder / "region" / "inbox"
    for path in (inbox / "2026-27-Q2").iterdir():
        if not path.name.startswith("Barnet "):
            path.unlink()
    early = {AS_OF_TAG: "2026-10-20T09:00:00"}  # three weeks into collecting Q2
    assert run_quarter(folder, inbox, "2026-27-Q2", tags=early).success
    with duckdb.connect(str(folder / "published" / "liia.duckdb"), read_only=True) as con:
        for table in QUARTERLY_TABLES:
            marks = con.execute(
                f"SELECT quarter, released, latest_release FROM {table} GROUP BY ALL ORDER BY 1"
            ).fetchall()
            expected = [("2026-27-Q1", True, 1), ("2026-27-Q2", False, None)]
            # (Barnet's return of Q2 raises no issue)
            issues = table == "validation_issues" and marks == expected[:1]
            assert marks == expected or issues, table
        recipes = statements(README.read_text())
        for number in (1, 2, 9, 11):
            (sql,) = [s for s in recipes if s.lstrip().startswith(f"-- {number}.")]
            shown = con.execute(sql).df().astype(str).to_string()
            assert "Q2" not in shown, number
            assert number == 9 or "Q1" in shown, number  # (9 needs a quarter before to compare)
        views = ["group_trends", *(f"benchmark_{theme}" for theme in THEMES)]
        for view in views:
            quarters = con.execute(f"SELECT DISTINCT quarter FROM {view}").fetchall()
            assert quarters == [("2026-27-Q1",)], view
