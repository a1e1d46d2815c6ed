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


def test_every_indicator_is_mapped_to_a_dfe_measure_or_says_why_not():
    """An indicator added to the catalogue is either set beside DfE's measure
    (published_measures.csv, with how the definitions differ) or its nearest measure and why it
    is not (published_not_mapped.csv): never left unconsidered."""
    import pandas as pd

    from pipelines.benchmark.published import load_mappings, read_dictionary
    from tests.conftest import PROJECT

    catalogue = PROJECT / "schemas" / "catalogue"
    indicators = set(pd.read_csv(catalogue / "indicators.csv")["id"])
    mapped = load_mappings()
    not_mapped = pd.read_csv(catalogue / "published_not_mapped.csv", keep_default_na=False)
    assert set(mapped["indicator_id"]).isdisjoint(not_mapped["indicator_id"])
    assert set(mapped["indicator_id"]) | set(not_mapped["indicator_id"]) == indicators
    assert not_mapped["indicator_id"].is_unique and (not_mapped["why_not"].str.len() > 20).all()
    assert (mapped["difference"].str.len() > 20).all()
    dictionary = read_dictionary(PROJECT / "reference" / "dfe").set_index("measure")
    named = [m for m in not_mapped["nearest_measure"] if m]
    assert set(named) | set(mapped["measure"]) <= set(dictionary.index)
    # DfE's own polarity, as its dictionary gives it
    polarity = {"High": "high", "Low": "low"}
    for m in mapped.itertuples():
        assert m.dfe_polarity == polarity.get(dictionary.loc[m.measure, "polarity"], "none")
