"""Resources: where files live, the pipeline's DuckDB database (one writer at a time, and one run
at a time, across processes), and the store for what assets pass to each other."""

import fcntl
import os
import pickle
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.collection.places import PLACES, WAREHOUSE, place
from pipelines.collection.quarters import parse_quarter
from pipelines.receive.ledger import start_ledger
from pipelines.warehouse.migrations import (
    empty_database,
    pending,
    start_new_database,
    upgrade,
    version,
)
from pipelines.write.layout import partial_path


class LiiaPaths(dg.ConfigurableResource):
    """Where returns arrive, where received files are archived, where the analysts' copy of the
    warehouse and its Parquet exports are published, where workbooks are written, and where DfE's
    published figures are dropped (pipelines/collection/places.py)."""

    inbox: str = str(PLACES["inbox"][1])
    archive: str = str(PLACES["archive"][1])
    warehouse: str = str(PLACES["warehouse"][1])
    exports: str = str(PLACES["exports"][1])
    reports: str = str(PLACES["reports"][1])
    published: str = str(PLACES["published"][1])


ENVIRONMENT = {name: PLACES[name][0] for name in LiiaPaths.model_fields}


def environment_for(folder: Path, inbox: Path) -> dict[str, str]:
    """The environment that points a run at `inbox` with every output under `folder`, laid out as
    the defaults are (for a run in another process: a benchmark, a fault test)."""
    return {
        ENVIRONMENT["inbox"]: str(inbox),
        ENVIRONMENT["archive"]: str(folder / "archive"),
        ENVIRONMENT["warehouse"]: str(folder / "published" / "liia.duckdb"),
        ENVIRONMENT["exports"]: str(folder / "exports"),
        ENVIRONMENT["reports"]: str(folder / "reports"),
        "LIIA_WORKING_DB": str(folder / "working" / "liia.duckdb"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        # the service's environment file, if one is put there (never the server's /etc/liia)
        "LIIA_ENVIRONMENT_FILE": str(folder / "environment"),
    }


def kept_cache(duckdb: DuckDBResource) -> Path:
    """Where what does not change between runs is kept for the next new warehouse, export or copy:
    DfE's table once read, the empty working database and the analysts' copy's empty keyed schema
    of this version (LIIA_CACHE, by default a folder beside the working database; deleting it is
    always safe, and one that cannot be written only costs time)."""
    return Path(os.environ.get("LIIA_CACHE") or Path(duckdb.database).with_name("cache"))


def ledger_path(duckdb: DuckDBResource) -> Path:
    """The pipeline's record of the files it has answered, beside its working database."""
    return Path(duckdb.database).with_name("answered.sqlite")


LOCK_WAIT_SECONDS = 1800


@contextmanager
def _held(lock_file: Path, what: Path, wait: float, waiting=None):
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waiting is not None:
                    waiting()
                    waiting = None
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Another run has held {what} for over {wait:.0f} s; try again later."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def writer_lock(database: Path, wait: float = LOCK_WAIT_SECONDS):
    """An exclusive lock beside the database, held while a connection is open: DuckDB allows one
    process at a time and fails at once otherwise, so a second run waits here instead."""
    return _held(database.with_name(database.name + ".lock"), database, wait)


_RUNNING_HERE: set[str] = set()  # the databases this process holds the runs' lock of


@contextmanager
def one_run_at_a_time(duckdb: DuckDBResource, waiting=None, wait: float = LOCK_WAIT_SECONDS):
    """Held for a whole run (by `WorkingDatabase`) and by `liia run` for all its quarters, so that
    runs of the pipeline, whoever started them, follow one another whole, the second waiting asleep
    before it starts: the writer lock alone lets two runs' steps take turns, and a run could then
    publish the other's newer benchmarks beside its own older release. `waiting()` is called
    once if it has to wait. A process that already holds it (a `liia run`'s own runs) goes on."""
    database = Path(duckdb.database)
    if str(database) in _RUNNING_HERE:
        yield
        return
    with _held(database.with_name(database.name + ".runs.lock"), database, wait, waiting):
        _RUNNING_HERE.add(str(database))
        try:
            yield
        finally:
            _RUNNING_HERE.discard(str(database))


class WorkingDatabase(DuckDBResource):
    """The pipeline's own DuckDB database, each connection under the writer lock (`working_db`);
    a run holds `one_run_at_a_time` from its start to its end. A sensor's or a schedule's tick,
    which starts no run, reads without waiting for one."""

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext):
        def waiting():
            context.log.info("Waiting for another run of the pipeline to finish")

        whole = one_run_at_a_time(self, waiting) if context.run else nullcontext()
        with whole, super().yield_for_execution(context) as resource:
            yield resource


