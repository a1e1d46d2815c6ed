"""Reading spreadsheets that come from outside, in worker processes bounded in time and memory.

The reading library (python-calamine, written in Rust) can panic, abort its process when an
allocation fails, spin, or allocate hundreds of megabytes for a small damaged file. So files are
read by a few long-lived worker processes, each with an address-space and CPU limit, which only
turn bytes into sheet names and rows of plain values. Everything else (the cover, the header, the
values) happens in the pipeline's own process on those lists. A worker that crashes, runs out of
memory or takes too long costs only the file it was reading: that file is answered as unreadable
and a fresh worker takes over.

This file is also the worker: `python reader.py --serve PARENT_PID` (standard library and
python-calamine only, so a worker starts in a tenth of a second).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

MEMORY_BUDGET = 512 * 2**20  # address space a worker may add while reading one file
SECONDS_PER_FILE = 20.0  # wall time for one file (a return takes a few milliseconds)
CPU_SECONDS_PER_FILE = 30  # a backstop if the parent is gone and a read spins
MAX_FILE_BYTES = 50_000_000
MAX_UNCOMPRESSED_BYTES = 50_000_000  # a real return is well under 1 MB unzipped
MAX_ROWS = 2_000  # a return's sheet has about 30; more is not a return, and is not read further
WORKERS = max(1, min(os.cpu_count() or 1, 4))

# How a file could not be read: (status, the words a person reads).
UNREADABLE = {
    "password": "it is password-protected",
    "damaged": "it is damaged",
    "too large": "it is far larger than any return",
    "crashed": "it is damaged: reading it stopped the reader",
    "out of memory": "it is damaged: reading it needed more memory than any return could",
    "timed out": f"it is damaged: reading it took over {SECONDS_PER_FILE:.0f} seconds",
}

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def sniff(data: bytes) -> tuple[str, str]:
    """(format, description) of a file from its bytes: format is `xlsx`, `xlsb`, `ods` or `xls`
    for what we read, `password` for an encrypted workbook, `damaged` for a broken one, `too large`,
    or `other` with the description saying what it is instead."""
    head = data[:2048]
    if not data:
        return "other", "an empty file"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(data)
    if head.startswith(_OLE):
        if _utf16("EncryptedPackage") in data or _utf16("EncryptionInfo") in data:
            return "password", "an encrypted workbook"
        if _utf16("Workbook") in data or _utf16("Book") in data:
            if _biff_filepass(data):
                return "password", "a password-protected Excel 97-2003 workbook"
            return "xls", "an Excel 97-2003 workbook"
        if _utf16("WordDocument") in data:
            return "other", "a Word 97-2003 document"
        if _utf16("PowerPoint Document") in data:
            return "other", "a PowerPoint 97-2003 presentation"
        return "damaged", "an Office file that holds no workbook"
    if head.startswith(b"%PDF"):
        return "other", "a PDF document"
    if head.startswith(b"{\\rtf"):
        return "other", "a Rich Text document"
    if head[:2] in (b"\x09\x00", b"\x09\x02", b"\x09\x04", b"\x09\x08"):
        return "other", "an Excel 2.x-4.0 worksheet, a format too old to read"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "other", "an image"
    text = data[:8192].decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t").lower()
    if "urn:schemas-microsoft-com:office:spreadsheet" in text:
        return "other", "an Excel 2003 XML spreadsheet, a format we do not read"
    if "opendocument.spreadsheet" in text and text.startswith("<?xml"):
        return "other", "a flat OpenDocument spreadsheet (.fods), a format we do not read"
    if text.startswith(("<!doctype html", "<html", "<table", "<meta")) or "<html" in text[:300]:
        return "other", "a web page (HTML) saved with a spreadsheet's name"
    if text.startswith("id;p"):
        return "other", "a SYLK file, a format we do not read"
    if text.startswith("table\r\n0,1") or text.startswith("table\n0,1"):
        return "other", "a DIF file, a format we do not read"
    if b"\x00" not in head and head.decode("utf-8", errors="replace").count("\ufffd") < 10:
        return "other", "a text file (such as CSV)"
    return "other", "a file in a format we do not read"


# The start of an Excel 97-2003 (BIFF8) or Excel 5.0/95 (BIFF5) workbook stream: a BOF record
# for the workbook globals.
_GLOBALS_BOF = (b"\x09\x08\x10\x00\x00\x06\x05\x00", b"\x09\x08\x08\x00\x00\x05\x05\x00")
_FILEPASS = 0x002F


def _biff_filepass(data: bytes) -> bool:
    """Whether the workbook stream opens with a FILEPASS record: the workbook is encrypted, by RC4
    or by the XOR obfuscation of Excel 95 and early 97 (which the reading library does not notice,
    and would read as garbage)."""
    for bof in _GLOBALS_BOF:
        start = data.find(bof)
        while start != -1:
            position = start
            for _ in range(12):  # FILEPASS follows BOF within the first few records
                if position + 4 > len(data):
                    break
                kind, size = struct.unpack_from("<HH", data, position)
                if kind == _FILEPASS:
                    return True
                position += 4 + size
            start = data.find(bof, start + 1)
    return False


def _sniff_zip(data: bytes) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
            if sum(i.file_size for i in z.infolist()) > MAX_UNCOMPRESSED_BYTES:
                return "too large", "a file that unpacks to more than 50 MB"
            mimetype = (
                z.read("mimetype")[:100].decode("ascii", "replace") if "mimetype" in names else ""
            )
            manifest = (
                z.read("META-INF/manifest.xml")[:100_000]
                if "opendocument" in mimetype and "META-INF/manifest.xml" in names
                else b""
            )
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        return "damaged", "a damaged or incomplete file (perhaps cut short while copying)"
    if "xl/workbook.bin" in names:
        return "xlsb", "an Excel binary workbook"
    if "xl/workbook.xml" in names:
        return "xlsx", "an Excel workbook"
    if "opendocument.spreadsheet" in mimetype:
        if "META-INF/manifest.xml" in names and b"encryption-data" in manifest:
            return "password", "an encrypted OpenDocument spreadsheet"
        return "ods", "an OpenDocument spreadsheet"
    if "word/document.xml" in names or "opendocument.text" in mimetype:
        return "other", "a word-processing document"
    if any(n.startswith("ppt/") for n in names) or "opendocument.presentation" in mimetype:
        return "other", "a presentation"
    return "other", "a zip archive"


def read_sheets(path: str, wanted: frozenset[str] | None) -> dict:
    """What a worker sends back for one file: `names` (every sheet), `rows` (the wanted sheets, by
    name: lists of values from cell A1), `problems` (sheet -> why it could not be read), or
    `unreadable` and `description` when the file as a whole cannot be read. `wanted` holds sheet
    names in lower case, spaces trimmed; None reads every sheet."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return {"unreadable": "too large", "description": "a file over 50 MB"}
    kind, description = sniff(data)
    if kind not in ("xlsx", "xlsb", "ods", "xls"):
        return {"unreadable": kind, "description": description}
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        with _named_for(path, kind) as named:
            workbook = CalamineWorkbook.from_path(named)
    except PasswordError:
        return {"unreadable": "password", "description": description}
    except Exception:
        return {"unreadable": "damaged", "description": description}
    names = list(workbook.sheet_names)
    rows, problems = {}, {}
    for name in names:
        if wanted is not None and " ".join(str(name).split()).lower() not in wanted:
            continue
        try:
            sheet = workbook.get_sheet_by_name(name)
            if sheet.total_height > MAX_ROWS:
                problems[name] = f"it has {sheet.total_height:,} rows, far more than a return's"
                continue
            rows[name] = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
        except MemoryError:
            raise
        except Exception:
            problems[name] = "it is damaged"
    return {"names": names, "rows": rows, "problems": problems, "description": description}


