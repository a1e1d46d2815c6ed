"""Statistical neighbours: DfE's, as published, and London neighbours for the quarterly figures.

DfE's neighbours (children's services, May 2025) are national: many London authorities' nearest
authorities are outside London, where no quarterly LIIA figures exist. Each authority's London
neighbours are its DfE neighbours that are in London, in DfE's order, topped up to
`LONDON_NEIGHBOURS` from a London-only nearest-neighbour model over published context measures
(MODEL below). The City of London (700 children) is compared with Inner London only and is nobody's
neighbour. `scripts/make_neighbours.py` writes both as group sets of the catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook

from pipelines.collection.catalogue import Authorities

LONDON_NEIGHBOURS = 7
CITY = "CIT"  # the City of London's LIIA code
SN_SHEET = "LA SN Groups"


@dataclass(frozen=True)
class ContextMeasure:
    measure: str  # LAIT's Short Desc, or POPULATION for the catalogue's 0-17 population
    label: str
    weight: float
    log: bool = False


POPULATION = "population_0_17"
# What makes two London authorities' children's services alike: need (poverty, free school meals,
# children in need) counts fully; size half, on a log scale (a borough twice as big is as far as
# one half as big). Each is standardised over the 32 boroughs (mean 0, standard deviation 1).
MODEL = (
    ContextMeasure("ChildPov", "children in relative low income families (%)", 1.0),
    ContextMeasure("PriFSM", "primary pupils eligible for free school meals (%)", 1.0),
    ContextMeasure("CIN", "children in need per 10,000", 1.0),
    ContextMeasure(POPULATION, "population aged 0-17 (log)", 0.5, log=True),
)
# A model distance (root mean square of the weighted standardised differences, in standard
# deviations) in words, as DfE words its own closeness. Of the 496 pairs of boroughs in 2025,
# 5% are under 0.5, 16% under 0.75 and 32% under 1.0.
CLOSENESS = ((0.5, "Very close"), (0.75, "Close"), (1.0, "Somewhat close"))
NOT_CLOSE = "Not close"


def model_closeness(distance: float) -> str:
    for limit, words in CLOSENESS:
        if distance < limit:
            return words
    return NOT_CLOSE


def read_dfe_neighbours(path: Path) -> pd.DataFrame:
    """DfE's neighbours file as rows (la_code, la_name, region, position 1-10, neighbour_la_code,
    closeness): its sheet `LA SN Groups`, header on row 3 after two rows of column letters and
    numbers, then SN1, SNP, ... SN10, SNP."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(SN_SHEET).to_python()
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "LA num")
    header = [str(c) for c in rows[header_at]]
    first = header.index("SN1")
    out = []
    for row in rows[header_at + 1 :]:
        if not row or row[0] in ("", None):
            continue
        for position in range(10):
            code, closeness = row[first + 2 * position], row[first + 2 * position + 1]
            if code in ("", None):
                continue
            out.append(
                {
                    "la_code": str(int(float(row[0]))),
                    "la_name": str(row[1]),
                    "region": str(row[header.index("GOReg")]),
                    "position": position + 1,
                    "neighbour_la_code": str(int(float(code))),
                    "closeness": str(closeness),
                }
            )
    return pd.DataFrame(out)


def context_measures(published: Path, authorities: Authorities) -> pd.DataFrame:
    """The model's measures for each authority (index: LIIA code), each its latest year in the
    published table; the population is the catalogue's."""
    codes = authorities.table.set_index("dfe_la_code")["liia_code"]
    wanted = [m.measure for m in MODEL if m.measure != POPULATION]
    con = duckdb.connect()
    rows = con.execute(
        """
        WITH v AS (
            SELECT "Short Desc" AS measure, "Years" AS year,
                   CAST(CAST("LA Number" AS INTEGER) AS VARCHAR) AS la_code,
                   try_cast("Values" AS DOUBLE) AS value
            FROM read_parquet(?)
            WHERE "Short Desc" IN (SELECT unnest(?::VARCHAR[]))
        ),
        latest AS (SELECT measure, max(year) AS year FROM v GROUP BY measure)
        SELECT v.measure, v.year, v.la_code, v.value FROM v JOIN latest USING (measure, year)
        """,
        [str(published), wanted],
    ).df()
    con.close()
    rows = rows[rows["la_code"].isin(codes.index)]
    table = rows.pivot(index="la_code", columns="measure", values="value")
    table.index = table.index.map(codes)
    table[POPULATION] = authorities.table.set_index("liia_code")[POPULATION].astype(float)
    table.attrs["years"] = rows.drop_duplicates("measure").set_index("measure")["year"].to_dict()
    return table[[m.measure for m in MODEL]]


