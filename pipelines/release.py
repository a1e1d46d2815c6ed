"""When a quarter is released, and what a release says of itself.

A quarter's benchmarks reach the packs, theme workbooks, pages, `latest_quarter` and the public
edition only once the quarter is released: by the first run at or after its return deadline (the
deadline schedule's run, or any later one if that was missed), or earlier by the data lead
(`liia release --quarter KEY`). Before that, returns get their feedback and the status workbook
counts them, nothing more. Once released, a run whose figures differ (a late return, a correction)
makes a revision: the quarter is republished, marked revised with its date and what changed, and
the earlier release is kept.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pipelines.quarters import Quarter

LONDON = ZoneInfo("Europe/London")
# The return deadline: this day of the month, this many months after the quarter ends.
DEADLINE_DAY = int(os.environ.get("LIIA_DEADLINE_DAY", "15"))
DEADLINE_MONTHS_AFTER = int(os.environ.get("LIIA_DEADLINE_MONTHS_AFTER", "2"))
# Run tags: the moment a run acts as of (the schedule's tick), and a release asked for by hand.
AS_OF_TAG = "liia/as_of"
RELEASE_TAG = "liia/release"

REVISIONS_POLICY = (
    "Figures are revised when an authority sends a late return or a correction after release. "
    "A revised quarter is republished with the date and what changed, and every earlier release "
    "stays available beside it. Figures of earlier quarters can also change when an authority "
    "corrects them."
)


def deadline(quarter: Quarter) -> date:
    """The quarter's return deadline: the 15th of the second month after it ends, by default."""
    month = quarter.end.year * 12 + quarter.end.month - 1 + DEADLINE_MONTHS_AFTER
    return date(month // 12, month % 12 + 1, DEADLINE_DAY)


def is_due(quarter: Quarter, now: datetime) -> bool:
    """Whether a run at `now` is at or after the quarter's deadline."""
    return now.astimezone(LONDON).date() >= deadline(quarter)


def run_moment(tags: dict[str, str], clock=None) -> datetime:
    """The moment a run acts as of: its `liia/as_of` tag (the schedule's tick, or a test's simulated
    date), else now."""
    if tags.get(AS_OF_TAG):
        moment = datetime.fromisoformat(tags[AS_OF_TAG])
        return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)
    return (clock or datetime.now)(LONDON)


@dataclass(frozen=True)
class ReleaseSettings:
    """What every public output says of itself; set in the service's environment."""

    status: str
    contact: str
    source: str

    @classmethod
    def from_environment(cls) -> ReleaseSettings:
        return cls(
            status=os.environ.get("LIIA_RELEASE_STATUS", "Management information"),
            contact=os.environ.get(
                "LIIA_CONTACT", "LIIA data team, London Innovation and Improvement Alliance"
            ),
            source=os.environ.get(
                "LIIA_SOURCE",
                "Quarterly data returns from the 33 London local authorities to LIIA",
            ),
        )

    def status_sentence(self) -> str:
        if self.status.lower() == "management information":
            return (
                "These figures are management information: they come from authorities' own "
                "systems, are not official statistics, and may be revised."
            )
        return f"Status of these figures: {self.status}."


@dataclass(frozen=True)
class Release:
    """One release of a quarter: the first (1) or a revision (2, 3, ...)."""

    quarter: str
    number: int
    released_at: datetime
    reason: str  # deadline | data lead | revision
    changes: str  # what changed since the release before ('' for the first)
    figures_changed: int

    @property
    def revised(self) -> bool:
        return self.number > 1


def decide(
    quarter: Quarter,
    now: datetime,
    requested: bool,
    has_returns: bool,
    last: Release | None,
    changed: int,
    what_changed: str,
) -> Release | None:
    """The release this run makes, if any: a first release when the quarter has an accepted return
    and is due or asked for; a revision when released before and `changed` figures differ."""
    if not has_returns:
        return None
    if last is None:
        if not (requested or is_due(quarter, now)):
            return None
        reason = "data lead" if requested and not is_due(quarter, now) else "deadline"
        return Release(quarter.key, 1, now, reason, "", 0)
    if changed == 0:
        return None
    return Release(quarter.key, last.number + 1, now, "revision", what_changed, changed)


def changes_text(
    before: set[str], after: set[str], names: dict[str, str], figures_changed: int
) -> str:
    """What changed between two releases, in words: whose returns, and how many figures.
    `before`/`after`: (authority code, submission id) pairs as text `CODE:ID`."""

    def authorities(pairs: set[str]) -> set[str]:
        return {p.split(":", 1)[0] for p in pairs}

    new = sorted(authorities(after) - authorities(before))
    replaced = sorted(
        a
        for a in authorities(after) & authorities(before)
        if {p for p in after if p.startswith(f"{a}:")}
        != {p for p in before if p.startswith(f"{a}:")}
    )
    withdrawn = sorted(authorities(before) - authorities(after))
    parts = []
    if new:
        parts.append("late return from " + ", ".join(names.get(a, a) for a in new))
    if replaced:
        parts.append("corrected return from " + ", ".join(names.get(a, a) for a in replaced))
    if withdrawn:
        parts.append("no accepted return now from " + ", ".join(names.get(a, a) for a in withdrawn))
    if not parts:
        parts.append("figures recomputed")
    return f"{'; '.join(parts)}: {figures_changed} published figure{'s' * (figures_changed != 1)} changed"


def next_release_text(quarter: Quarter) -> str:
    """When the quarter after `quarter` is released."""
    following = quarter.next()
    return f"{deadline(following):%d %B %Y} ({following.label}, after its return deadline)"


def release_facts(
    settings: ReleaseSettings, releases: list[Release], quarter: Quarter
) -> list[tuple[str, str]]:
    """What a public output says of the quarter's release, (label, text) in reading order: the
    publishable workbooks' About sheet and the public page say the same."""
    first, last = releases[0], releases[-1]
    released = f"{first.released_at:%d %B %Y}"
    if last.revised:
        released += f"; revised {last.released_at:%d %B %Y} (release {last.number}: {last.changes})"
    return [
        ("What these figures are", settings.status_sentence()),
        ("Source", settings.source),
        ("Contact", settings.contact),
        ("Released", released),
        ("Next release", next_release_text(quarter)),
        ("Revisions", REVISIONS_POLICY),
    ]
