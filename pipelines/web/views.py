"""The pages: home, an authority's submissions and uploads, the files each reader may download,
and LIIA's team's status, release and audit log. Who may open each is in access.RULES."""

from __future__ import annotations

import csv
import mimetypes
import os
import re
import subprocess
import sys
from pathlib import Path

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from pipelines.collection.catalogue import load_authorities
from pipelines.collection.places import place
from pipelines.collection.processes import alive
from pipelines.collection.quarters import deadline, parse_quarter, quarter_containing
from pipelines.web import answers, explorer
from pipelines.web.access import authority_of
from pipelines.web.audit import record
from pipelines.web.downloads import released_quarters
from pipelines.web.forms import ReleaseForm, UploadForm
from pipelines.web.models import AuditEvent, Upload
from pipelines.web.svg import bar_chart, line_chart, shown
from pipelines.web.uploads import receive_upload

ISSUE_COLUMNS = [
    "Severity",
    "Sheet",
    "Cell",
    "Ref",
    "Value found",
    "What is wrong",
    "How to fix it",
]


def home(request):
    return render(request, "web/home.html")


# --- an authority's submissions ---


def _uploads_with_answers(authority: str) -> tuple[list[Upload], list[dict]]:
    """The authority's uploads, each with the pipeline's answer if it has one, and the files the
    pipeline answered that did not come through the front door (dropped in the inbox)."""
    uploads = list(Upload.objects.filter(authority=authority))
    official = answers.authority_submissions(authority)
    by_sha = {row["sha256"]: row for row in official}
    for upload in uploads:
        upload.official = by_sha.get(upload.sha256)
    through_web = {u.sha256 for u in uploads}
    return uploads, [row for row in official if row["sha256"] not in through_web]


def submissions(request):
    code = authority_of(request.user)
    uploads, others = _uploads_with_answers(code)
    return render(
        request,
        "web/submissions.html",
        {"uploads": uploads, "others": others, "form": UploadForm()},
    )


def upload(request):
    code = authority_of(request.user)
    if request.method != "POST":
        return render(request, "web/upload.html", {"form": UploadForm()})
    files = request.FILES  # reads the upload, stopping at the limit (uploads.LimitedUploadHandler)
    if getattr(request, "upload_too_large", False):
        form = UploadForm({}, {})
        form.is_valid()
        form.errors["file"] = form.error_class([_too_large()])
        record(request, "upload refused", "a file over the size limit")
        return render(request, "web/upload.html", {"form": form}, status=413)
    form = UploadForm(request.POST, files)
    if not form.is_valid():
        return render(request, "web/upload.html", {"form": form}, status=400)
    sent = form.cleaned_data["file"]
    received = timezone.now()
    answer = receive_upload(Path(sent.temporary_file_path()), sent.name, code, received)
    saved = Upload.objects.create(
        authority=code,
        uploaded_by=request.user,
        received_at=received,
        file_name=sent.name[:255],
        size_bytes=sent.size,
        sha256=answer.sha256,
        quarter=answer.quarter,
        status=answer.status,
        submitted=answer.submitted,
        inbox_path=answer.inbox_path,
        message=answer.message,
        rows=answer.rows,
    )
    record(
        request,
        "upload" if answer.submitted else "upload refused",
        f"{sent.name} ({answer.sha256[:16]}) for {code}: {answer.status}",
    )
    return redirect("submission", upload_id=saved.id)


def _too_large() -> str:
    from django.conf import settings

    limit = settings.UPLOAD_LIMIT_BYTES / 1024 / 1024
    return f"The file is larger than {limit:g} MB. A return is usually under 1 MB: send the template's workbook without extra sheets or pictures."


def submission(request, upload_id):
    # another authority's upload is "not found", exactly as an id that does not exist
    upload = get_object_or_404(Upload, id=upload_id, authority=authority_of(request.user))
    upload.official = answers.official_answers([upload.sha256]).get(upload.sha256)
    name = load_authorities().name(upload.authority)
    feedback = None
    if upload.official:
        relative = (
            f"{upload.official['quarter']}/LIIA feedback {upload.official['quarter']} {name}.xlsx"
        )
        if (place("reports") / "authorities" / name / relative).is_file():
            feedback = relative
    errors = [r for r in upload.rows if r.get("Severity") == "error"]
    warnings = [r for r in upload.rows if r.get("Severity") == "warning"]
    return render(
        request,
        "web/submission.html",
        {
            "upload": upload,
            "errors": errors,
            "warnings": warnings,
            "columns": ISSUE_COLUMNS,
            "card_columns": ISSUE_COLUMNS[4:],
            "feedback": feedback,
        },
    )


# --- files, each area behind its rule ---