def model_distances(context: pd.DataFrame) -> pd.DataFrame:
    """Distance between every two authorities of `context` (the City left out): the root mean
    square, weighted, of their standardised differences on the model's measures."""
    boroughs = context.drop(index=CITY, errors="ignore").dropna()
    values = boroughs.copy()
    for m in MODEL:
        if m.log:
            values[m.measure] = np.log(values[m.measure])
    z = (values - values.mean()) / values.std(ddof=0)
    weights = np.array([m.weight for m in MODEL])
    scaled = z.to_numpy() * np.sqrt(weights / weights.sum())
    # imported here: scipy.spatial takes 0.16 s to import, in every `liia` command otherwise
    from scipy.spatial.distance import cdist

    return pd.DataFrame(cdist(scaled, scaled), index=boroughs.index, columns=boroughs.index)


def london_neighbours(
    dfe: pd.DataFrame, distances: pd.DataFrame, authorities: Authorities, n: int = LONDON_NEIGHBOURS
) -> pd.DataFrame:
    """Each borough's London neighbours (group = the borough, authority = its neighbour), position
    1 to n: its DfE neighbours in London in DfE's order, then the model's nearest not yet listed.
    Each says where it came from and how close it is (DfE's words for DfE's, the model's otherwise;
    the model distance for all)."""
    codes = authorities.table.set_index("dfe_la_code")["liia_code"]
    out = []
    for focus in distances.index:
        code = authorities.table.set_index("liia_code").at[focus, "dfe_la_code"]
        own = dfe[dfe["la_code"] == code].sort_values("position")
        chosen: list[tuple[str, str, str]] = []
        for row in own.itertuples():
            neighbour = codes.get(row.neighbour_la_code)
            if neighbour and neighbour != CITY and neighbour != focus:
                chosen.append((neighbour, "DfE statistical neighbour", row.closeness))
        for neighbour in distances[focus].drop(focus).sort_values(kind="stable").index:
            if len(chosen) >= n:
                break
            if neighbour not in {c[0] for c in chosen}:
                words = model_closeness(distances.at[focus, neighbour])
                chosen.append((neighbour, "London model", words))
        for position, (neighbour, source, closeness) in enumerate(chosen, start=1):
            out.append(
                {
                    "group": focus,
                    "authority": neighbour,
                    "position": position,
                    "closeness": closeness,
                    "distance": round(float(distances.at[focus, neighbour]), 3),
                    "source": source,
                }
            )
    return pd.DataFrame(out)


def dfe_london_neighbours(dfe: pd.DataFrame, authorities: Authorities) -> pd.DataFrame:
    """DfE's own neighbours of each London authority that are themselves in London, the City of
    London left out on both sides (its DfE neighbours are all "Not close")."""
    codes = authorities.table.set_index("dfe_la_code")["liia_code"]
    boroughs = codes[codes != CITY]
    rows = dfe[dfe["la_code"].isin(boroughs.index) & dfe["neighbour_la_code"].isin(boroughs.index)]
    return pd.DataFrame(
        {
            "group": rows["la_code"].map(codes).to_numpy(),
            "authority": rows["neighbour_la_code"].map(codes).to_numpy(),
            "position": rows["position"].to_numpy(),
            "closeness": rows["closeness"].to_numpy(),
            "source": "DfE statistical neighbour",
        }
    )
