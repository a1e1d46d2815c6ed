"""Which figures a pack puts first, worked out without a workbook: the biggest concerns and
strengths by where each ranked figure stands in London, and the three parts of To explain."""

from types import SimpleNamespace

from pipelines.packs import CONCERN, STRENGTH, UNUSUAL, headlines, standing, to_explain


def _ind(id, comparison="rate", polarity="lower_is_better"):
    return SimpleNamespace(id=id, name=f"Indicator {id}", comparison=comparison, polarity=polarity)


def _row(rank, n, flag=None):
    return {"rank": rank, "n_reporting": n, "top_bottom_20": flag}


def test_standing_runs_from_the_best_to_the_worst_of_those_ranked():
    assert standing(_row(1, 30)) == 0 and standing(_row(30, 30)) == 1
    assert standing(_row(None, 30)) is None
    # 26th of 29 stands worse than 27th of 33: the share of London, not the rank, orders them
    assert standing(_row(26, 29)) > standing(_row(27, 33))


def test_concerns_are_the_worst_standing_and_strengths_the_best_never_a_total_or_neutral():
    indicators = [_ind("A"), _ind("B"), _ind("C"), _ind("D"), _ind("E"), _ind("F"), _ind("G")]
    indicators += [_ind("T", comparison="total"), _ind("N", polarity="neutral")]
    mine = {
        "A": _row(30, 30, "bottom 20%"),
        "B": _row(2, 30, "top 20%"),
        "C": _row(25, 29, "bottom 20%"),
        "D": _row(1, 15, "top 20%"),
        "E": _row(15, 30),
        "F": _row(20, 30),
        "G": _row(None, 30),
        "T": _row(33, 33),  # a total carries no rank in the warehouse; this one must be ignored
        "N": _row(1, 30, "lowest 20%"),
    }
    concerns, strengths = headlines(mine, indicators)
    assert [i.id for i in concerns] == ["A", "C", "F"]
    assert [i.id for i in strengths] == ["D", "B", "E"]
    parts = [(part.split(":")[0], ind.id) for part, ind in to_explain(mine, indicators)]
    assert parts == [
        (CONCERN, "A"),
        (CONCERN, "C"),
        (STRENGTH, "D"),
        (STRENGTH, "B"),
        (UNUSUAL, "N"),
    ]


def test_few_ranked_figures_give_fewer_headlines_never_one_twice():
    indicators = [_ind("A"), _ind("B"), _ind("C"), _ind("D")]
    mine = {k: _row(r, 10) for k, r in zip("ABCD", (1, 4, 7, 10), strict=True)}
    concerns, strengths = headlines(mine, indicators)
    assert [i.id for i in concerns] == ["D", "C", "B"] and [i.id for i in strengths] == ["A"]
