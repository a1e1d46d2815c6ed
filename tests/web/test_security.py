"""Signing in as an intruder would try it: lock-out after repeated failures, a session that ends
when left idle, the second factor before anything restricted, password reset by email over a
real SMTP server, the security headers, and Django's deployment check on the production settings."""

from __future__ import annotations

import re
import time

import pytest
from django.core.management import call_command

from tests.web.conftest import PASSWORD, browser, code_now, sign_in


def test_repeated_wrong_passwords_lock_the_account_even_with_the_right_one(accounts, settings):
    user = accounts["barnet"]
    client = browser()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        answer = client.post("/sign-in/", {"username": user.username, "password": "guess"})
        assert answer.status_code == 200 and "is not right" in answer.content.decode()
    assert client.post("/sign-in/", {"username": user.username, "password": "x"}).status_code == 429
    answer = client.post("/sign-in/", {"username": user.username.upper(), "password": PASSWORD})
    assert answer.status_code == 429
    assert "locked for an hour" in answer.content.decode()
    from pipelines.web.models import AuditEvent

    assert AuditEvent.objects.filter(action="sign-in failed", who=user.username).count() >= 5


def test_a_password_alone_opens_nothing_restricted(accounts, reports, places):
    client = browser()
    client.post("/sign-in/", {"username": accounts["member"].username, "password": PASSWORD})
    answer = client.get("/members/2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx")
    assert answer.status_code == 302 and answer["Location"].startswith("/second-factor/")
    assert client.post("/second-factor/", {"token": "000000"}).status_code == 400
    # django-otp makes each wrong code cost a wait before the next is tried
    right = code_now(accounts["member"])
    too_soon = client.post("/second-factor/", {"token": right})
    assert too_soon.status_code == 400 and "Too many wrong codes" in too_soon.content.decode()
    time.sleep(1.1)
    client.post("/second-factor/", {"token": code_now(accounts["member"])})
    answer = client.get("/members/2026-27-Q1/LIIA finance benchmarks 2026-27-Q1.xlsx")
    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"


def test_a_session_left_idle_ends(accounts, settings, reports, places):
    client = sign_in(accounts["member"])
    assert client.get("/members/").status_code == 200
    assert settings.SESSION_SAVE_EVERY_REQUEST and settings.SESSION_COOKIE_AGE == 30 * 60
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.update(expire_date=timezone.now() - timezone.timedelta(seconds=1))
    answer = client.get("/members/index.html")
    assert answer.status_code == 302 and answer["Location"].startswith("/sign-in/")


def test_the_security_headers_and_cookies(accounts):
    client = browser()
    page = client.get("/sign-in/")
    csp = page["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["X-Frame-Options"] == "DENY"
    assert "max-age=31536000" in page["Strict-Transport-Security"]
    answer = client.post("/sign-in/", {"username": accounts["team"].username, "password": PASSWORD})
    session = answer.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert page.cookies["csrftoken"]["secure"]
    # plain HTTP is sent to HTTPS
    from django.test import Client

    answer = Client().get("/sign-in/")
    assert answer.status_code == 301 and answer["Location"].startswith("https://")


def test_django_finds_nothing_to_fix_for_deployment(capsys):
    call_command("check", "--deploy", "--fail-level", "WARNING")
    assert "no issues" in capsys.readouterr().out


def test_production_hashes_passwords_with_argon2_at_djangos_cost():
    """The tests' hasher is production's algorithm made light (tests/web/hashers.py); production
    itself keeps Django's Argon2 and its cost."""
    from django.contrib.auth.hashers import Argon2PasswordHasher, get_hasher
    from django.utils.module_loading import import_string

    from pipelines.web import settings as production

    assert production.PASSWORD_HASHERS == ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    hasher = import_string(production.PASSWORD_HASHERS[0])()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 102400, 8)
    light = get_hasher("default")
    assert isinstance(light, Argon2PasswordHasher) and light.algorithm == hasher.algorithm
    # a password hashed at either cost is checked by production's hasher
    assert hasher.verify("a passphrase", light.encode("a passphrase", light.salt()))


@pytest.fixture
def smtp(settings, mailbox):
    """Django's mail sent to the real SMTP server of tests/conftest.py, not the test outbox."""
    box, port = mailbox
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    return box


def test_a_password_is_reset_by_a_link_emailed_over_smtp(accounts, smtp):
    user = accounts["camden"]
    client = browser()
    answer = client.post("/password-reset/", {"email": user.username})
    assert answer.status_code == 302
    # an address with no account gets the same page and no email
    client.post("/password-reset/", {"email": "nobody@example.org"})
    assert len(smtp.messages) == 1
    body = smtp.messages[0].get_content()
    link = re.search(r"https://testserver(?::\d+)?(/password-reset/\S+/)", body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    new = "another long passphrase 8"
    answer = client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert answer.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new) and user.password.startswith("argon2")


def test_the_audit_logs_the_client_the_trusted_proxy_names_and_no_one_else(settings):
    from django.test import RequestFactory

    from pipelines.web.audit import address_of

    settings.TRUSTED_PROXIES = frozenset({"127.0.0.1"})
    make = RequestFactory().get
    # the proxy appends the client it saw; what the client sent itself comes before
    assert address_of(make("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")) == "203.0.113.9"
    assert address_of(make("/", HTTP_X_FORWARDED_FOR="2001:db8::1")) == "2001:db8::1"
    assert address_of(make("/", HTTP_X_FORWARDED_FOR="<script>")) == "127.0.0.1"
    assert address_of(make("/")) == "127.0.0.1"
    stranger = make("/", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert address_of(stranger) == "198.51.100.7"


def test_the_audit_log_is_read_page_by_page_newest_first(accounts):
    from pipelines.web.models import AuditEvent
    from pipelines.web.views import AUDIT_PAGE

    AuditEvent.objects.bulk_create(
        AuditEvent(who="officer@barnet.example", action="download", what=f"file {n}")
        for n in range(AUDIT_PAGE * 2 + 5)
    )
    team = sign_in(accounts["team"])
    first = team.get("/team/audit/").content.decode()
    assert "page 1 of 3" in first and 'href="?page=2" rel="next"' in first
    last = team.get("/team/audit/?page=3").content.decode()
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert team.get("/team/audit/?page=999").status_code == 200  # the last page, not an error
    assert team.get("/team/audit/?page=abc").status_code == 200
