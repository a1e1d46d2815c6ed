"""The disclosure audit: how far an intruder can narrow each suppressed count, given every figure
the public edition shows.

The intruder knows what the public edition shows and what is public anyway: each authority's
child population, who is in which group, and the rule itself. From those, every shown figure is an
interval (the value as shown, plus or minus half its last decimal), and each is a ratio of linear
sums of the items behind it (`catalogue.ratio_form`), so each gives two linear inequalities:

    numerator - high * denominator <= 0   and   numerator - low * denominator >= 0

for an authority's own figure, and the same over the members' sums for a group figure (London,
Inner/Outer, sub-region), with `n` members known. Counts are whole and non-negative; a count shared
by several indicators (children looked after in four) is one unknown; a zero denominator shown as
z is a zero; because the rule is public, every count behind a figure that is shown is known not
to be from 1 to 5 (0, or 6 and over); and the catalogue's consistency rules (items.csv: FIN04 <=
ADO12, ...) hold between each authority's items, since a return that breaks one has those values
excluded. Ranks, bands, flags and order statistics of the public edition are taken over the shown
values only, so they add nothing to this; and complementary suppressions are chosen from public
facts alone (groups shared, figures it hides, child population), so knowing how they are chosen
says nothing of the values hidden.

For each suppressed count, the smallest and largest value consistent with all of that is found by
integer linear programming (scipy's `milp`, HiGHS). It is protected when that range runs from 0 to
at least PROTECTION_MARGIN: the intruder cannot tell a 3 from a 0 or from a 10.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_array

from pipelines.collection.catalogue import ONE, POPULATION

# 10: twice the top of the suppressed range, so the range an intruder is left with holds zero,
# every small count, and counts the rule would have published.
PROTECTION_MARGIN = 10
SMALL = (1, 5)
COUNT_CEILING = 100_000  # above any one authority's count of anything in the return
OTHER_CEILING = 1e12  # £, FTE and days: no useful bound
# HiGHS does not keep its time limit (a part of 81 counts without presolve: 45-150 s on 20 s), so
# a number of nodes bounds each search as well, the same on any machine. The most a search that
# found a point took, in the suite and in scripts/late_revisions, is 254 nodes; that part reaches
# 10,000 in 11 s.
SOLVE_SECONDS = 20.0
SOLVE_NODES = 10_000
# The first try, with HiGHS's presolve, of whether a point exists: its time limit is not kept
# (a part of 18 counts of six authorities: 6 s on a limit of 1 s, 24,086 nodes without a point,
# where without presolve the answer takes 0.02 s), so a number of nodes bounds it as well. The
# points it finds are found at the root (the part of 81 counts: one node).
QUICK_SECONDS = 1.0
QUICK_NODES = 100
# Where a count's denominator is hidden too, its largest value is near COUNT_CEILING; what matters
# is only that it passes the margin, so the exact audit looks no further than this (a largest of
# 100 means 100 or more).
LARGEST_SHOWN = 10 * PROTECTION_MARGIN

Var = tuple[str, str]  # (unit, ref)
VERSION_MARK = "@"  # an item's unknown in an earlier release, changed since: (BAR@17, ADO12)


@dataclass(frozen=True)
class Shown:
    """One figure as the public sees it: the members whose items add up to it and its interval,
    or `zero_denominator` for a z."""

    indicator: str
    members: tuple[str, ...]
    low: float | None = None
    high: float | None = None
    zero_denominator: bool = False
    release: int = 0  # 0: the release audited; n: an earlier one still public (Model.versions)


@dataclass
class Model:
    """A quarter as the intruder sees it."""

    forms: dict[str, tuple[dict, dict]]  # indicator -> (numerator, denominator) linear forms
    population: dict[str, float]  # unit -> children 0-17
    counts: set[str]  # refs that are whole counts
    negative: set[str]  # refs that may be negative
    shown: list[Shown] = field(default_factory=list)
    not_small: set[Var] = field(default_factory=set)  # counts behind a shown authority figure
    # the consistency rules, each between one unit's items: ({ref: coef}, lower, upper)
    rules: list[tuple[dict[str, float], float, float]] = field(default_factory=list)
    # of each earlier release, the items that have changed since and so are other unknowns then:
    # release -> {(unit, ref): (unit@version, ref)}; an item not listed is the same unknown
    versions: dict[int, dict[Var, Var]] = field(default_factory=dict)


def interval(value: float, decimals: int) -> tuple[float, float]:
    """What a figure shown to `decimals` places may have been."""
    half = 0.5 * 10.0 ** (-int(decimals))
    return value - half, value + half


def _sum_form(model: Model, figure: Shown, part: int):
    """A form over the figure's members' items: ({var: coef}, constant)."""
    coefs: dict[Var, float] = {}
    constant = 0.0
    versions = model.versions.get(figure.release, {})
    for unit in figure.members:
        for name, coef in model.forms[figure.indicator][part].items():
            if name == ONE:
                constant += coef
            elif name == POPULATION:
                constant += coef * model.population[unit]
            else:
                var = versions.get((unit, name), (unit, name))
                coefs[var] = coefs.get(var, 0.0) + coef
    return coefs, constant


def rows_of(model: Model, figure: Shown) -> list[tuple[dict[Var, float], float, float]]:
    """The linear constraints (coefs, lower, upper) that one shown figure puts on the items."""
    num, num_c = _sum_form(model, figure, 0)
    den, den_c = _sum_form(model, figure, 1)
    if figure.zero_denominator:
        return [(den, -den_c, -den_c)] if den else []
    if not den:  # a public denominator: the numerator lies in an interval
        lo, hi = sorted((figure.low * den_c - num_c, figure.high * den_c - num_c))
        return [(num, lo, hi)] if num else []
    rows = []
    for bound, is_upper in ((figure.high, True), (figure.low, False)):
        coefs = dict(num)
        for var, c in den.items():
            coefs[var] = coefs.get(var, 0.0) - bound * c
        rhs = bound * den_c - num_c
        rows.append((coefs, -np.inf, rhs) if is_upper else (coefs, rhs, np.inf))
    rows.append((den, 1e-9 - den_c, np.inf))  # a shown ratio had a denominator above zero
    return rows


class Programme:
    """The integer programme of one connected set of unknowns."""

    def __init__(self, model: Model, rows: list, variables: list[Var]):
        self.vars = variables
        self.index = {v: i for i, v in enumerate(variables)}
        small = [v for v in variables if v in model.not_small]
        self.small = small
        n, k = len(variables), len(small)
        self.n = n + k  # one binary per count known not to be 1 to 5: 0, or 6 and over
        r_idx, c_idx, vals, lows, highs = [], [], [], [], []
        for coefs, lo, hi in rows:
            scale = max(abs(c) for c in coefs.values())
            for var, c in coefs.items():
                r_idx.append(len(lows))
                c_idx.append(self.index[var])
                vals.append(c / scale)
            lows.append(lo / scale)
            highs.append(hi / scale)
        for j, var in enumerate(small):
            for coef, lo, hi in ((-COUNT_CEILING, -np.inf, 0.0), (-(SMALL[1] + 1), 0.0, np.inf)):
                r_idx += [len(lows), len(lows)]
                c_idx += [self.index[var], n + j]
                vals += [1.0, coef]
                lows.append(lo)
                highs.append(hi)
        self.matrix = coo_array((vals, (r_idx, c_idx)), shape=(len(lows), self.n)).tocsr()
        self.lows, self.highs = np.array(lows), np.array(highs)
        ref_of = [v[1] for v in variables]
        self.integrality = np.array([1 if r in model.counts else 0 for r in ref_of] + [1] * k)
        self.lower = np.array(
            [-OTHER_CEILING if r in model.negative else 0.0 for r in ref_of] + [0.0] * k
        )
        self.upper = np.array(
            [COUNT_CEILING if r in model.counts else OTHER_CEILING for r in ref_of] + [1.0] * k
        )

    def solve(self, objective: dict[Var, float], fixed: dict[Var, tuple[float, float]]):
        """(status, objective value): 'optimal', 'feasible' (a solution found but not proven best
        within the limits), 'infeasible' or 'unknown'."""
        problem = self.problem(objective, fixed)
        if not objective:
            # With its presolve, HiGHS finds a point in a fraction of a second where without it it
            # can search for minutes (a quarter released early, then revised after many late
            # returns: 54 counts, each solve past its time limit, the release an hour long). Its
            # presolve is not trusted to say a part is infeasible (below), but a point it finds
            # is checked here against every row: one that holds is proof enough.
            from scipy.optimize import milp

            quick = milp(
                **problem, options={"time_limit": QUICK_SECONDS, "node_limit": QUICK_NODES}
            )
            if quick.x is not None:
                point = np.where(self.integrality == 1, np.round(quick.x), quick.x)
                if self._holds(point, problem["bounds"].lb, problem["bounds"].ub):
                    self.last_solution = point
                    return "optimal", 0.0
        return self.search(problem)

    def problem(self, objective: dict[Var, float], fixed: dict[Var, tuple[float, float]]) -> dict:
        """The programme as scipy's `milp` takes it, with these unknowns' bounds narrowed."""
        c = np.zeros(self.n)
        for var, w in objective.items():
            c[self.index[var]] = w
        lower, upper = self.lower.copy(), self.upper.copy()
        for var, (lo, hi) in fixed.items():
            lower[self.index[var]], upper[self.index[var]] = lo, hi
        # imported here: scipy.optimize takes 0.16 s to import, in every `liia` command otherwise
        from scipy.optimize import Bounds, LinearConstraint

        return {
            "c": c,
            "integrality": self.integrality,
            "bounds": Bounds(lower, upper),
            "constraints": LinearConstraint(self.matrix, self.lows, self.highs),
        }

    def search(self, problem: dict) -> tuple[str, float | None]:
        """HiGHS without its presolve, within SOLVE_SECONDS and SOLVE_NODES: what `solve` says."""
        from scipy.optimize import milp

        # HiGHS's presolve declared feasible parts infeasible (seen on the sample 2024-25 Q4, the
        # true values satisfying every row); the parts are small enough to solve without it
        options = {"time_limit": SOLVE_SECONDS, "node_limit": SOLVE_NODES, "presolve": False}
        result = milp(**problem, options=options)
        self.last_solution = result.x  # a witness: the unknowns' values it found, if any
        if result.status == 2:
            return "infeasible", None
        if result.x is None:
            return "unknown", None
        return ("optimal" if result.status == 0 else "feasible"), float(result.fun)

    def satisfied_by(self, values: dict[Var, float]) -> bool:
        """Whether these values of the unknowns meet every row: the truth must."""
        x = np.array(
            [values[v] for v in self.vars] + [float(values[v] > SMALL[1]) for v in self.small]
        )
        return self._holds(x, self.lower, self.upper)

    def _holds(self, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> bool:
        """Whether the point `x` (every unknown, then the binaries) lies within the bounds and
        meets every row."""
        ax = self.matrix @ x
        slack = 1e-6 * np.maximum(1.0, np.abs(ax))
        return bool(
            (x >= lower).all()
            and (x <= upper).all()
            and (ax >= self.lows - slack).all()
            and (ax <= self.highs + slack).all()
        )


def rule_rows(model: Model, known: set[Var]) -> list[tuple[dict[Var, float], float, float]]:
    """The consistency rules between the items of each unit that the figures hold. A rule with an
    item no figure holds says nothing: that item can take any value that satisfies it."""
    rows = []
    for unit in sorted({u for u, _ in known if VERSION_MARK not in u}):
        for refs, low, high in model.rules:
            coefs = {(unit, ref): c for ref, c in refs.items()}
            if coefs.keys() <= known:
                rows.append((coefs, low, high))
    # an earlier return's items, changed since, kept its rules with its other items then
    for versions in model.versions.values():
        for unit in sorted({u for u, _ in versions}):
            for refs, low, high in model.rules:
                if not any((unit, ref) in versions for ref in refs):
                    continue
                coefs = {versions.get((unit, ref), (unit, ref)): c for ref, c in refs.items()}
                if coefs.keys() <= known:
                    rows.append((coefs, low, high))
    return list({(tuple(sorted(c.items())), lo, hi): (c, lo, hi) for c, lo, hi in rows}.values())


def programmes(model: Model, targets: list[Var]) -> list[tuple[Programme, list[Var]]]:
    """The model split into its connected parts (unknowns linked by a constraint), each with its
    targets: a part with no target needs no solving."""
    return [
        (Programme(model, rows, variables), mine) for rows, variables, mine in parts(model, targets)
    ]


def parts(model: Model, targets: list[Var]) -> list[tuple[list, list[Var], list[Var]]]:
    """The connected parts of the model that hold a target: (rows, unknowns, targets)."""
    rows = [row for figure in model.shown for row in rows_of(model, figure) if row[0]]
    rows += rule_rows(model, {v for coefs, _, _ in rows for v in coefs} | set(targets))
    parent: dict[Var, Var] = {}

    def find(v: Var) -> Var:
        while parent.setdefault(v, v) != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for coefs, _, _ in rows:
        first, *rest = coefs
        for v in rest:
            parent[find(v)] = find(first)
    for t in targets:
        find(t)
    by_root: dict[Var, list] = {}
    for row in rows:
        by_root.setdefault(find(next(iter(row[0]))), []).append(row)
    out = []
    for root in dict.fromkeys(find(t) for t in targets):
        part_rows = by_root.get(root, [])
        variables = sorted({v for coefs, _, _ in part_rows for v in coefs} | {root})
        out.append((part_rows, variables, [t for t in targets if find(t) == root]))
    return out


@dataclass(frozen=True)
class Finding:
    unit: str
    ref: str
    smallest: float | None  # the smallest value possible, where computed (exact audit)
    largest: float | None  # the largest, up to LARGEST_SHOWN, where computed
    protected: bool


def audit(
    model: Model, targets: list[Var], exact: bool = False, memo: dict | None = None
) -> list[Finding]:
    """Whether each target count is protected. `exact` finds its smallest and largest possible
    values, the largest up to LARGEST_SHOWN; otherwise one programme per
    part first tries to reach 0 and the margin for every target at once, and solves one by one
    only where that fails. `memo` keeps each part's findings for the next audit of the same
    quarter (choosing complements audits again after each): a part no new suppression touched is
    the same programme, and is not solved again."""
    todo = [
        ((exact, tuple(mine), _signature(rows, model)), rows, variables, mine)
        for rows, variables, mine in parts(model, targets)
    ]

    def solved(part) -> list[Finding]:
        key, rows, variables, mine = part
        if memo is not None and key in memo:
            return memo[key]
        return _audit_part(model, Programme(model, rows, variables), mine, exact)

    # HiGHS lets go of Python's lock while it solves: the parts are solved on every core
    with ThreadPoolExecutor(max(1, min(os.cpu_count() or 1, len(todo)))) as pool:
        found = list(pool.map(solved, todo))
    findings = []
    for (key, *_), mine in zip(todo, found, strict=True):
        if memo is not None:
            memo[key] = mine
        findings += mine
    return findings


def _signature(rows: list, model: Model) -> tuple:
    """What makes a part's programme: its rows and which of its counts are known not small."""
    variables = {v for coefs, _, _ in rows for v in coefs}
    return (
        tuple((tuple(sorted(coefs.items())), low, high) for coefs, low, high in rows),
        tuple(sorted(variables & model.not_small)),
    )


