"""What a member may download, read from the members' folder as the release stage left it: each
released quarter newest first, with its theme workbooks (and their CSVs) and every authority's
pack, the reader's own authority's pack first."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.collection.catalogue import THEME_TITLES

_QUARTER = re.compile(r"^\d{4}-\d{2}-Q[1-4]$")
_THEME = re.compile(r"^LIIA (?P<theme>.+) benchmarks (?P<quarter>\S+)\.(?P<ext>xlsx|csv)$")


@dataclass
class Download:
    path: str  # relative to the members' folder, for the member-file URL
    name: str
    size_kb: int


@dataclass
class ReleasedQuarter:
    quarter: str
    themes: list[tuple[str, Download | None, Download | None]] = field(default_factory=list)
    own_pack: Download | None = None
    packs: list[tuple[str, Download]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.quarter.replace("-Q", " Q")  # as the workbooks name it: 2026-27 Q1


def _download(root: Path, path: Path) -> Download:
    return Download(
        path.relative_to(root).as_posix(), path.name, max(1, round(path.stat().st_size / 1024))
    )


def _theme_order(theme: str) -> tuple[int, str]:
    order = list(THEME_TITLES)
    return (order.index(theme) if theme in order else len(order), theme)


def released_quarters(root: Path, own_authority: str | None = None) -> list[ReleasedQuarter]:
    """Every quarter folder under `root` (the members' folder), newest first; anything else in it
    (the pipeline's own index page, a half-written file) is left out."""
    if not root.is_dir():
        return []
    found = []
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        if not _QUARTER.match(folder.name):
            continue
        quarter = ReleasedQuarter(folder.name)
        themes: dict[str, dict[str, Download]] = {}
        for path in sorted(folder.glob("*.*")):
            m = _THEME.match(path.name)
            if m and m["quarter"] == folder.name:
                themes.setdefault(m["theme"], {})[m["ext"]] = _download(root, path)
        quarter.themes = [
            (THEME_TITLES.get(theme, theme), kinds.get("xlsx"), kinds.get("csv"))
            for theme, kinds in sorted(themes.items(), key=lambda t: _theme_order(t[0]))
        ]
        prefix = f"LIIA pack {folder.name} "
        for path in sorted((folder / "packs").glob("*.xlsx")):
            if not path.name.startswith(prefix):
                continue
            authority = path.stem[len(prefix) :]
            download = _download(root, path)
            quarter.packs.append((authority, download))
            if authority == own_authority:
                quarter.own_pack = download
        found.append(quarter)
    return found
