"""Accounts, as LIIA's team gives them (`liia users`): each a role and, for an authority's
accounts, the authority. Signing in is Django's; this only says who is who."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from pipelines.collection.catalogue import load_authorities
from pipelines.web.models import Account, Role


class PeopleError(ValueError):
    """What is wrong with a `liia users` request, in a sentence."""


@dataclass(frozen=True)
class Person:
    email: str
    role: str
    authority: str
    active: bool
    second_factor: bool


def _authority_code(role: str, authority: str | None) -> str:
    if role == Role.TEAM:
        if authority:
            raise PeopleError("LIIA's team accounts belong to no authority: leave --authority out")
        return ""
    if not authority:
        raise PeopleError(f"a {Role(role).label.lower()} needs --authority (e.g. Barnet)")
    code = load_authorities().resolve(authority)
    if code is None:
        raise PeopleError(f"{authority!r} is not one of the 33 London authorities")
    return code


def save_person(email: str, role: str, authority: str | None, password: str | None) -> Person:
    """Add an account, or change an existing one's role and authority (and password, if given).
    LIIA's team's accounts may manage accounts in the admin."""
    email = email.strip().lower()
    if "@" not in email:
        raise PeopleError(f"{email!r} is not an email address")
    if role not in Role.values:
        raise PeopleError(f"the role is one of {', '.join(Role.values)}, not {role!r}")
    code = _authority_code(role, authority)
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=email, defaults={"email": email})
        user.email = email
        user.is_staff = user.is_superuser = role == Role.TEAM
        if password:
            from django.contrib.auth.password_validation import validate_password

            try:
                validate_password(password, user)
            except Exception as exc:  # ValidationError: its messages, in a sentence
                raise PeopleError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
            user.set_password(password)
        elif not user.has_usable_password():
            user.set_unusable_password()
        user.save()
        Account.objects.update_or_create(user=user, defaults={"role": role, "authority": code})
    return person(email)


def person(email: str) -> Person:
    user = get_user_model().objects.select_related("account").get(username=email.lower())
    account = getattr(user, "account", None)
    return Person(
        user.username,
        account.role if account else "",
        account.authority if account else "",
        user.is_active,
        TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
    )


def everyone() -> list[Person]:
    return [person(u.username) for u in get_user_model().objects.order_by("username")]


def disable(email: str) -> None:
    """The account can no longer sign in; its record and audit entries stay."""
    updated = get_user_model().objects.filter(username=email.lower()).update(is_active=False)
    if not updated:
        raise PeopleError(f"there is no account {email!r}")


def forget_second_factor(email: str) -> int:
    """A lost phone: the account sets up its authenticator app again at its next sign-in."""
    user = get_user_model().objects.filter(username=email.lower()).first()
    if user is None:
        raise PeopleError(f"there is no account {email!r}")
    return TOTPDevice.objects.filter(user=user).delete()[0]


def send_password_link(email: str, domain: str, secure: bool) -> None:
    """Email the account a link to choose its password (Django's reset form, over the project's
    SMTP settings)."""
    from django.contrib.auth.forms import PasswordResetForm

    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        raise PeopleError(f"{email!r} is not an email address")
    form.save(
        domain_override=domain,
        use_https=secure,
        subject_template_name="web/password_reset_subject.txt",
        email_template_name="web/password_reset_email.txt",
    )
