"""The bad-input corpus: spreadsheets other producers made, fuzzed variants of a sample return and
every format LibreOffice saves it in, each checked by `liia validate`.

    python scripts/bad_input_corpus.py build [--out DIR]    # fetch, extract, fuzz, convert
    python scripts/bad_input_corpus.py run [DIR ...]        # counts by outcome, slowest, memory
    python scripts/bad_input_corpus.py subset [--out DIR]   # choose the committed subset

`build` needs the package registry (PyPI) for the source distributions, LibreOffice (`soffice`)
for the formats, and the dev dependencies (xlwt, msoffcrypto-tool) for the legacy and encrypted
files; it writes benchmarks/.cache/corpus/ (not committed). `subset` copies a few MB of it to
tests/corpus/, which the test suite runs (tests/receive/test_corpus.py). `run` defaults to the full corpus
when it has been built, else the committed subset.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hashlib
import io
import json
import random
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CACHE = PROJECT / "benchmarks" / ".cache" / "corpus"
SUBSET = PROJECT / "tests" / "corpus"
BASE_RETURN = PROJECT / "sample_returns" / "2026-27-Q1" / "Barnet LIIA return 2026-27 Q1.xlsx"

# Source distributions whose test data holds spreadsheets made by other producers: Excel,
# LibreOffice, Gnumeric, KSpread, Numbers, web exporters, and other libraries' writers.
SDISTS = [
    ("python-calamine", "0.9.1"),
    ("python-calamine", "0.2.3"),
    ("xlrd", "1.2.0"),
    ("xlrd", "0.9.4"),
    ("odfpy", "1.4.1"),
    ("pandas", "3.1.1"),
    ("oletools", "0.60.2"),
    ("frictionless", "5.18.0"),
    ("pyexcel", "0.7.0"),
    ("pyexcel-xls", "0.7.0"),
    ("pyexcel-xlsx", "0.6.0"),
    ("pyexcel-ods", "0.6.0"),
    ("pyexcel-ods3", "0.6.1"),
    ("agate-excel", "0.4.1"),
    ("csvkit", "2.0.1"),
    ("tablib", "3.7.0"),
    ("xlsx2csv", "0.8.4"),
    ("xlutils", "2.0.0"),
    ("ezodf", "0.3.2"),
]
SPREADSHEETS = {".xls", ".xlsx", ".xlsm", ".xlsb", ".xltx", ".xltm", ".ods", ".ots", ".fods"}
OTHERS = {".csv", ".tsv", ".pdf", ".docx", ".odt", ".doc", ".html", ".rtf"}
OTHERS_PER_PACKAGE = 5
# Every format LibreOffice Calc saves a workbook in, by its export filter.
LIBREOFFICE_FORMATS = [
    ("xlsx", "Calc MS Excel 2007 XML"),
    ("xlsx", "Calc Office Open XML"),
    ("xlsm", "Calc MS Excel 2007 VBA XML"),
    ("xltx", "Calc MS Excel 2007 XML Template"),
    ("xls", "MS Excel 97"),
    ("ods", "calc8"),
    ("ots", "calc8_template"),
    ("fods", "OpenDocument Spreadsheet Flat XML"),
    ("csv", "Text - txt - csv (StarCalc)"),
    ("html", "HTML (StarCalc)"),
    ("slk", "SYLK"),
    ("dif", "DIF"),
    ("pdf", "calc_pdf_Export"),
]
PASSWORD = "LIIA-secret"


# --- build ------------------------------------------------------------------------------------


def _sdist_url(name: str, version: str) -> tuple[str, str]:
    """The sdist's URL and SHA-256, from the registry's simple index (PEP 503)."""
    with urllib.request.urlopen(f"https://pypi.org/simple/{name}/", timeout=60) as page:
        html = page.read().decode()
    stems = {name, name.replace("-", "_"), name.lower(), name.replace("-", "_").lower()}
    for href in re.findall(r'href="([^"]+)"', html):
        url, _, fragment = href.partition("#")
        filename = url.rsplit("/", 1)[-1]
        for stem in stems:
            for suffix in (".tar.gz", ".zip"):
                if filename.lower() == f"{stem}-{version}{suffix}".lower():
                    return url, fragment.removeprefix("sha256=")
    raise SystemExit(f"no source distribution of {name} {version} on PyPI")


def fetch_sdist(name: str, version: str, folder: Path) -> Path:
    url, sha = _sdist_url(name, version)
    target = folder / url.rsplit("/", 1)[-1]
    if not target.exists():
        with urllib.request.urlopen(url, timeout=300) as response:
            data = response.read()
        if sha and hashlib.sha256(data).hexdigest() != sha:
            raise SystemExit(f"{target.name}: SHA-256 does not match the registry's")
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return target


def _members(archive: Path):
    """(path inside, bytes) of each file in a .tar.gz or .zip."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, z.read(info)
    else:
        with tarfile.open(archive) as t:
            for member in t.getmembers():
                if member.isfile():
                    yield member.name, t.extractfile(member).read()


