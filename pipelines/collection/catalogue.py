"""The catalogue: return items, derived indicators, template versions and the authorities.

Everything that differs between items or indicators lives in the CSV files under
`schemas/catalogue/`; this module only reads them and parses formulas and rules.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import pandas as pd

from pipelines.collection.quarters import Quarter, parse_quarter

CATALOGUE_DIR = Path(__file__).resolve().parents[2] / "schemas" / "catalogue"
# The columns of every sheet of a return: the template writes them, the reader finds them.
HEADER = ["Ref", "Measure", "Unit", "Value", "Notes", "Definition and checks"]
THEMES = {
    "finance": "Finance",
    "adolescents": "Adolescents",
    "workforce": "Workforce",
    "send": "SEND",
}
THEME_TITLES = {
    "finance": "Finance and resources",
    "adolescents": "Vulnerable adolescents",
    "workforce": "Workforce",
    "send": "Special educational needs and disabilities",
}
POPULATION = "population_0_17"


@dataclass(frozen=True)
class Rule:
    """`left op right`, where each side is a sum of item refs: `WF04 <= WF03`."""

    ref: str
    op: str
    terms: tuple[str, ...]

    @property
    def text(self) -> str:
        return f"{self.ref} {self.op} {' + '.join(self.terms)}"


_RULE_PART = re.compile(r"^(<=|>=)\s*([A-Z]+\d+(?:\s*\+\s*[A-Z]+\d+)*)$")


def parse_rules(ref: str, rule: str) -> list[Rule]:
    """`<= WF03 and <= WF02` -> two rules on `ref`."""
    if not isinstance(rule, str) or not rule.strip():
        return []
    rules = []
    for part in rule.split(" and "):
        m = _RULE_PART.match(part.strip())
        if not m:
            raise ValueError(f"{ref}: cannot read rule '{rule}'")
        terms = tuple(t.strip() for t in m[2].split("+"))
        rules.append(Rule(ref, m[1], terms))
    return rules


_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.UnaryOp,
    ast.USub,
)


def formula_refs(formula: str) -> list[str]:
    """The names a formula uses, in order of first appearance. Raises on anything but arithmetic."""
    return list(_formula_refs(formula))


@cache  # asked for every cell a workbook marks or annotates: a catalogue has a few dozen formulas
def _formula_refs(formula: str) -> tuple[str, ...]:
    tree = ast.parse(formula, mode="eval")
    names: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(
                f"formula '{formula}' uses {type(node).__name__}, only + - * / allowed"
            )
        if isinstance(node, ast.Name) and node.id not in names:
            names.append(node.id)
    return tuple(names)


def formula_sql(formula: str, column_of) -> str:
    """The formula as SQL, each name replaced by `column_of(name)`; division by zero gives NULL."""
    tree = ast.parse(formula, mode="eval")

    def emit(node) -> str:
        if isinstance(node, ast.Expression):
            return emit(node.body)
        if isinstance(node, ast.Name):
            return column_of(node.id)
        if isinstance(node, ast.Constant):
            return repr(float(node.value))
        if isinstance(node, ast.UnaryOp):
            return f"(-{emit(node.operand)})"
        if isinstance(node, ast.BinOp):
            left, right = emit(node.left), emit(node.right)
            if isinstance(node.op, ast.Div):
                return f"({left} / NULLIF({right}, 0))"
            op = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}[type(node.op)]
            return f"({left} {op} {right})"
        raise ValueError(f"formula '{formula}': unsupported {type(node).__name__}")

    return emit(tree)


ONE = ""  # the constant term of a linear form


def _linear_sum(a: dict, b: dict, sign: float) -> dict:
    out = dict(a)
    for name, coef in b.items():
        out[name] = out.get(name, 0.0) + sign * coef
    return {n: c for n, c in out.items() if c}


def ratio_form(formula: str) -> tuple[dict[str, float], dict[str, float]]:
    """The formula as numerator / denominator, each a linear form {name: coefficient} with the
    constant under ONE: `WF02 / (WF01 + WF02) * 100` is ({WF02: 100}, {WF01: 1, WF02: 1}). This is
    what a ratio of sums adds up, and what the disclosure audit's equations are made of. Raises
    for a formula that is not one linear form over another."""
    tree = ast.parse(formula, mode="eval")
    formula_refs(formula)

    def constant(form: dict) -> float | None:
        return form.get(ONE, 0.0) if set(form) <= {ONE} else None

    def form(node) -> tuple[dict, dict]:
        if isinstance(node, ast.Expression):
            return form(node.body)
        if isinstance(node, ast.Name):
            return {node.id: 1.0}, {ONE: 1.0}
        if isinstance(node, ast.Constant):
            return {ONE: float(node.value)}, {ONE: 1.0}
        if isinstance(node, ast.UnaryOp):
            n, d = form(node.operand)
            return {k: -v for k, v in n.items()}, d
        (ln, ld), (rn, rd) = form(node.left), form(node.right)
        if isinstance(node.op, ast.Add | ast.Sub):
            if ld != rd:
                raise ValueError(f"formula '{formula}' adds ratios with different denominators")
            return _linear_sum(ln, rn, 1.0 if isinstance(node.op, ast.Add) else -1.0), ld
        if isinstance(node.op, ast.Mult):
            for (n, d), (on, od) in (((ln, ld), (rn, rd)), ((rn, rd), (ln, ld))):
                k = constant(on) if constant(od) == 1.0 else None
                if k is not None:
                    return {name: c * k for name, c in n.items()}, d
            raise ValueError(f"formula '{formula}' multiplies two items")
        k = constant(rn) if constant(rd) == 1.0 else None
        if k is not None and constant(ld) == 1.0:  # a form over a constant
            return {name: c / k for name, c in ln.items()}, {ONE: 1.0}
        if constant(ld) == 1.0 and constant(rd) == 1.0:
            return ln, rn
        raise ValueError(f"formula '{formula}' is not one linear form over another")

    return form(tree)


def evaluate_formula(formula: str, names: dict[str, float]) -> float | None:
    """The formula's value for `names`; None where a name is missing or a divisor is zero."""
    ops = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b}

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            return -ev(node.operand)
        left, right = ev(node.left), ev(node.right)
        if isinstance(node.op, ast.Div):
            return None if right == 0 else left / right
        return ops[type(node.op)](left, right)

    formula_refs(formula)  # refuses anything but arithmetic
    try:
        return ev(ast.parse(formula, mode="eval"))
    except (KeyError, TypeError):  # a missing name, or None from a zero divisor
        return None


