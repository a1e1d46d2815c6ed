from pathlib import Path

import pytest

from scripts.make_sample_returns import main as make_sample_returns

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def generated_returns(tmp_path_factory) -> Path:
    """A fresh run of the generator with the committed seed."""
    out = tmp_path_factory.mktemp("generated")
    make_sample_returns(["--out", str(out)])
    return out