def extract_sdist(archive: Path, out: Path) -> int:
    others: collections.Counter = collections.Counter()
    written = 0
    for name, data in _members(archive):
        suffix = Path(name).suffix.lower()
        if suffix not in SPREADSHEETS and suffix not in OTHERS:
            continue
        if suffix in OTHERS:
            others[suffix] += 1
            if others[suffix] > OTHERS_PER_PACKAGE:
                continue
        # the path inside, flattened into one name, keeps where each file came from
        flat = "__".join(Path(name).parts[1:])
        (out / flat).parent.mkdir(parents=True, exist_ok=True)
        (out / flat).write_bytes(data)
        written += 1
    return written


def base_return(tmp: Path) -> Path:
    """Barnet's 2026-27 Q1 return with one value error (so a right reading exits 1, not 0) and an
    early completion date (so beside the real return it is never the current one)."""
    from openpyxl import load_workbook

    wb = load_workbook(BASE_RETURN)
    wb["Finance"]["D9"] = "tbc"
    wb["Cover"]["B8"] = "2000-01-01"
    path = tmp / "Barnet base.xlsx"
    wb.save(path)
    return path


def fuzzed_variants(base: Path, out: Path, seed: int = 13) -> int:
    """The base return truncated, with bytes flipped, sheets dropped, and cells holding control
    characters, dates, booleans, huge strings, formula-like and right-to-left text, and commas."""
    from openpyxl import load_workbook

    out.mkdir(parents=True, exist_ok=True)
    data = base.read_bytes()
    rng = random.Random(seed)
    n = 0
    for fraction in (0.05, 0.3, 0.6, 0.9, 0.99):
        (out / f"truncated-{int(fraction * 100)}pct.xlsx").write_bytes(
            data[: int(len(data) * fraction)]
        )
        n += 1
    for flips in (1, 4, 16, 64):
        for k in range(4):
            b = bytearray(data)
            for _ in range(flips):
                b[rng.randrange(len(b))] = rng.randrange(256)
            (out / f"flipped-{flips}-bytes-{k}.xlsx").write_bytes(bytes(b))
            n += 1

    def variant(name, change):
        nonlocal n
        wb = load_workbook(base)
        change(wb)
        wb.save(out / f"{name}.xlsx")
        n += 1

    for sheet in ("Cover", "Finance", "Adolescents", "Workforce", "SEND"):
        variant(f"dropped-{sheet.lower()}", lambda wb, s=sheet: wb.remove(wb[s]))

    def cells(**edits):
        def change(wb):
            for key, value in edits.items():
                sheet, cell = key.split("_")
                wb[sheet][cell] = _as_excel_stores(value)

        return change

    variant("control-characters-in-a-value", cells(Finance_D6="75\x01000\x02000"))
    variant("control-characters-in-the-authority", cells(Cover_B3="Bar\x07net\x1b[31m"))
    variant("terminal-escape-in-a-note", cells(Finance_E6="\x1b]0;owned\x07\x1b[2J\x1b[31mred"))
    variant(
        "right-to-left-override", cells(Finance_E6="total \u202eelbat\u202c", Cover_B6="\u202eevil")
    )
    variant("date-in-a-value", cells(Finance_D6=_date()))
    variant("date-as-the-quarter", cells(Cover_B4=_date()))
    variant("booleans-in-values", cells(Finance_D6=True, Finance_D7=False))
    variant("huge-string-in-a-value", cells(Finance_D6="9" * 32_000))
    variant("huge-string-in-a-note", cells(SEND_E6="why " * 8_000))
    variant("formula-like-text", cells(Finance_E6='=HYPERLINK("http://x","x")', Cover_B6="@SUM(1)"))
    variant("comma-decimal", cells(Finance_D6="12,5", Finance_D7="1,2,3"))
    variant("sheet-names-with-spaces", lambda wb: setattr(wb["Finance"], "title", " Finance "))
    return n