def _serve(request, root: Path, relative: str, audited: bool):
    """A file under `root` (an index.html for a folder), never anything outside it."""
    root = root.resolve()
    target = (root / relative).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(root) or not target.is_file():
        raise Http404("No such file")
    if audited:
        record(request, "download", str(target.relative_to(place("reports").resolve())))
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    inline = kind == "text/html"
    response = FileResponse(
        open(target, "rb"), content_type=kind, as_attachment=not inline, filename=target.name
    )
    if audited:
        response["Cache-Control"] = "private, no-store"
    return response


# The pipeline's own pages carry their style inline.
_pages = csp_update({"style-src": [UNSAFE_INLINE]})


@_pages
def public(request, path: str = ""):
    return _serve(request, place("reports") / "public", path, audited=False)


@_pages
def authority_file(request, path: str = ""):
    name = load_authorities().name(authority_of(request.user))
    return _serve(request, place("reports") / "authorities" / name, path, audited=True)


@_pages
def member_file(request, path: str = ""):
    return _serve(request, place("reports") / "members", path, audited=True)


def members(request):
    code = authority_of(request.user)
    own = load_authorities().name(code) if code else None
    quarters = released_quarters(place("reports") / "members", own)
    return render(request, "web/members.html", {"quarters": quarters})


# --- the explorer ---


def explore(request):
    return _explore(request, explorer.PUBLIC, "explore")


def members_explore(request):
    return _explore(request, explorer.RESTRICTED, "members-explore")


def _explore(request, edition: str, url_name: str):
    own = authority_of(request.user) if edition == explorer.RESTRICTED else None
    found = explorer.explore(place("warehouse"), edition, request.GET, own)
    wanted = request.GET.get("format", "")
    if found is not None and wanted in ("csv", "xlsx"):
        if edition == explorer.RESTRICTED:
            record(request, "download", f"explorer {found.choice.query()} as {wanted}")
        content, kind, name = explorer.download(found, wanted)
        response = HttpResponse(content, content_type=kind)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        if edition == explorer.RESTRICTED:
            response["Cache-Control"] = "private, no-store"
        return response
    context = {"found": found, "edition": edition, "url_name": url_name}
    if found is not None:
        ind = found.indicator
        unit, decimals = ind["unit"], int(ind["decimals"])
        own_name = found.own.name if found.own else ""
        series = [("own", own_name)] if own_name else []
        series += [("london", "London"), ("median", f"Median of {found.group_label}")]
        if found.group_label != "London":
            series.insert(2, ("group", f"{found.group_label} ({found.group_name})"))
        context.update(
            {
                "bars": bar_chart(
                    found.figures,
                    unit,
                    decimals,
                    found.group_value,
                    found.group_label if found.group_label == "London" else found.group_name,
                ),
                "lines": line_chart(found.trend, series, unit, decimals),
                "series": series,
                "table": [
                    (f, shown(f.value, unit, decimals) or f"[{f.symbol or 'x'}]")
                    for f in found.figures
                ],
                "trend_rows": [
                    (r["label"], [shown(r.get(k), unit, decimals) for k, _ in series])
                    for r in found.trend
                ],
                "summary": {
                    "group": shown(found.group_value, unit, decimals),
                    "median": shown(found.median, unit, decimals),
                    "low": shown(found.low, unit, decimals),
                    "high": shown(found.high, unit, decimals),
                },
                "england": [
                    {
                        "year": r["year"],
                        "england": shown(r["england"], unit, decimals),
                        "london": shown(r["london"], unit, decimals),
                        "own": shown(r["own"], unit, decimals),
                        "rank": f"{r['rank']} of {r['ranked']}" if r["rank"] else "",
                        "band": r["band"] or "",
                        "neighbours": shown(r["neighbours"], unit, decimals),
                    }
                    for r in found.england
                ],
                "choices": explorer.indicator_choices(),
                "groups": [
                    (k, label)
                    for k, (label, _, public) in explorer.GROUPS.items()
                    if public or edition == explorer.RESTRICTED
                ],
                "authorities": sorted(
                    ((c, load_authorities().name(c)) for c in load_authorities().codes),
                    key=lambda a: a[1],
                ),
                "quarter_label": parse_quarter(found.choice.quarter).label,
                "quarter_options": [(q, parse_quarter(q).label) for q in found.quarters],
                "query": found.choice.query(),
                "link": request.build_absolute_uri(f"{request.path}?{found.choice.query()}"),
            }
        )
    return render(request, "web/explore.html", context)


@_pages
def team_file(request, path: str = ""):
    return _serve(request, place("reports"), path, audited=True)


# --- LIIA's team ---


def _chosen_quarter(request) -> str:
    quarters = answers.quarters_answered()
    asked = request.GET.get("quarter", "")
    return asked if asked in quarters else (quarters[0] if quarters else "")


