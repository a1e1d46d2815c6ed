"""Comparator groups: the sets of groups an authority is compared within, read from data.

`schemas/catalogue/group_sets.csv` lists each set: its name, kind, vintage, source and where its
members are. A set's members are every authority of the region in one group named as the set
(`authorities.csv`: London), a column of the authorities file (`authorities.csv:column`) or a CSV
of its own with columns `group,authority` (any code or name of the authority; optional
`position`, `closeness`, `distance`, `source`). `LIIA_GROUP_SETS` names a further group_sets.csv
(an operator's, with its own member files beside it) whose sets are added to the catalogue's.

Kinds:
- `partition`: every authority in exactly one group (Inner/Outer London, sub-regions);
- `groups`: groups of two or more, not covering everyone (shared services, a chosen group);
- `neighbours`: each group is one authority's list (`group` is that authority), compared with it.

A set that cannot be read, names an unknown authority or (a partition) does not cover the region
exactly is refused, with a message saying what to change; the other sets are used. Where the
deployment's region is part of London (LIIA_AUTHORITIES), a set's London authorities outside it
are left out of it, not refused: a group the region leaves with fewer than two goes too."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.collection.catalogue import CATALOGUE_DIR, Authorities, load_authorities

KINDS = ("partition", "groups", "neighbours")
SET_COLUMNS = ["set_id", "name", "kind", "members", "vintage", "source", "provisional"]
MEMBER_COLUMNS = ["set_id", "group", "authority", "position", "closeness", "distance", "source"]
FROM_AUTHORITIES = "authorities.csv:"
WHOLE_REGION = "authorities.csv"


class GroupSetError(ValueError):
    """A group set refused: the message says which, where and what to change."""


@dataclass(frozen=True)
class GroupSets:
    sets: pd.DataFrame  # one row per usable set: SET_COLUMNS and description
    members: pd.DataFrame  # MEMBER_COLUMNS, authority as a LIIA code
    problems: tuple[str, ...] = field(default=())

    def comparisons(self) -> pd.DataFrame:
        """(set_id, group_name, authority, member, is_self): for each authority and each group it
        is compared within, the authorities in that comparison. In a partition or a group, an
        authority is compared within its own groups; in a neighbours set, with its own list, which
        it joins for its rank but not for the group's figure."""
        kind = self.members["set_id"].map(self.sets.set_index("set_id")["kind"])
        plain = self.members[kind != "neighbours"]
        within = plain.merge(plain[["set_id", "group", "authority"]], on=["set_id", "group"])
        within = pd.DataFrame(
            {
                "set_id": within["set_id"],
                "group_name": within["group"],
                "authority": within["authority_x"],
                "member": within["authority_y"],
            }
        )
        lists = self.members[kind == "neighbours"]
        own = lists.drop_duplicates(["set_id", "group"])
        neighbours = pd.concat(
            [
                pd.DataFrame(
                    {
                        "set_id": lists["set_id"],
                        "group_name": lists["group"],
                        "authority": lists["group"],
                        "member": lists["authority"],
                    }
                ),
                pd.DataFrame(
                    {
                        "set_id": own["set_id"],
                        "group_name": own["group"],
                        "authority": own["group"],
                        "member": own["group"],
                    }
                ),
            ]
        )
        out = pd.concat([within, neighbours], ignore_index=True)
        out["is_self"] = out["authority"] == out["member"]
        return out.sort_values(["set_id", "authority", "group_name", "member"], ignore_index=True)

    def memberships(self) -> pd.DataFrame:
        """(set_id, group_name, authority, left_out): the authorities each group's figure is
        taken over. A neighbours set's group is the authority whose list it is (`left_out`), and
        its figure is over that list, the authority itself (and a unit it shares) left out."""
        kind = self.members["set_id"].map(self.sets.set_index("set_id")["kind"])
        rows = self.members.rename(columns={"group": "group_name"})
        rows["left_out"] = rows["group_name"].where(kind == "neighbours")
        return rows[["set_id", "group_name", "authority", "left_out"]].drop_duplicates(
            ignore_index=True
        )

    def group_of(self, set_id: str, authority: str) -> list[str]:
        """The members an authority is compared with in a set (itself not included)."""
        c = self.comparisons()
        mine = c[(c["set_id"] == set_id) & (c["authority"] == authority) & ~c["is_self"]]
        return list(mine["member"])


