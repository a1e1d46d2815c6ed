import atexit
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller

from pipelines.collection.quarters import parse_quarter
from pipelines.defs.resources import LiiaPaths, QuarterStore, working_resource
from scripts.make_sample_returns import MANIFEST
from scripts.make_sample_returns import main as make_sample_returns

PROJECT = Path(__file__).resolve().parent.parent


def _copy_of_the_samples() -> Path:
    """The committed sample returns (those in sample_returns/.manifest.sha256, each checked),
    copied once per test process: no test reads the live inbox, so a file someone drops into
    sample_returns/ changes no result."""
    source = PROJECT / "sample_returns"
    copy = Path(tempfile.mkdtemp(prefix="liia-samples-")) / "sample_returns"
    atexit.register(shutil.rmtree, copy.parent, ignore_errors=True)
    for line in (source / MANIFEST).read_text().splitlines():
        sha, relative = line.split("  ", 1)
        target = copy / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target)
        if hashlib.sha256(target.read_bytes()).hexdigest() != sha:
            raise RuntimeError(
                f"sample_returns/{relative} is not the committed file: restore it with git "
                "checkout, or regenerate with scripts/make_sample_returns.py"
            )
    return copy


SAMPLE = _copy_of_the_samples()


def some_returns(quarter_key: str, folder: Path, n: int = 6) -> list[Path]:
    """The first n sample returns of a quarter (Barnet among them), copied into folder/<key>/:
    for a test of how the service behaves, which needs a few returns, not all 33."""
    target = folder / quarter_key
    target.mkdir(parents=True, exist_ok=True)
    return [
        Path(shutil.copy(path, target / path.name))
        for path in sorted((SAMPLE / quarter_key).glob("*.xlsx"))[:n]
    ]


def region(folder: Path, codes: list[str], quarters: tuple[str, ...] = ()) -> Path:
    """A region of a few authorities, for a test of how the service behaves that needs its runs
    quick: their authorities.csv (LIIA_AUTHORITIES), and their sample returns of each quarter
    copied into folder/inbox/<key>/. The region file's path."""
    import pandas as pd

    from pipelines.collection.catalogue import CATALOGUE_DIR

    folder.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(CATALOGUE_DIR / "authorities.csv", dtype=str, keep_default_na=False)
    mine = table[table["liia_code"].isin(codes)]
    mine.to_csv(folder / "authorities.csv", index=False)
    for key in quarters:
        (folder / "inbox" / key).mkdir(parents=True, exist_ok=True)
        label = parse_quarter(key).label
        for name in mine["name"]:
            source = SAMPLE / key / f"{name} LIIA return {label}.xlsx"
            shutil.copy(source, folder / "inbox" / key / source.name)
    return folder / "authorities.csv"


def first_codes(n: int = 6) -> list[str]:
    """The codes of the n authorities whose returns some_returns(..., n) copies."""
    import pandas as pd

    from pipelines.collection.catalogue import CATALOGUE_DIR

    first = sorted((SAMPLE / "2026-27-Q1").glob("*.xlsx"))[:n]
    names = {p.name.split(" LIIA return")[0] for p in first}
    table = pd.read_csv(CATALOGUE_DIR / "authorities.csv", dtype=str, keep_default_na=False)
    return list(table[table["name"].isin(names)]["liia_code"])


def use_region(folder: Path, codes: list[str], monkeypatch) -> Path:
    """A region of exactly the authorities whose returns a test sends, as LIIA_AUTHORITIES (for
    this test and every `liia` it starts): its file's path."""
    authorities = region(folder, codes)
    monkeypatch.setenv("LIIA_AUTHORITIES", str(authorities))
    return authorities


@pytest.fixture
def few_authorities(tmp_path, monkeypatch) -> Path:
    """A region of the six authorities whose returns some_returns copies, as LIIA_AUTHORITIES
    (for this test and every `liia` it starts): a test of how the service behaves with a few
    returns runs in half the time without 27 authorities that sent none. Its file's path."""
    return use_region(tmp_path / "region", first_codes(6), monkeypatch)


