"""A synthetic national reference set: 153 authorities in nine regions, for the scale benchmark."""

from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = [
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
]


def write_authorities(path: Path, count: int, seed: int = 153) -> Path:
    """The authority list in the project's format (see schemas/catalogue/authorities.csv)."""
    rng = np.random.default_rng(seed)
    numbers = range(1, count + 1)
    table = pd.DataFrame(
        {
            "ons_code": [f"E99{n:06d}" for n in numbers],
            "dfe_la_code": [str(900 + n) for n in numbers],
            "liia_code": [f"N{n:03d}" for n in numbers],
            "name": [f"Synthetic Authority {n:03d}" for n in numbers],
            "inner_outer_ons": ["Inner" if n % 3 == 0 else "Outer" for n in numbers],
            "inner_outer_statutory": ["Inner" if n % 3 == 0 else "Outer" for n in numbers],
            "sub_region": [REGIONS[n % len(REGIONS)] for n in numbers],
            "population_0_17": rng.lognormal(np.log(60_000), 0.5, count).round(-2).astype(int),
            "aliases": "",
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path
