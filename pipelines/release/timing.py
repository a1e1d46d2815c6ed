"""When a quarter is released, and what a release says of itself.

A quarter's benchmarks reach the packs, theme workbooks, pages, `latest_quarter` and the public
edition only once the quarter is released: by the first run at or after its return deadline (the
deadline schedule's run, or any later one if that was missed), or earlier by the data lead
(`liia release --quarter KEY`). Before that, returns get their feedback and the status workbook
counts them, nothing more. Once released, a run whose figures differ (a late return, a correction)
makes a revision: the quarter is republished, marked revised with its date and what changed, and
the earlier release is kept.

Revisions come on a rhythm, not with every file (LIIA_REVISIONS): late returns and corrections
after release are gathered, and published as one revision at the next revision moment (`weekly`,
the default: 07:00 on LIIA_REVISION_DAY, Monday; or `with next release`: with the next quarter's
first release), or at once when the data lead asks (`liia release --quarter KEY`). Until then the
quarter's changes wait, and the data team's page and status workbook say what is waiting. (`at
once`, a revision with every changed run, is the behaviour before the rhythm.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pipelines.collection.quarters import Quarter, deadline

LONDON = ZoneInfo("Europe/London")
# Run tags: the moment a run acts as of (the schedule's tick), and a release asked for by hand.
AS_OF_TAG = "liia/as_of"
RELEASE_TAG = "liia/release"

REVISIONS_POLICY = (
    "Figures are revised when an authority sends a late return or a correction after release: "
    "these are gathered and published together at set times (weekly, and with the next "
    "quarter's release). A revised quarter is republished with the date and what changed, and "
    "every earlier release stays available beside it. Figures of earlier quarters can also "
    "change when an authority corrects them."
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
REVISION_HOUR = 7
MODES = ("weekly", "with next release", "at once")


@dataclass(frozen=True)
class RevisionRhythm:
    """When the changes to a released quarter are published (LIIA_REVISIONS, LIIA_REVISION_DAY)."""

    mode: str = "weekly"
    day: int = 0  # Monday

    @classmethod
    def from_environment(cls, env: dict[str, str] | None = None) -> RevisionRhythm:
        env = os.environ if env is None else env
        mode = (env.get("LIIA_REVISIONS") or "weekly").strip().lower()
        day = (env.get("LIIA_REVISION_DAY") or "monday").strip().lower()
        if mode not in MODES:
            raise ValueError(f"LIIA_REVISIONS is {mode!r}: it must be one of {', '.join(MODES)}")
        if day not in WEEKDAYS:
            raise ValueError(f"LIIA_REVISION_DAY is {day!r}: it must be a day, as Monday")
        return cls(mode, WEEKDAYS.index(day))

    def cron(self) -> str:
        """The weekly revision moment as cron (cron counts Sunday as 0)."""
        return f"0 {REVISION_HOUR} * * {(self.day + 1) % 7}"

    def next_moment(self, quarter: Quarter, after: datetime) -> datetime | None:
        """When changes to `quarter` seen at `after` are published (None: at once)."""
        if self.mode == "at once":
            return None
        release = datetime.combine(deadline(quarter.next()), datetime.min.time(), LONDON)
        release = release.replace(hour=REVISION_HOUR)
        if self.mode == "with next release":
            return release
        local = after.astimezone(LONDON)
        days = (self.day - local.weekday()) % 7
        moment = (local + timedelta(days=days)).replace(
            hour=REVISION_HOUR, minute=0, second=0, microsecond=0
        )
        if moment <= local:
            moment += timedelta(days=7)
        return min(moment, release)


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
    contact_email: str = ""
    contact_web: str = ""

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
            contact_email=os.environ.get("LIIA_CONTACT_EMAIL", ""),
            contact_web=os.environ.get("LIIA_CONTACT_WEB", "https://liia.london"),
        )

    def contact_text(self) -> str:
        """Who to ask, with the email and web address where set: as every public output says."""
        parts = [self.contact]
        if self.contact_email:
            parts.append(f"email {self.contact_email}")
        if self.contact_web:
            parts.append(f"web {self.contact_web}")
        return "; ".join(parts)

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
    revise: bool = True,
) -> Release | None:
    """The release this run makes, if any: a first release when the quarter has an accepted return
    and is due or asked for; a revision when released before, `changed` figures differ and it is
    a revision moment (`revise`: the revision schedule's run, the data lead's, or the rhythm is
    `at once`)."""
    if not has_returns:
        return None
    if last is None:
        if not (requested or is_due(quarter, now)):
            return None
        reason = "data lead" if requested and not is_due(quarter, now) else "deadline"
        return Release(quarter.key, 1, now, reason, "", 0)
    if changed == 0 or not (revise or requested):
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


def waiting_text(pending: tuple[int, str], due: datetime | None) -> str:
    """What waits for a quarter's next revision, and when that is, in words."""
    changed, what = pending
    when = f"due {due.astimezone(LONDON):%A %d %B %Y %H:%M}" if due else "due at the next run"
    return f"{what}; {when}, or at once by the data lead (liia release)" if what else when


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
        ("Contact", settings.contact_text()),
        ("Released", released),
        ("Next release", next_release_text(quarter)),
        ("Revisions", REVISIONS_POLICY),
    ]