@contextlib.contextmanager
def _named_for(path: str, kind: str):
    """The library picks its reader by the file's extension (reading from memory, it does not say
    when a workbook is password-protected): a link to the file under the extension its bytes show,
    kept only while the library opens it (it reads on through the file it opened). A worker is
    killed as often as not, so nothing of it stays in /tmp between files."""
    if Path(path).suffix.lower().lstrip(".") == kind or (
        kind == "xlsx" and Path(path).suffix.lower() in (".xlsm", ".xltx", ".xltm")
    ):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="liia-reader-") as links:
        link = os.path.join(links, f"file.{kind}")
        os.symlink(os.path.abspath(path), link)
        yield link


# --- the worker -------------------------------------------------------------------------------


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this worker when its parent goes, however it goes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the end of the request pipe still ends the worker
    if os.getppid() != parent:
        os._exit(0)


def _address_space() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> None:
    """Start this process's peak memory afresh (Linux), so each file's own peak is measured."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def _peak_mb() -> float:
    """Peak resident memory since the last reset (the process's lifetime peak elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _message(stream) -> object | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (size,) = struct.unpack("<I", header)
    return pickle.loads(stream.read(size))


def _send(stream, value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<I", len(data)) + data)
    stream.flush()


def serve(parent: int) -> None:
    """Read files named on standard input until it closes, one answer per file."""
    import resource

    die_with_parent(parent)
    import python_calamine  # noqa: F401  (imported once, before the limit is set)

    limit = _address_space() + MEMORY_BUDGET
    if limit > MEMORY_BUDGET:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the answer pipe
    while (request := _message(requests)) is not None:
        path, wanted = request
        _reset_peak()
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = int(used.ru_utime + used.ru_stime) + CPU_SECONDS_PER_FILE
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.RLIM_INFINITY))
        try:
            answer = read_sheets(path, wanted)
        except MemoryError:
            answer = {"unreadable": "out of memory", "description": "a workbook"}
        except OSError as exc:
            answer = {"unreadable": "missing", "description": exc.strerror or "not readable"}
        except BaseException as exc:  # a Rust panic arrives as PanicException, a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            answer = {"unreadable": "crashed", "description": "a workbook"}
        answer["peak_mb"] = _peak_mb()
        _send(answers, answer)