def team_status(request):
    quarter_key = _chosen_quarter(request)
    authorities = load_authorities()
    rows = answers.quarter_submissions(quarter_key) if quarter_key else []
    now = timezone.now()
    table = []
    due = deadline(parse_quarter(quarter_key)) if quarter_key else None
    for code in authorities.codes:
        theirs = [r for r in rows if r["authority"] == code]
        current = next((r for r in theirs if r["is_current"]), theirs[-1] if theirs else None)
        waiting = Upload.objects.filter(authority=code, submitted=True, quarter=quarter_key)
        waiting = [u for u in waiting if u.sha256 not in {r["sha256"] for r in theirs}]
        overdue = (now.date() - due).days if due and not current and now.date() > due else 0
        table.append(
            {
                "name": authorities.name(code),
                "current": current,
                "files": len(theirs),
                "waiting": len(waiting),
                "overdue": overdue,
            }
        )
    table.sort(key=lambda r: (r["current"] is not None, -r["overdue"], r["name"]))
    return render(
        request,
        "web/team_status.html",
        {
            "quarter": quarter_key,
            "quarters": answers.quarters_answered(),
            "table": table,
            "deadline": due,
            "returned": sum(r["current"] is not None for r in table),
        },
    )


FINISHED = re.compile(r"^Finished with exit status (\d+)$", re.MULTILINE)
PROCESS = re.compile(r"^Process (\d+)$", re.MULTILINE)


def release_state(log: str, alive=alive) -> str:
    """ "running" until the release's last line says how it ended: "released" or "failed"; or
    "stopped" when its process is gone without that line (killed, or the server restarted)."""
    ended = FINISHED.findall(log)
    if ended:
        return "released" if ended[-1] == "0" else "failed"
    started = PROCESS.search(log)
    return "stopped" if started and not alive(int(started.group(1))) else "running"


def _release_logs() -> list[tuple[str, str, str]]:
    folder = place("web") / "releases"
    logs = sorted(folder.glob("*.log"), reverse=True)[:5] if folder.exists() else []
    texts = [(p.stem, p.read_text(errors="replace")) for p in logs]
    return [(name, text[-3000:], release_state(text)) for name, text in texts]


def team_release(request):
    under_way = quarter_containing(timezone.localdate()).previous()
    quarters = sorted({*answers.quarters_answered(), under_way.key}, reverse=True)
    form = ReleaseForm(request.POST or None, quarters=quarters)
    if request.method == "POST" and form.is_valid():
        quarter = form.cleaned_data["quarter"]
        folder = place("web") / "releases"
        folder.mkdir(parents=True, exist_ok=True)
        who = request.user.get_username()
        log = folder / f"{timezone.now():%Y-%m-%d %H%M%S} {quarter}.log"
        with open(log, "w") as out:
            out.write(f"Release of {quarter} asked for by {who}\n")
            out.flush()
            # the shell adds how it ended, which the page reads (the quarter is one of the form's)
            subprocess.Popen(
                [
                    "sh",
                    "-c",
                    'echo "Process $$"; "$0" release --quarter "$1"; '
                    'echo "Finished with exit status $?"',
                    str(Path(sys.executable).with_name("liia")),
                    quarter,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ},
            )
        record(request, "release", f"asked for the release of {quarter}")
        messages.success(request, f"The release of {quarter} has started. Its progress is below.")
        return redirect("team-release")
    return render(
        request,
        "web/team_release.html",
        {"form": form, "logs": _release_logs(), "waiting": _revisions_waiting()},
    )


def _revisions_waiting() -> list[tuple[str, str]]:
    """Each released quarter's changes waiting for its revision, from the pipeline's ledger (beside
    its working database): the quarter and what waits, and when it is due, in words."""
    from pipelines.receive.ledger import waiting
    from pipelines.release.timing import waiting_text

    ledger = place("working").with_name("answered.sqlite")
    return [
        (w.quarter.key, waiting_text((w.figures_changed, w.what), w.due)) for w in waiting(ledger)
    ]


AUDIT_PAGE = 100


def team_audit(request):
    from django.core.paginator import Paginator

    pages = Paginator(AuditEvent.objects.all(), AUDIT_PAGE)
    page = pages.get_page(request.GET.get("page"))  # a page out of range or not a number: 1 or last
    around = list(pages.get_elided_page_range(page.number, on_each_side=2, on_ends=1))
    return render(
        request,
        "web/team_audit.html",
        {"events": page.object_list, "page": page, "around": around, "ellipsis": pages.ELLIPSIS},
    )


def team_audit_csv(request):
    from pipelines.receive.safe_text import csv_cell

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="LIIA audit log.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 only with its byte-order mark
    writer = csv.writer(response)
    writer.writerow(["When", "Who", "Action", "What", "From"])
    for e in AuditEvent.objects.all().iterator():
        writer.writerow(
            [e.at.isoformat(), csv_cell(e.who), e.action, csv_cell(e.what), e.address or ""]
        )
    record(request, "download", "the audit log (CSV)")
    return response
