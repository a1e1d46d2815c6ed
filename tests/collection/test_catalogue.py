import pytest

from pipelines.collection.catalogue import (
    formula_refs,
    formula_sql,
    load_authorities,
    load_catalogue,
)
from pipelines.collection.quarters import Quarter, QuarterError, parse_quarter

catalogue = load_catalogue()


def test_every_rule_names_items_that_exist():
    refs = set(catalogue.items["ref"])
    assert catalogue.rules
    for rule in catalogue.rules:
        assert rule.ref in refs and set(rule.terms) <= refs, rule.text


def test_every_formula_parses_and_uses_known_items():
    names = set(catalogue.items["ref"]) | {"population_0_17"}
    for row in catalogue.indicators.itertuples():
        used = formula_refs(row.formula)
        assert used and set(used) <= names, row.id
        assert "NULLIF" in formula_sql(row.formula, str) or "/" not in row.formula
        if isinstance(row.reliability_denominator, str):
            assert row.reliability_denominator in used


def test_formulas_refuse_anything_but_arithmetic():
    with pytest.raises(ValueError):
        formula_refs("__import__('os').system('x')")


def test_each_template_version_has_its_item_set():
    v1 = set(catalogue.items_for(1)["ref"])
    v2 = set(catalogue.items_for(2)["ref"])
    assert v2 - v1 == {"WF12", "SEN08", "SEN09"}
    assert len(v2) == 55
    assert catalogue.template_version(parse_quarter("2024-25 Q4")) == 1
    assert catalogue.template_version(parse_quarter("2025-26 Q1")) == 2


@pytest.mark.parametrize(
    "written, code",
    [
        ("LB Barking & Dagenham", "BAD"),
        ("Royal Borough of Greenwich", "GRE"),
        ("Richmond", "RUT"),
        ("E09000001", "CIT"),
        ("316", "NEW"),
        ("316.0", "NEW"),
        ("kingston\xa0upon thames", "KUT"),
    ],
)
def test_authority_resolves_from_what_people_write(written, code):
    assert load_authorities().resolve(written) == code


def test_unknown_authority_is_not_guessed():
    assert load_authorities().resolve("Barking") is None
    assert len(load_authorities().codes) == 33


@pytest.mark.parametrize(
    "text", ["2026-27 Q2", "2026-27-Q2", "Q2 2026-27", "2026/27 Q2", "2026-2027 Q2"]
)
def test_quarter_variants_people_type(text):
    assert parse_quarter(text) == Quarter(2026, 2)


@pytest.mark.parametrize("text", ["Q2", "2026 Q2", "2026-28 Q2", "Q5 2026-27", "", "July 2026"])
def test_ambiguous_quarters_are_refused(text):
    with pytest.raises(QuarterError):
        parse_quarter(text)


def test_quarter_dates_and_neighbours():
    q = parse_quarter("2026-27 Q4")
    assert (q.start.isoformat(), q.end.isoformat()) == ("2027-01-01", "2027-03-31")
    assert q.next().key == "2027-28-Q1" and q.year_earlier().label == "2025-26 Q4"