@contextmanager
def working_db(duckdb: DuckDBResource):
    """A connection to the pipeline's own database, under the writer lock: a new one starts as the
    empty database kept for this version, one an earlier version made is upgraded first
    (pipelines.warehouse.migrations)."""
    database = Path(duckdb.database)
    with writer_lock(database):
        if not database.exists():
            start_ledger(ledger_path(duckdb))
        try:
            if not start_new_database(database, kept_cache(duckdb)):
                empty_database(kept_cache(duckdb))  # what create_schema expects, read, not made
        except OSError:
            pass  # a cache that cannot be written: the database is made statement by statement
        with duckdb.get_connection() as con:
            upgrade(con, ledger_path(duckdb))
            yield con


def upgraded(duckdb: DuckDBResource, wait: float = 10) -> bool:
    """Before the ledger is read without the database (the inbox sensor): a deployment made
    before the ledger existed gets it from its database first, so an upgrade queues nothing
    already answered. False if a run holds the database longer than `wait` seconds."""
    database = Path(duckdb.database)
    if ledger_path(duckdb).exists() or not database.exists():
        return True
    try:
        with writer_lock(database, wait), duckdb.get_connection() as con:
            upgrade(con, ledger_path(duckdb))
    except TimeoutError:
        return False
    return True


def database_health(duckdb: DuckDBResource) -> tuple[bool, list[str]]:
    """The pipeline database's version, read without waiting for a run (an unreadable or busy
    database is said, not waited for)."""
    database = Path(duckdb.database)
    if not database.exists():
        return True, ["Database: none yet (the first run makes it)"]
    try:
        with writer_lock(database, wait=5), duckdb.get_connection() as con:
            found = version(con)
            todo = pending(found)
    except TimeoutError:
        return True, ["Database: a run holds it (version not read)"]
    if todo:
        return True, [f"Database: version {found}; {len(todo)} upgrade step(s) at the next run"]
    return True, [f"Database: version {found} (the latest)"]


class QuarterStore(dg.ConfigurableIOManager):
    """Keeps what an asset returns for a quarter, one pickle per asset and quarter, for the next
    asset of the run (and a re-run of one step) to read."""

    base_dir: str = str(WAREHOUSE / "working" / "staging")

    def _path(self, context) -> Path:
        key = parse_quarter(context.partition_key).key
        return Path(self.base_dir, *context.asset_key.path, f"{key}.pickle")

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(path)
        partial.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        partial.replace(path)

    def load_input(self, context: dg.InputContext):
        return pickle.loads(self._path(context).read_bytes())


def default_resources() -> dict:
    """The resources, each path overridable by its environment variable. `duckdb` is the pipeline's
    own working database; analysts read the published copy at `paths.warehouse`."""
    paths = {
        field: os.environ.get(variable, LiiaPaths.model_fields[field].default)
        for field, variable in ENVIRONMENT.items()
    }
    database = place("working")
    return {
        "paths": LiiaPaths(**paths),
        "duckdb": working_resource(database),
        "quarter_store": QuarterStore(base_dir=str(database.parent / "staging")),
    }


def working_resource(database: Path) -> WorkingDatabase:
    """The pipeline's own database at `database`, as every run opens it: on one DuckDB thread (the
    pipeline's tables are small, so parallel plans cost more than they give, and each thread keeps
    buffers of its own: measured, the analysts' copy and exports 0.62 s and 125 MB against 0.71 s
    and 162 MB; a quarter 5.4 s against 5.7 s). The workbook writers use both cores."""
    return WorkingDatabase(database=str(database), connection_config={"threads": 1})