@dataclass(frozen=True)
class Catalogue:
    items: pd.DataFrame
    indicators: pd.DataFrame
    template_versions: pd.DataFrame
    rules: tuple[Rule, ...]
    units: (
        pd.DataFrame
    )  # unit -> label, decimals (the precision values are collected and compared at)

    @cached_property
    def first_quarter(self) -> Quarter:
        """The first quarter collected: that of the first template."""
        return min(parse_quarter(q) for q in self.template_versions["first_quarter"])

    @cached_property
    def whole_number_units(self) -> set[str]:
        return set(self.units.index[self.units["decimals"] == 0])

    @cached_property
    def item_decimals(self) -> dict[str, int]:
        """Each item's decimals, by Ref: rules compare its values rounded to these."""
        units = self.items.set_index("ref")["unit"]
        return {ref: int(self.units.at[unit, "decimals"]) for ref, unit in units.items()}

    @cached_property
    def _version_starts(self) -> list[tuple[Quarter, int]]:
        return sorted(
            (parse_quarter(row.first_quarter), int(row.version))
            for row in self.template_versions.itertuples()
        )

    def template_version(self, quarter: Quarter) -> int:
        versions = [version for first, version in self._version_starts if first <= quarter]
        if not versions:
            raise ValueError(f"no template version covers {quarter.label}")
        return max(versions)

    def items_for(self, version: int, theme: str | None = None) -> pd.DataFrame:
        items = self.items[self.items["since_template"] <= version]
        return items if theme is None else items[items["theme"] == theme]

    def rules_for(self, version: int) -> list[Rule]:
        known = set(self.items_for(version)["ref"])
        return [r for r in self.rules if r.ref in known and set(r.terms) <= known]