# Legacy workbooks from other producers, fuzzed: damaged .xls is where the reading library panics,
# aborts on a failed allocation or allocates hundreds of megabytes.
LEGACY_SOURCES = [
    "xlrd-1.2.0/tests__profiles.xls",
    "xlrd-1.2.0/examples__namesdemo.xls",
    "xlrd-1.2.0/tests__ragged.xls",
    "xlrd-1.2.0/tests__Formate.xls",
    "frictionless-5.18.0/data__cast-int-to-string-issue-1251.xls",
    "frictionless-5.18.0/data__merged-cells.xls",
    "frictionless-5.18.0/data__table-with-ints-floats-dates.xls",
]
LEGACY_SEEDS = range(60)
ORDINARY_KEPT = 2  # of each source's variants that read without trouble, the first few


def flipped(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def fuzzed_legacy(corpus: Path, out: Path) -> int:
    """Byte-flipped variants of legacy workbooks: every one that crashes the reader, exhausts its
    memory or its time, and a few that do not."""
    from pipelines.receive.reader import read_workbooks

    out.mkdir(parents=True, exist_ok=True)
    kept = 0
    for source in LEGACY_SOURCES:
        data = (corpus / source).read_bytes()
        stem = Path(source).stem.split("__")[-1]
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for seed in LEGACY_SEEDS:
                path = Path(tmp) / f"{stem}-seed{seed}.xls"
                path.write_bytes(flipped(data, seed))
                paths.append(path)
            ordinary = 0
            for path, answer in zip(paths, read_workbooks(paths, None), strict=True):
                trouble = answer.get("unreadable") in ("crashed", "out of memory", "timed out")
                if trouble or ordinary < ORDINARY_KEPT:
                    ordinary += not trouble
                    shutil.copy(path, out / path.name)
                    kept += 1
    return kept


def _as_excel_stores(value):
    """Control characters as Excel writes them in a workbook's XML: `_x0001_`."""
    if not isinstance(value, str):
        return value
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"_x{ord(m[0]):04X}_", value)


def _date():
    import datetime

    return datetime.datetime(2026, 6, 30)