def _read_members(
    row, base: Path, authorities: Authorities
) -> tuple[pd.DataFrame | None, list[str]]:
    """A set's member rows, or None and why it is refused."""
    where = row.members
    if where == WHOLE_REGION:
        return pd.DataFrame({"group": row.name, "authority": authorities.codes}), []
    if where.startswith(FROM_AUTHORITIES):
        column = where[len(FROM_AUTHORITIES) :]
        if column not in authorities.table:
            return None, [
                f"group set '{row.set_id}': the authorities file has no column '{column}'; "
                f"name one of its columns after '{FROM_AUTHORITIES}'"
            ]
        table = authorities.table[authorities.table[column].astype(str).str.strip() != ""]
        return pd.DataFrame({"group": table[column], "authority": table["liia_code"]}), []
    path = base / where
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        return None, [
            f"group set '{row.set_id}': its members file {path} is missing; add it, or remove "
            "the set's row from group_sets.csv"
        ]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        return None, [f"group set '{row.set_id}': {path} cannot be read as CSV ({error})"]
    missing = {"group", "authority"} - set(raw.columns)
    if missing:
        return None, [
            f"group set '{row.set_id}': {path} has no column {', '.join(sorted(missing))}; its "
            "header must be group,authority (then optional position, closeness, distance, source)"
        ]
    problems = []
    resolved, outside = [], []
    for line, (group, name) in enumerate(zip(raw["group"], raw["authority"], strict=True), 2):
        code = authorities.resolve(name)
        named = [name, group] if row.kind == "neighbours" else [name]
        if any(authorities.resolve(n) is None and _elsewhere(n) for n in named):
            outside.append(True)  # a London authority this deployment's region leaves out
            resolved.append(code)
            continue
        outside.append(False)
        if code is None:
            problems.append(
                f"group set '{row.set_id}' ({path.name}, row {line}): '{name}' is not one of the "
                "region's authorities; write its LIIA code (e.g. BAR), ONS code, DfE code or name"
            )
        if row.kind == "neighbours" and authorities.resolve(group) is None:
            problems.append(
                f"group set '{row.set_id}' ({path.name}, row {line}): the group '{group}' of a "
                "neighbours set must be the authority whose neighbours these are"
            )
        resolved.append(code)
    if problems:
        return None, problems
    out = raw.assign(authority=resolved)
    if row.kind == "neighbours":
        out["group"] = [authorities.resolve(g) for g in raw["group"]]
    return _within_region(out, pd.Series(outside, index=out.index), row.kind), []


def _elsewhere(name: object) -> bool:
    """Whether `name`, which the deployment's region does not have, is one of the catalogue's
    London authorities (so outside the region, not a mistake)."""
    return load_authorities(CATALOGUE_DIR / "authorities.csv").resolve(name) is not None


def _within_region(members: pd.DataFrame, outside: pd.Series, kind: str) -> pd.DataFrame:
    """A set's members less the authorities outside the region; in a set of groups, a group the
    region leaves with fewer than two members goes too (a group of one in the file itself stays,
    to be refused)."""
    if not outside.any():
        return members
    kept = members[~outside]
    if kind == "groups":
        in_file = members.groupby("group")["authority"].size()
        here = kept.groupby("group")["authority"].nunique().reindex(in_file.index, fill_value=0)
        kept = kept.loc[kept["group"].map((here >= 2) | (in_file < 2)).astype(bool)]
    return kept.reset_index(drop=True)


def _shape_problems(set_id: str, kind: str, members: pd.DataFrame, authorities: Authorities):
    name = authorities.name
    problems = []
    twice = members[members.duplicated(["group", "authority"], keep=False)]
    for (group, code), _ in twice.groupby(["group", "authority"]):
        problems.append(f"group set '{set_id}' lists {name(code)} twice in '{group}'")
    if kind == "partition":
        counts = members.groupby("authority")["group"].agg(list)
        left_out = [name(c) for c in authorities.codes if c not in counts.index]
        if left_out:
            problems.append(
                f"group set '{set_id}' is a partition but leaves out {', '.join(left_out)}: "
                "put every authority in exactly one group, or make the set's kind 'groups'"
            )
        for code, groups in counts.items():
            if len(set(groups)) > 1:
                problems.append(
                    f"group set '{set_id}' is a partition but puts {name(code)} in "
                    f"{len(set(groups))} groups ({', '.join(sorted(set(groups)))})"
                )
    elif kind == "groups":
        sizes = members.groupby("group")["authority"].nunique()
        for group in sizes[sizes < 2].index:
            problems.append(
                f"group set '{set_id}': group '{group}' has one member; a group "
                "needs two or more to compare within"
            )
    else:
        for code in members.loc[members["group"] == members["authority"], "group"]:
            problems.append(f"group set '{set_id}' lists {name(code)} as its own neighbour")
    return problems


