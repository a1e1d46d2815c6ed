"""Writes the neighbour group sets of the catalogue from the project's copy of DfE's files:
`schemas/catalogue/groups/dfe_neighbours.csv` (DfE's neighbours that are in London) and
`london_neighbours.csv` (topped up from the London model; see pipelines/benchmark/neighbours.py).

Run `uv run python scripts/make_neighbours.py` after DfE publishes new neighbours or the model
changes; a test checks the files are what this script writes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.benchmark.neighbours import (
    context_measures,
    dfe_london_neighbours,
    london_neighbours,
    model_distances,
    read_dfe_neighbours,
)
from pipelines.collection.catalogue import CATALOGUE_DIR, load_authorities

REFERENCE = Path(__file__).resolve().parent.parent / "reference" / "dfe"
NEIGHBOURS_FILE = REFERENCE / "statistical_neighbours_may_2025.xlsx"
PUBLISHED_FILE = REFERENCE / "lait_published_long.parquet"


def neighbour_sets() -> dict[str, pd.DataFrame]:
    authorities = load_authorities()
    dfe = read_dfe_neighbours(NEIGHBOURS_FILE)
    distances = model_distances(context_measures(PUBLISHED_FILE, authorities))
    names = authorities.table.set_index("liia_code")["name"]
    sets = {
        "dfe_neighbours.csv": dfe_london_neighbours(dfe, authorities),
        "london_neighbours.csv": london_neighbours(dfe, distances, authorities),
    }
    for frame in sets.values():
        frame.insert(2, "name", frame["authority"].map(names))
        frame.insert(1, "group_name", frame["group"].map(names))
    return sets


def main() -> None:
    for name, frame in neighbour_sets().items():
        frame.to_csv(CATALOGUE_DIR / "groups" / name, index=False, lineterminator="\n")
        print(f"{name}: {len(frame)} rows")


if __name__ == "__main__":
    main()
