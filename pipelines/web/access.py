"""Who may open what: one rule per URL name, enforced for every request in one place, so a view
cannot forget its check and a new URL without a rule is refused (and fails the role matrix test).
What an authority's account may see inside a page (its own submissions, its own folder) is checked
by the views, against the account's authority."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import redirect, render

from pipelines.web.models import Account, Role

ANYONE = "anyone"
SIGNED_IN = "signed in"  # before the second factor too: signing out, and giving the second factor
OFFICERS = frozenset({Role.OFFICER})
MEMBERS = frozenset({Role.OFFICER, Role.MEMBER, Role.TEAM})
TEAM = frozenset({Role.TEAM})

RULES: dict[str, object] = {
    "home": ANYONE,
    "public": ANYONE,
    "public-index": ANYONE,
    "sign-in": ANYONE,
    "password-reset": ANYONE,
    "password-reset-sent": ANYONE,
    "password-reset-confirm": ANYONE,
    "password-reset-done": ANYONE,
    "sign-out": SIGNED_IN,
    "second-factor": SIGNED_IN,
    "submissions": OFFICERS,
    "upload": OFFICERS,
    "submission": OFFICERS,
    "authority-file": OFFICERS,
    "members": MEMBERS,
    "explore": ANYONE,
    "members-explore": MEMBERS,
    "member-file": MEMBERS,
    "team-status": TEAM,
    "team-release": TEAM,
    "team-audit": TEAM,
    "team-audit-csv": TEAM,
    "team-file": TEAM,
}
NAMESPACES = {"admin": TEAM}


def rule_for(view_name: str | None):
    """The rule of a URL's name (`namespace:name`); None if it has none (refused)."""
    if view_name is None:
        return None
    namespace = view_name.split(":", 1)[0] if ":" in view_name else None
    return NAMESPACES.get(namespace) if namespace else RULES.get(view_name)


def account_of(user) -> Account | None:
    if not user.is_authenticated:
        return None
    try:
        return user.account
    except Account.DoesNotExist:
        return None


def role_of(user) -> str | None:
    account = account_of(user)
    return account.role if account else None


def authority_of(user) -> str | None:
    """The LIIA code of an authority's account; None for LIIA's team and the anonymous."""
    account = account_of(user)
    return account.authority or None if account and account.role != Role.TEAM else None


def verified(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.is_verified()


class RulesMiddleware:
    """Apply the URL's rule before its view runs: to sign in, to give the second factor, or 403."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        rule = rule_for(request.resolver_match.view_name if request.resolver_match else None)
        if rule == ANYONE:
            return None
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if rule == SIGNED_IN:
            return None
        if not verified(request):
            return redirect("second-factor")
        if rule is None or role_of(request.user) not in rule:
            return render(request, "web/forbidden.html", status=403)
        return None


def role_context(request):
    """What every page's header needs: the role, the authority and the links for it."""
    from pipelines.collection.catalogue import load_authorities

    user = getattr(request, "user", None)
    role = role_of(user) if user is not None else None
    code = authority_of(user) if user is not None else None
    ready = user is not None and verified(request)
    member = ready and role in MEMBERS
    links = [("Public figures", "public-index")]
    links.append(("Explore", "members-explore" if member else "explore"))
    if ready and role == Role.OFFICER:
        links.insert(0, ("Your submissions", "submissions"))
    if member:
        links.append(("Members' workbooks", "members"))
    if ready and role == Role.TEAM:
        links += [
            ("Status", "team-status"),
            ("Release", "team-release"),
            ("Audit log", "team-audit"),
        ]
    return {
        "role": role,
        "role_name": Role(role).label if role else "",
        "authority_name": load_authorities().name(code) if code else "",
        "nav_links": links,
        "signed_in_ready": ready,
    }
