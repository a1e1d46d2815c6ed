"""The audit log: who did what, when, from where."""

from __future__ import annotations

import ipaddress

from django.conf import settings

from pipelines.web.models import AuditEvent


def address_of(request) -> str | None:
    """The client's address. Behind the reverse proxy REMOTE_ADDR is the proxy's own, and the
    proxy appends the client's to X-Forwarded-For (README): its last entry is taken, and only
    from a proxy in LIIA_WEB_PROXY, as anyone can send the header."""
    peer = request.META.get("REMOTE_ADDR") or None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if peer not in settings.TRUSTED_PROXIES or not forwarded:
        return peer
    last = forwarded.rsplit(",", 1)[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return peer


def record(request, action: str, what: str, who: str | None = None) -> AuditEvent:
    user = getattr(request, "user", None)
    if who is None:
        who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    return AuditEvent.objects.create(
        who=who[:254], action=action, what=what[:500], address=address_of(request)
    )