def libreoffice_formats(base: Path, out: Path) -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        print("  LibreOffice not found: formats skipped (apt-get install libreoffice-calc)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, filter_name in LIBREOFFICE_FORMATS:
            done = Path(tmp) / re.sub(r"\W+", "-", filter_name)
            subprocess.run(
                [
                    soffice,
                    "--headless",
                    "--convert-to",
                    f"{suffix}:{filter_name}",
                    "--outdir",
                    str(done),
                    str(base),
                ],
                capture_output=True,
                timeout=180,
                check=False,
            )
            for made in done.glob("*"):
                shutil.copy(made, out / f"libreoffice-{done.name}{made.suffix}")
                n += 1
    return n


def encrypted_variants(base: Path, out: Path) -> int:
    """The base return encrypted as Excel encrypts (AES, with msoffcrypto-tool), and as an Excel
    97-2003 workbook with the XOR obfuscation of Excel 95 and early 97, checked by decrypting it."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out.mkdir(parents=True, exist_ok=True)
    with base.open("rb") as src, (out / "encrypted-agile.xlsx").open("wb") as dst:
        OOXMLFile(src).encrypt(PASSWORD, dst)
    (out / "xor-obfuscated.xls").write_bytes(xor_obfuscated_xls(base, PASSWORD))
    return 2


_BIFF_CLEAR = {0x0809, 0x002F, 0x0194, 0x0195, 0x00E1, 0x0138, 0x0196}  # never obfuscated
_BOUNDSHEET = 0x0085


def _xor_verifier(password: str) -> int:
    verifier = 0
    for byte in reversed([len(password), *(ord(c) for c in password)]):
        verifier = ((1 if verifier & 0x4000 else 0) ^ ((verifier * 2) & 0x7FFF)) ^ byte
    return verifier ^ 0xCE4B


def xor_obfuscated_xls(base: Path, password: str) -> bytes:
    """The base return's cells as an Excel 97-2003 workbook (xlwt), obfuscated with XOR method 1
    ([MS-XLS] 2.2.10, [MS-OFFCRYPTO] 2.3.7), verified by msoffcrypto-tool decrypting it back."""
    import msoffcrypto
    import xlwt
    from msoffcrypto.method.xor_obfuscation import DocumentXOR
    from python_calamine import CalamineWorkbook
    from xlwt.CompoundDoc import XlsDoc

    source = CalamineWorkbook.from_path(str(base))
    book = xlwt.Workbook()
    for name in source.sheet_names:
        sheet = book.add_sheet(name)
        for r, row in enumerate(source.get_sheet_by_name(name).to_python(skip_empty_area=False)):
            for c, value in enumerate(row):
                if value != "":
                    sheet.write(r, c, value)
    plain = book.get_biff_data()
    records, position = [], 0
    while position < len(plain):
        kind, size = struct.unpack_from("<HH", plain, position)
        records.append([kind, bytearray(plain[position + 4 : position + 4 + size])])
        position += 4 + size
    key = DocumentXOR.create_xor_key_method1(password)
    filepass = struct.pack("<HHH", 0, key, _xor_verifier(password))
    records.insert(1, [0x002F, bytearray(filepass)])
    for kind, payload in records:
        if kind == _BOUNDSHEET:  # sheets now start 10 bytes later in the stream
            (start,) = struct.unpack_from("<I", payload)
            payload[:4] = struct.pack("<I", start + 4 + len(filepass))
    stream = bytearray(b"".join(struct.pack("<HH", k, len(p)) + bytes(p) for k, p in records))
    xor_array = DocumentXOR.create_xor_array_method1(password)
    position = 0
    for kind, payload in records:
        first, size = position + 4, len(payload)
        if kind not in _BIFF_CLEAR and size:
            skip = 4 if kind == _BOUNDSHEET else 0
            start, count = first + skip, size - skip
            index = (start + count + (4 if skip else 0)) % 16
            for i in range(start, start + count):
                rotated = ((stream[i] << 5) | (stream[i] >> 3)) & 0xFF
                stream[i] = rotated ^ xor_array[index]
                index = (index + 1) % 16
        position += 4 + size
    if len(stream) % 4:  # the container pads the stream with zeros, read as empty records
        filler = -(len(stream) + 4) % 4
        stream += struct.pack("<HH", 0, filler) + b"\x00" * filler
    out = io.BytesIO()
    XlsDoc().save(out, bytes(stream))
    data = out.getvalue()
    office = msoffcrypto.OfficeFile(io.BytesIO(data))
    office.load_key(password=password)
    decrypted = io.BytesIO()
    office.decrypt(decrypted)
    with tempfile.NamedTemporaryFile(suffix=".xls") as check:
        check.write(decrypted.getvalue())
        check.flush()
        back = CalamineWorkbook.from_path(check.name)
        assert back.get_sheet_by_name("Cover").to_python()[2][1] == "Barnet", "XOR round trip"
    return data


def build(out: Path) -> None:
    downloads = out.parent / "sdists"
    for name, version in SDISTS:
        archive = fetch_sdist(name, version, downloads)
        n = extract_sdist(archive, out / f"{name}-{version}")
        print(f"  {name} {version}: {n} files")
    with tempfile.TemporaryDirectory() as tmp:
        base = base_return(Path(tmp))
        print(f"  fuzzed: {fuzzed_variants(base, out / 'fuzzed')} variants")
        print(f"  LibreOffice: {libreoffice_formats(base, out / 'libreoffice')} formats")
        print(f"  encrypted: {encrypted_variants(base, out / 'encrypted')} files")
    print(f"  fuzzed legacy workbooks: {fuzzed_legacy(out, out / 'fuzzed-legacy')} kept")


# --- subset -----------------------------------------------------------------------------------

PER_EXTENSION = 3  # from each producer, the smallest few of each kind of file
MAX_FILE = 150_000


def subset(source: Path, out: Path) -> None:
    """A few MB of the corpus for the test suite: every generated file, and from each package the
    smallest few of each kind. Replaces `out`, keeping its README."""
    readme = (out / "README.md").read_text() if (out / "README.md").exists() else None
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    if readme:
        (out / "README.md").write_text(readme)
    total = 0
    for producer in sorted(p for p in source.iterdir() if p.is_dir()):
        files = sorted(
            f for f in producer.rglob("*") if f.is_file() and f.stat().st_size <= MAX_FILE
        )
        generated = producer.name in ("fuzzed", "fuzzed-legacy", "libreoffice", "encrypted")
        by_kind: dict[str, list[Path]] = collections.defaultdict(list)
        for f in sorted(files, key=lambda f: (f.stat().st_size, f.name)):
            by_kind[f.suffix.lower()].append(f)
        chosen = files if generated else [f for fs in by_kind.values() for f in fs[:PER_EXTENSION]]
        chosen += [f for f in files if "password" in f.name and f not in chosen]
        if producer.name.startswith("oletools"):
            # Its macro and DDE samples stay out of the repository (they alarm virus scanners);
            # its encrypted workbooks and the DDE formula text are what matter here.
            chosen = [
                f
                for f in files
                if ("encrypt" in f.name and "autostart" not in f.name) or f.suffix == ".csv"
            ]
        for f in chosen:
            target = out / producer.name / f.relative_to(producer)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, target)
            total += f.stat().st_size
    print(
        f"{sum(1 for f in out.rglob('*') if f.is_file() and f.name != 'README.md')} files, "
        f"{total / 2**20:.1f} MB in {out}"
    )


# --- run --------------------------------------------------------------------------------------


def corpus_files(folders: list[Path]) -> list[Path]:
    return sorted(f for d in folders for f in d.rglob("*") if f.is_file() and f.name != "README.md")


def validate(path: Path) -> tuple[int, str, float]:
    """`liia validate FILE` in this process: (exit code, what it printed, seconds)."""
    from pipelines.service.cli import main

    printed = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            code = main(["validate", str(path)])
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, printed.getvalue(), time.perf_counter() - started


def outcome(output: str) -> str:
    """The first status line `liia validate` printed, without the file name."""
    first = output.splitlines()[0] if output else ""
    return first.rsplit(": ", 1)[-1] if ": " in first else first


def run(folders: list[Path]) -> dict:
    from pipelines.receive.reader import read_workbooks
    from pipelines.receive.returns import WANTED_SHEETS

    files = corpus_files(folders)
    validate(BASE_RETURN)  # imports and the reader's start, untimed
    results = []
    for path in files:
        code, printed, seconds = validate(path)
        results.append(
            {
                "file": path,
                "code": code,
                "outcome": outcome(printed),
                "seconds": seconds,
                "traceback": "Traceback" in printed,
            }
        )
    answers = read_workbooks(files, WANTED_SHEETS)  # the reading validate does, for its memory
    for result, answer in zip(results, answers, strict=True):
        result["peak_mb"] = answer.get("peak_mb")
        result["read"] = answer.get("unreadable", "read")
    return {"files": files, "results": results}


def report(summary: dict, folders: list[Path]) -> None:
    results = summary["results"]
    print(f"{len(results)} files from {', '.join(str(f) for f in folders)}")
    by_producer = collections.Counter(
        r["file"].relative_to(_root(r["file"], folders)).parts[0] for r in results
    )
    print("\nBy producer:")
    for producer, n in sorted(by_producer.items()):
        print(f"  {producer:<32} {n:>4}")
    print("\nBy outcome (what liia validate says, exit code):")
    for (status, code), n in collections.Counter(
        (r["outcome"], r["code"]) for r in results
    ).most_common():
        print(f"  {n:>4}  exit {code}  {status}")
    print("\nBy what the reader made of them:")
    for kind, n in collections.Counter(r["read"] for r in results).most_common():
        print(f"  {n:>4}  {kind}")
    slowest = max(results, key=lambda r: r["seconds"])
    measured = [r for r in results if r["peak_mb"] is not None]
    largest = max(measured, key=lambda r: r["peak_mb"], default=None)
    print(
        f"\nSlowest file: {slowest['file'].name} ({slowest['seconds']:.2f} s through liia validate)"
    )
    if largest:
        print(
            f"Largest peak memory reading one file: {largest['peak_mb']:.0f} MB ({largest['file'].name})"
        )
    lost = [r for r in results if r["peak_mb"] is None]
    if lost:
        print(
            f"  ({len(lost)} files ended their reader process; their memory was bounded by its limit)"
        )
    tracebacks = [r for r in results if r["traceback"]]
    not_one_or_two = [r for r in results if r["code"] not in (1, 2)]
    print(f"Tracebacks: {len(tracebacks)}; exits other than 1 or 2: {len(not_one_or_two)}")
    for r in not_one_or_two[:10]:
        print(f"  exit {r['code']}: {r['file']}")


def _root(path: Path, folders: list[Path]) -> Path:
    return next(f for f in folders if path.is_relative_to(f))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="fetch, extract, fuzz and convert into the cache")
    b.add_argument("--out", type=Path, default=CACHE)
    r = sub.add_parser("run", help="every file through liia validate; counts and figures")
    r.add_argument("folders", type=Path, nargs="*")
    r.add_argument("--json", type=Path, help="also write the results here")
    s = sub.add_parser("subset", help="copy a few MB of the built corpus to tests/corpus")
    s.add_argument("--source", type=Path, default=CACHE)
    s.add_argument("--out", type=Path, default=SUBSET)
    args = parser.parse_args(argv)
    if args.command == "build":
        build(args.out)
    elif args.command == "subset":
        subset(args.source, args.out)
    else:
        folders = args.folders or [CACHE if CACHE.exists() else SUBSET]
        summary = run(folders)
        report(summary, folders)
        if args.json:
            args.json.write_text(
                json.dumps([{**r, "file": str(r["file"])} for r in summary["results"]], indent=1)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