# --- the pool ---------------------------------------------------------------------------------


PIPELINE_DEPTH = 4  # files sent ahead to a worker, so it never waits for the parent between files


def _read_exactly(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class _Worker:
    def __init__(self):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                str(Path(__file__).resolve()),
                "--serve",
                str(os.getpid()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a panic's message goes nowhere: the answer says it
            bufsize=0,
        )
        self.jobs: list[int] = []  # sent and not yet answered, in order
        self.started = 0.0  # when the first of them began to be read

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, job: int, request: tuple) -> None:
        if not self.jobs:
            self.started = time.monotonic()
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.process.stdin.write(struct.pack("<I", len(data)) + data)
        self.jobs.append(job)

    def receive(self) -> tuple[int, dict]:
        """The answer to the first file sent, or why there is none (the worker has died)."""
        job = self.jobs.pop(0)
        self.started = time.monotonic()
        fd = self.process.stdout.fileno()
        try:
            (size,) = struct.unpack("<I", _read_exactly(fd, 4))
            return job, pickle.loads(_read_exactly(fd, size))
        except (OSError, EOFError, pickle.UnpicklingError):
            return job, {"unreadable": self._cause_of_death(), "description": "a workbook"}

    def _cause_of_death(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.stop()
            return "crashed"
        # Rust aborts (SIGABRT) when an allocation fails; the CPU limit sends SIGXCPU or SIGKILL.
        return {
            -signal.SIGABRT: "out of memory",
            -signal.SIGXCPU: "timed out",
            -signal.SIGKILL: "timed out",
        }.get(code, "crashed")

    def stop(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class ReaderPool:
    """A few workers, started when first needed and kept for the life of the process."""

    def __init__(self, workers: int = WORKERS, seconds_per_file: float = SECONDS_PER_FILE):
        self.size = workers
        self.seconds_per_file = seconds_per_file
        self.workers: list[_Worker] = []
        self.lock = threading.Lock()

    def read(self, requests: list[tuple[str, frozenset[str] | None]]) -> list[dict]:
        """`read_sheets` of every (path, wanted sheets), in order, across the workers."""
        with self.lock:
            return self._read(requests)

    def _read(self, requests: list) -> list[dict]:
        answers: list[dict | None] = [None] * len(requests)
        waiting = list(range(len(requests)))[::-1]
        while waiting or any(w.jobs for w in self.workers):
            self._hand_out(waiting, requests)
            busy = [w for w in self.workers if w.jobs]
            deadline = min(w.started for w in busy) + self.seconds_per_file
            ready, _, _ = select.select(
                [w.process.stdout for w in busy], [], [], max(0, deadline - time.monotonic())
            )
            for worker in busy:
                if worker.process.stdout in ready:
                    job, answers[job] = worker.receive()
                    if not worker.alive:  # it died reading that file: the rest go elsewhere
                        waiting += worker.jobs[::-1]
                        self._retire(worker)
                elif time.monotonic() >= worker.started + self.seconds_per_file:
                    answers[worker.jobs.pop(0)] = {
                        "unreadable": "timed out",
                        "description": "a workbook",
                    }
                    waiting += worker.jobs[::-1]
                    self._retire(worker)
        return answers  # type: ignore[return-value]

    def _hand_out(self, waiting: list[int], requests: list) -> None:
        for worker in list(self.workers):
            if not worker.jobs and not worker.alive:
                self._retire(worker)
        while waiting and len(self.workers) < self.size:
            self.workers.append(_Worker())
        for worker in list(self.workers):
            while waiting and len(worker.jobs) < PIPELINE_DEPTH:
                job = waiting.pop()
                try:
                    worker.send(job, requests[job])
                except OSError:  # died since it was last seen alive: its files go elsewhere
                    waiting += [job, *worker.jobs[::-1]]
                    worker.jobs.clear()
                    self._retire(worker)
                    break

    def _retire(self, worker: _Worker) -> None:
        worker.jobs.clear()
        worker.stop()
        self.workers.remove(worker)

    def close(self) -> None:
        with self.lock:
            for worker in self.workers:
                try:
                    worker.process.stdin.close()  # the worker ends at the end of its requests
                    worker.process.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                worker.stop()
            self.workers.clear()


_POOL: ReaderPool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ReaderPool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import atexit

            _POOL = ReaderPool()
            atexit.register(_POOL.close)
        return _POOL


def read_workbooks(paths: list[Path], wanted: frozenset[str] | None) -> list[dict]:
    """`read_sheets` of each file, each read in a bounded worker process."""
    return pool().read([(str(p), wanted) for p in paths])


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve(int(sys.argv[2]))