# The environment of this process without its LIIA_ and DAGSTER_ settings, as a server has it,
# but for the session's cache of DfE's table (pytest_configure adds LIIA_CACHE): a new server's
# first read of it is tests/benchmark/test_published.py's, not every installed service's.
BARE_ENVIRONMENT = {k: v for k, v in os.environ.items() if not k.startswith(("LIIA_", "DAGSTER_"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def liia(
    *args, env: dict, timeout: float = 120, input: str | None = None
) -> subprocess.CompletedProcess:
    """The `liia` command in its own process, as typed on a server."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines.service.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=env,
        timeout=timeout,
    )


def pytest_configure(config):
    """One cache of DfE's table for the whole session (LIIA_CACHE: every worker and every `liia`
    process a test starts inherit it), so the suite's many new warehouses read the table once."""
    if "LIIA_CACHE" not in os.environ:
        cache = Path(tempfile.mkdtemp(prefix="liia-cache-"))
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        os.environ["LIIA_CACHE"] = str(cache)
    BARE_ENVIRONMENT["LIIA_CACHE"] = os.environ["LIIA_CACHE"]


def pytest_collection_modifyitems(items):
    """Tests marked long_running(seconds) go first, longest first, so that with two workers
    neither is left running one of them alone at the end."""

    def seconds(item) -> float:
        marker = item.get_closest_marker("long_running")
        return marker.kwargs["seconds"] if marker else 0

    items.sort(key=seconds, reverse=True)


def made_once(tmp_path_factory, name: str, make) -> Path:
    """A folder the test processes share, made by whichever needs it first while the others wait
    (pytest-xdist's workers share the parent of their temporary folders): an expensive run is
    made once per session, not once per worker. Whoever reads it does not change it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".made").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / ".made").touch()
    return folder


# The quarters a fresh run of the generator writes in the suite: the first, and the two latest
# with every deliberate problem; all ten with LIIA_SAMPLE_SWEEP=1 (scripts/check_sample_returns.py).
GENERATED_QUARTERS = (
    tuple(sorted(p.name for p in SAMPLE.glob("20*")))
    if os.environ.get("LIIA_SAMPLE_SWEEP")
    else ("2024-25-Q1", "2026-27-Q1", "2026-27-Q2")
)


@pytest.fixture(scope="session")
def generated_returns(tmp_path_factory) -> Path:
    """A fresh run of the generator with the committed seed, writing GENERATED_QUARTERS."""
    return made_once(
        tmp_path_factory,
        "generated",
        lambda out: make_sample_returns(["--out", str(out), "--quarters", *GENERATED_QUARTERS]),
    )


def run_resources(tmp_path: Path, inbox: Path) -> dict:
    """The pipeline's resources with every output under `tmp_path`."""
    return {
        "quarter_store": QuarterStore(base_dir=str(tmp_path / "staging")),
        "paths": LiiaPaths(
            inbox=str(inbox),
            archive=str(tmp_path / "archive"),
            warehouse=str(tmp_path / "published" / "liia.duckdb"),
            exports=str(tmp_path / "exports"),
            reports=str(tmp_path / "reports"),
        ),
        "duckdb": working_resource(tmp_path / "liia.duckdb"),
    }


def run_quarter(tmp_path: Path, inbox: Path, quarter: str, instance=None, **kwargs):
    """Every asset for one quarter (key), as one run in `instance` (a fresh ephemeral one by
    default), outputs under tmp_path."""
    from pipelines.definitions import all_assets
    from pipelines.defs.partitions import open_quarters

    instance = instance or dg.DagsterInstance.ephemeral()
    open_quarters(instance, [parse_quarter(quarter)])
    return dg.materialize(
        all_assets,
        instance=instance,
        partition_key=parse_quarter(quarter).label,
        resources=run_resources(tmp_path, inbox),
        **kwargs,
    )


# Columns that say when something happened, which differ between runs in different folders; and
# the record of each build, which every run adds to.
WHEN_COLUMNS = ("received_at", "released_at", "loaded_at", "first_released_at")
RUN_RECORDS = ("builds", "schema_migrations")


def warehouse_snapshot(path: Path, without: tuple[str, ...] = ()) -> dict[str, list]:
    """Every table of the database at `path`, sorted, without the times a file was first seen, a
    quarter released and DfE's file loaded, and without the record of the runs that built it."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        out = {}
        for table in (t for t in tables if t not in RUN_RECORDS):
            columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in (*WHEN_COLUMNS, *without))
            out[table] = con.execute(f"SELECT {kept} FROM {table} ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def validated(result) -> dict:
    """What validated_returns gave in a run."""
    return result.output_for_node("validated_returns")


def check_evaluation(result, name: str):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


LATEST_QUARTERS = ("2026-27-Q1", "2026-27-Q2")


def _run_latest_quarters(tmp: Path) -> None:
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "deploy" / "dagster.yaml", home)
    runs = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for quarter in LATEST_QUARTERS:
            result = run_quarter(tmp, SAMPLE, quarter, instance)
            assert result.success
            runs[quarter] = result.run_id
    (tmp / "runs.json").write_text(json.dumps(runs))


@pytest.fixture(scope="session")
def latest_quarter_run(tmp_path_factory) -> Path:
    """The two latest sample quarters run through every asset, one run each, recorded in a real
    Dagster instance (tmp/dagster_home, the project's dagster.yaml); outputs under one folder,
    made once for the whole session and only read."""
    return made_once(tmp_path_factory, "latest-quarters", _run_latest_quarters)


# A region of six (a joint workforce pair among them): for tests of how the service behaves that
# need whole runs, quick.
SIX = ["BAR", "CAM", "CRO", "EAL", "KUT", "RUT"]
READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
query = "SELECT string_agg(DISTINCT quarter, ',' ORDER BY quarter) FROM benchmarks"
print(con.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()  # the connection stays open until the test says so
print(con.execute(query).fetchone()[0], flush=True)
"""


# Inside six_region_run: everything as it was after the first quarter's run, but the region.
AFTER_FIRST = "after-first-quarter"
LEFT_OUT = ("region", AFTER_FIRST)


def _run_six_region(tmp: Path) -> None:
    authorities = region(tmp / "region", SIX, LATEST_QUARTERS)
    before = os.environ.get("LIIA_AUTHORITIES")
    os.environ["LIIA_AUTHORITIES"] = str(authorities)
    try:
        first, second = LATEST_QUARTERS
        assert run_quarter(tmp, tmp / "region" / "inbox", first).success
        # all but the region and the copy itself, at the folder's top
        shutil.copytree(
            tmp,
            tmp / AFTER_FIRST,
            ignore=lambda d, names: [n for n in names if d == str(tmp) and n in LEFT_OUT],
        )
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(tmp / "published" / "liia.duckdb")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        before_run = reader.stdout.readline().strip()
        ran = run_quarter(tmp, tmp / "region" / "inbox", second).success
        during, _ = reader.communicate("\n", timeout=60)
    finally:
        if before is None:
            os.environ.pop("LIIA_AUTHORITIES")
        else:
            os.environ["LIIA_AUTHORITIES"] = before
    said = {"second_ran": ran, "reader": [before_run, during.strip(), reader.returncode]}
    (tmp / "said.json").write_text(json.dumps(said))


@pytest.fixture(scope="session")
def six_region_run(tmp_path_factory) -> Path:
    """SIX's two latest sample quarters run cleanly, one in-process run each (region/authorities.csv,
    region/inbox/), an analyst's read-only connection to the published copy held open from the
    first run's end to the second's (what it read: said.json), and in AFTER_FIRST everything as
    it was after the first run; made once for the session and only read."""
    return made_once(tmp_path_factory, "six-region", _run_six_region)


def copy_of_six_region_run(six_region_run: Path, folder: Path, monkeypatch) -> Path:
    """A copy of the session's six_region_run at `folder`, for a test that runs on from it (the
    shared one is only read), its region as LIIA_AUTHORITIES; run it with
    run_quarter(folder, folder / "region" / "inbox", ...)."""
    shutil.copytree(six_region_run, folder, ignore=shutil.ignore_patterns(AFTER_FIRST))
    monkeypatch.setenv("LIIA_AUTHORITIES", str(folder / "region" / "authorities.csv"))
    return folder


def copy_of_six_region_first_quarter(six_region_run: Path, folder: Path, monkeypatch) -> Path:
    """As copy_of_six_region_run, but as it was after its first quarter's run (the region's inbox
    holds both quarters' returns)."""
    shutil.copytree(six_region_run / AFTER_FIRST, folder)
    shutil.copytree(six_region_run / "region", folder / "region")
    monkeypatch.setenv("LIIA_AUTHORITIES", str(folder / "region" / "authorities.csv"))
    return folder


class RecordedRun:
    """One of latest_quarter_run's runs, read back from its instance and its quarter store: what
    a run's result says, for tests in any process."""

    def __init__(self, folder: Path, quarter: str, run_id: str):
        self.folder, self.quarter, self.run_id = folder, quarter, run_id

    def _events(self, kind: dg.DagsterEventType) -> list:
        with dg.DagsterInstance.from_config(str(self.folder / "dagster_home")) as instance:
            return [e.dagster_event for e in instance.all_logs(self.run_id, of_type=kind)]

    def get_asset_materialization_events(self) -> list:
        return self._events(dg.DagsterEventType.ASSET_MATERIALIZATION)

    def steps_started(self) -> list[str]:
        """The run's steps in the order they started."""
        return [e.step_key for e in self._events(dg.DagsterEventType.STEP_START)]

    def get_asset_check_evaluations(self) -> list:
        events = self._events(dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        return [e.event_specific_data for e in events]

    def output_for_node(self, asset: str):
        return pickle.loads(
            (self.folder / "staging" / asset / f"{self.quarter}.pickle").read_bytes()
        )


@pytest.fixture(scope="session")
def latest_results(latest_quarter_run) -> dict:
    """latest_quarter_run's runs, by quarter key."""
    runs = json.loads((latest_quarter_run / "runs.json").read_text())
    return {q: RecordedRun(latest_quarter_run, q, run_id) for q, run_id in runs.items()}


class _Mailbox:
    """Every message a real SMTP server (aiosmtpd) on localhost received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def mailbox():
    """A real SMTP server on a free port: (its mailbox, the port)."""
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()