@cache
def load_catalogue(directory: Path = CATALOGUE_DIR) -> Catalogue:
    items = pd.read_csv(directory / "items.csv", dtype={"rule": "string"})
    items["can_be_negative"] = items["can_be_negative"].eq("yes")
    indicators = pd.read_csv(directory / "indicators.csv")
    if "comparison" not in indicators:  # an older catalogue: every indicator a rate
        indicators["comparison"] = "rate"
    indicators["comparison"] = indicators["comparison"].fillna("rate")
    if "comparison_note" not in indicators:
        indicators["comparison_note"] = ""
    indicators["comparison_note"] = indicators["comparison_note"].fillna("")
    # The unit in a reader's words where the unit's own label says too little (a ratio of what)
    if "unit_words" not in indicators:
        indicators["unit_words"] = ""
    indicators["unit_words"] = indicators["unit_words"].fillna("")
    # What a figure counts, for the test of whether it stands out (pipelines.benchmark.standout)
    if "count_basis" not in indicators:
        indicators["count_basis"] = ""
    indicators["count_basis"] = indicators["count_basis"].fillna("")
    unknown = sorted(set(indicators["count_basis"]) - {"", "binomial", "poisson"})
    if unknown:
        raise ValueError(
            f"indicators.csv: count_basis {unknown[0]!r} is not binomial, poisson or blank"
        )
    # A figure built from a year-to-date item grows through the year: it is compared with the
    # same quarter a year earlier, never with the quarter before.
    periods = items.drop_duplicates("ref").set_index("ref").get("period", pd.Series(dtype=object))
    indicators["year_to_date"] = [
        any(periods.get(ref) == "year_to_date" for ref in formula_refs(formula))
        for formula in indicators["formula"]
    ]
    versions = pd.read_csv(directory / "template_versions.csv")
    rules = tuple(r for row in items.itertuples() for r in parse_rules(row.ref, row.rule))
    units = pd.read_csv(directory / "units.csv").set_index("unit")
    return Catalogue(items, indicators, versions, rules, units)


@dataclass(frozen=True)
class Authorities:
    """The region's authorities (configuration: another reference file serves another region)."""

    table: pd.DataFrame

    def __post_init__(self):
        lookup: dict[str, str] = {}
        for row in self.table.itertuples():
            names = [row.ons_code, str(row.dfe_la_code), row.liia_code, row.name]
            names += [a for a in row.aliases.split("|") if a.strip()]
            for name in names:
                lookup[normalise_name(name)] = row.liia_code
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_names", self.table.set_index("liia_code")["name"].to_dict())

    @property
    def codes(self) -> list[str]:
        return list(self.table["liia_code"])

    def name(self, code: str) -> str:
        return self._names[code]

    def resolve(self, text: object) -> str | None:
        """The LIIA code for any name variant, ONS code or DfE code people write; None if unknown."""
        key = normalise_name(text)
        if key in self._lookup:
            return self._lookup[key]
        for prefix in ("london borough of ", "royal borough of ", "lb ", "rb ", "city of "):
            if key.startswith(prefix) and key[len(prefix) :] in self._lookup:
                return self._lookup[key[len(prefix) :]]
        for suffix in (" london borough council", " london borough", " council"):
            if key.endswith(suffix) and key[: -len(suffix)] in self._lookup:
                return self._lookup[key[: -len(suffix)]]
        return None


def normalise_name(text: object) -> str:
    s = str(text if text is not None else "").replace("\xa0", " ").replace("&", " and ")
    s = re.sub(r"\.0$", "", s.strip())  # a DfE code typed into a number cell
    return re.sub(r"\s+", " ", s).strip().lower()


def load_authorities(path: Path | None = None) -> Authorities:
    """The region's authorities: `schemas/catalogue/authorities.csv`, or the list `LIIA_AUTHORITIES`
    names (another region, or the synthetic national set of the benchmarks)."""
    default = os.environ.get("LIIA_AUTHORITIES") or CATALOGUE_DIR / "authorities.csv"
    return _read_authorities(Path(path or default))


@cache
def _read_authorities(path: Path) -> Authorities:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["population_0_17"] = table["population_0_17"].astype(int)
    return Authorities(table)