def _audit_part(model: Model, programme: Programme, mine: list[Var], exact: bool) -> list:
    """The findings of one part's targets."""
    if exact:
        findings = []
        for t in mine:
            smallest = _extreme(programme, t, upward=False)
            largest = _extreme(programme, t, upward=True)
            ok = (
                smallest is not None
                and largest is not None
                and smallest == 0
                and largest >= PROTECTION_MARGIN
            )
            findings.append(Finding(t[0], t[1], smallest, largest, ok))
        return findings
    reach_zero = _reachable(programme, mine, (0.0, 0.0))
    reach_margin = _reachable(programme, mine, (PROTECTION_MARGIN, COUNT_CEILING))
    return [Finding(t[0], t[1], None, None, reach_zero[t] and reach_margin[t]) for t in mine]


def _reachable(programme: Programme, targets: list[Var], bounds: tuple) -> dict[Var, bool]:
    """Whether each target can lie within `bounds` with every shown figure as it is."""
    status, _ = programme.solve({}, {t: bounds for t in targets})
    if status in ("optimal", "feasible"):
        return dict.fromkeys(targets, True)
    if len(targets) == 1:
        return {targets[0]: False}
    low, high = bounds
    found: dict[Var, bool] = {}
    for t in targets:
        if t in found:
            continue
        found[t] = programme.solve({}, {t: bounds})[0] in ("optimal", "feasible")
        if found[t]:  # the values it found may put other targets in bounds too: no solve for them
            x = programme.last_solution
            for other in targets:
                value = x[programme.index[other]]
                if other not in found and low - 1e-6 <= value <= high + 1e-6:
                    found[other] = True
    return found


def _extreme(programme: Programme, t: Var, upward: bool) -> int | None:
    """The count's largest value up to LARGEST_SHOWN (upward) or its smallest, by bisection on
    whether it can lie in a range: HiGHS answers those in milliseconds where optimising the count
    itself took it minutes. None when no value from 0 to LARGEST_SHOWN is possible."""

    def possible(lo: int, hi: float) -> bool:
        return programme.solve({}, {t: (lo, hi)})[0] in ("optimal", "feasible")

    top = int(LARGEST_SHOWN)
    if upward and possible(top, COUNT_CEILING):
        return top
    if not upward and possible(0, 0):
        return 0
    if not possible(0, top):
        return None
    low, high = 0, top  # the answer lies in [low, high]
    while low < high:
        if upward:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if possible(mid, top) else (low, mid - 1)
        else:
            mid = (low + high) // 2
            low, high = (low, mid) if possible(0, mid) else (mid + 1, high)
    return low
