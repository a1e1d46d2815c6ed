"""The audit log: who did what, when, from where."""

from __future__ import annotations

from pipelines.web.models import AuditEvent


def address_of(request) -> str | None:
    """The client's address: REMOTE_ADDR, which behind the reverse proxy is the proxy's unless
    the proxy passes the client's on (README: the proxy sets it; gunicorn's --forwarded-allow-ips)."""
    return request.META.get("REMOTE_ADDR") or None


def record(request, action: str, what: str, who: str | None = None) -> AuditEvent:
    user = getattr(request, "user", None)
    if who is None:
        who = user.get_username() if user is not None and user.is_authenticated else "anonymous"
    return AuditEvent.objects.create(
        who=who[:254], action=action, what=what[:500], address=address_of(request)
    )