def _read_set_list(path: Path) -> pd.DataFrame:
    sets = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = set(SET_COLUMNS) - set(sets.columns)
    if missing:
        raise GroupSetError(
            f"{path}: no column {', '.join(sorted(missing))}; the header must include "
            + ",".join(SET_COLUMNS)
        )
    if "description" not in sets:
        sets["description"] = ""
    return sets.assign(base=str(path.parent))


def load_group_sets(authorities: Authorities, path: Path | None = None) -> GroupSets:
    """The catalogue's group sets (and those of LIIA_GROUP_SETS), every bad one refused with its
    reasons in `problems`. Read again only when a file of theirs changes (a service runs for
    years, and an operator edits a set while it does)."""
    first = path or CATALOGUE_DIR / "group_sets.csv"
    extra = os.environ.get("LIIA_GROUP_SETS") if path is None else None
    stamps = tuple(_stamp(f) for f in _files_of(first, extra))
    region = tuple(map(tuple, authorities.table.astype(str).to_numpy()))
    key = (first, extra, stamps, region)
    if key not in _READ:
        _READ.clear()  # only the latest reading is kept
        _READ[key] = _read_group_sets(authorities, first, extra)
    return _READ[key]


_READ: dict[tuple, GroupSets] = {}


def _files_of(first: Path, extra: str | None) -> list[Path]:
    """The set lists and the member files they name: what a reading of the sets depends on."""
    files = []
    for listed in [first] + ([Path(extra)] if extra else []):
        files.append(listed)
        try:
            members = pd.read_csv(listed, dtype=str, keep_default_na=False, usecols=["members"])
        except (OSError, ValueError, pd.errors.ParserError):
            continue  # reading the sets says what is wrong with it
        files += [
            listed.parent / m
            for m in members["members"]
            if not m.startswith(FROM_AUTHORITIES) and m != WHOLE_REGION
        ]
    return files


def _stamp(path: Path) -> tuple:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def _read_group_sets(authorities: Authorities, first: Path, extra: str | None) -> GroupSets:
    lists = [_read_set_list(first)]
    if extra:
        try:
            lists.append(_read_set_list(Path(extra)))
        except (FileNotFoundError, GroupSetError) as error:
            return _assemble(pd.concat(lists), authorities, [f"LIIA_GROUP_SETS: {error}"])
    return _assemble(pd.concat(lists, ignore_index=True), authorities, [])


def _assemble(sets: pd.DataFrame, authorities: Authorities, problems: list[str]) -> GroupSets:
    kept, members = [], []
    seen: set[str] = set()
    for row in sets.itertuples(index=False):
        if row.set_id in seen:
            problems.append(f"group set '{row.set_id}' is defined twice; the first is used")
            continue
        seen.add(row.set_id)
        if row.kind not in KINDS:
            problems.append(
                f"group set '{row.set_id}': kind '{row.kind}' is not one of {', '.join(KINDS)}"
            )
            continue
        frame, why = _read_members(row, Path(row.base), authorities)
        if frame is None:
            problems.extend(why)
            continue
        shape = _shape_problems(row.set_id, row.kind, frame, authorities)
        if shape:
            problems.extend(shape)
            continue
        kept.append(row)
        members.append(frame.assign(set_id=row.set_id).reindex(columns=MEMBER_COLUMNS))
    table = pd.DataFrame(kept, columns=sets.columns).drop(columns="base")
    member_rows = (
        pd.concat(members, ignore_index=True) if members else pd.DataFrame(columns=MEMBER_COLUMNS)
    )
    member_rows["position"] = pd.to_numeric(member_rows["position"], errors="coerce").astype(
        "Int64"
    )
    member_rows["distance"] = pd.to_numeric(member_rows["distance"], errors="coerce")
    for column in ("closeness", "source"):
        member_rows[column] = member_rows[column].replace("", None)
    return GroupSets(table.reset_index(drop=True), member_rows, tuple(problems))
