"""Every URL of the front door against every role, built from the URL configuration itself (a
URL added without a rule here fails), and the checks inside pages: no authority reaches another's
submissions or files by any id or path."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from pipelines.web.models import Upload

ROLES = ("anonymous", "barnet", "camden", "member", "team")
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
OFFICERS = {"barnet", "camden"}
MEMBERS = {"barnet", "camden", "member", "team"}
TEAM = {"team"}

# Who may open each URL, written here apart from the application's own rules (pipelines/web/access.py).
EXPECTED = {
    "home": EVERYONE,
    "public-index": EVERYONE,
    "public": EVERYONE,
    "sign-in": EVERYONE,
    "password-reset": EVERYONE,
    "password-reset-sent": EVERYONE,
    "password-reset-confirm": EVERYONE,
    "password-reset-done": EVERYONE,
    "sign-out": SIGNED_IN,
    "second-factor": SIGNED_IN,
    "submissions": OFFICERS,
    "upload": OFFICERS,
    "submission": OFFICERS,
    "authority-file": OFFICERS,
    "members": MEMBERS,
    "member-file": MEMBERS,
    "explore": EVERYONE,
    "members-explore": MEMBERS,
    "team-status": TEAM,
    "team-release": TEAM,
    "team-audit": TEAM,
    "team-audit-csv": TEAM,
    "team-file": TEAM,
}
SAMPLE_ARGUMENTS = {"path": "index.html", "uidb64": "MQ", "token": "set-password"}


def every_url(resolver=None, prefix: str = "", namespace: str = ""):
    """(view name, a concrete path) for every pattern, the admin's included."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from every_url(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", prefix + str(entry.pattern)


def concrete(pattern: str, upload_id: str) -> str:
    """A path for a pattern: each parameter given a value (Barnet's upload for an id)."""
    # regular-expression patterns (the admin's): a group's first alternative, or a sample
    pattern = re.sub(
        r"\(\?P<(\w+)>([^)]*)\)",
        lambda m: m.group(2).split("|")[0] if "|" in m.group(2) else "1",
        pattern,
    )
    pattern = pattern.replace("^", "").replace("$", "")

    def value(match):
        converter, name = match.group(1) or "str", match.group(2)
        if converter == "uuid":
            return upload_id
        return SAMPLE_ARGUMENTS.get(name, "1")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, pattern)


def expected_for(view_name: str) -> set[str]:
    if view_name.startswith("admin:"):
        return TEAM
    assert view_name in EXPECTED, f"{view_name}: a URL with no expected answer in this test"
    return EXPECTED[view_name]


def an_upload(authority: str) -> Upload:
    """An upload of `authority`'s (LIIA code), as the upload page records one."""
    return Upload.objects.create(
        authority=authority,
        received_at="2026-07-01T09:00Z",
        file_name=f"{authority}.xlsx",
        size_bytes=1,
        sha256=authority.ljust(64, "0"),
        status="accepted",
        submitted=True,
    )


def refused(role: str, answer) -> bool:
    """Refused by the rules: sent to sign in, or the front door's own 403 page (the admin's own
    403s, for an action no one may take, are not the rules' answer)."""
    if role == "anonymous":
        return answer.status_code == 302 and answer["Location"].startswith("/sign-in/")
    templates = [t.name for t in getattr(answer, "templates", [])]
    return answer.status_code == 403 and "web/forbidden.html" in templates


def test_every_url_answers_every_role_as_its_rule_says(clients, reports, places):
    barnet = an_upload("BAR")
    urls = sorted(set(every_url()))
    assert len(urls) > 40  # the admin's included
    cells, wrong = 0, []
    for view_name, pattern in urls:
        path = concrete(pattern, str(barnet.id))
        allowed = expected_for(view_name)
        for role in ROLES:
            answer = clients[role].get(path)
            cells += 1
            if (role in allowed) == refused(role, answer):
                wrong.append(f"{role} {path} ({view_name}): {answer.status_code}")
            assert answer.status_code < 500, f"{role} {path}: {answer.status_code}"
    assert not wrong, "\n".join(wrong)
    print(f"role matrix: {len(urls)} URLs x {len(ROLES)} roles = {cells} requests")


def test_an_application_url_without_a_rule_is_refused_to_everyone(clients, settings):
    from pipelines.web import access

    rules = dict(access.RULES)
    rules.pop("home")
    settings_rules = access.RULES
    access.RULES = rules
    try:
        for role in ROLES:
            assert refused(role, clients[role].get("/"))
    finally:
        access.RULES = settings_rules


def test_no_officer_reaches_another_authoritys_submission_or_files(clients, reports, places):
    camden = an_upload("CAM")
    barnet = clients["barnet"]
    assert barnet.get(f"/submissions/{camden.id}/").status_code == 404
    assert clients["camden"].get(f"/submissions/{camden.id}/").status_code == 200
    for path in (
        "2026-27-Q1/LIIA feedback 2026-27-Q1 Camden.xlsx",
        "../Camden/2026-27-Q1/LIIA feedback 2026-27-Q1 Camden.xlsx",
        "..%2FCamden%2Findex.html",
        "%2e%2e/Camden/index.html",
        "/etc/passwd",
        "../../members/index.html",
    ):
        answer = barnet.get(f"/authority/{path}")
        assert answer.status_code == 404, path
    own = barnet.get("/authority/2026-27-Q1/LIIA feedback 2026-27-Q1 Barnet.xlsx")
    assert own.status_code == 200 and b"".join(own.streaming_content) == b"barnet feedback"
    assert "camden feedback" not in barnet.get("/submissions/").content.decode()
    # the public tree never leads into the restricted ones
    assert clients["anonymous"].get("/public/../members/index.html").status_code == 404


@pytest.mark.parametrize(
    ("role", "path"),
    [("barnet", "/upload"), ("team", "/team/release/"), ("barnet", "/sign-out/")],
)
def test_every_form_refuses_a_request_without_its_csrf_token(accounts, places, role, path):
    from tests.web.conftest import PASSWORD, browser, code_now

    client = browser(enforce_csrf_checks=True)
    page = client.get("/sign-in/")
    token = page.cookies["csrftoken"].value
    # without the token, even the sign-in form is refused
    assert (
        client.post(
            "/sign-in/", {"username": accounts[role].username, "password": PASSWORD}
        ).status_code
        == 403
    )
    answer = client.post(
        "/sign-in/",
        {"username": accounts[role].username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302
    assert client.post("/second-factor/", {"token": code_now(accounts[role])}).status_code == 403
    token = client.cookies["csrftoken"].value
    answer = client.post(
        "/second-factor/", {"token": code_now(accounts[role]), "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302
    target = "/submissions/upload/" if path == "/upload" else path
    assert client.post(target, {"quarter": "2026-27-Q1", "confirm": "on"}).status_code == 403
