"""Signing in: email and password (Django's, hashed with Argon2, locked out by django-axes after
repeated failures), then a second factor (django-otp's TOTP) for every account, since every
account sees restricted figures; signing out; and password reset by email."""

from __future__ import annotations

import segno
from django.contrib.auth import signals
from django.contrib.auth import views as auth_views
from django.dispatch import receiver
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from pipelines.web.audit import record
from pipelines.web.forms import SecondFactorForm, SignInForm


def axes_username(request, credentials) -> str:
    """django-axes counts failures per email, whatever its case."""
    raw = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(raw).strip().lower()


class SignIn(auth_views.LoginView):
    form_class = SignInForm
    template_name = "web/sign_in.html"
    redirect_authenticated_user = True

    def get_success_url(self):
        # the second factor next, carrying where the reader was going
        target = self.get_redirect_url()
        url = reverse_lazy("second-factor")
        return f"{url}?next={target}" if target else str(url)


class SignOut(auth_views.LogoutView):
    http_method_names = ["post", "options"]


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed and target else reverse_lazy("home")


def second_factor(request):
    """Give the code from the authenticator app; the first time, set the app up with the QR code
    (or the key typed in)."""
    if request.user.is_verified():
        return redirect(_next(request))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    setting_up = device is None
    if setting_up:
        device, _ = TOTPDevice.objects.get_or_create(
            user=request.user, confirmed=False, defaults={"name": "Authenticator app"}
        )
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["token"]):
            if setting_up:
                device.confirmed = True
                device.save()
            otp_login(request, device)
            record(request, "signed in", "with password and second factor")
            return redirect(_next(request))
        form.add_error(
            "token",
            "The code is not right, or has expired. Enter the code your app shows now."
            if allowed
            else "Too many wrong codes: wait a minute, then enter the code your app shows.",
        )
    context = {"form": form, "setting_up": setting_up, "next": _next(request)}
    if setting_up:
        qr = segno.make(device.config_url, error="m")
        context["qr"] = qr.svg_data_uri(scale=4, border=2)
        context["key"] = _base32(device)
    status = 400 if request.method == "POST" else 200
    return render(request, "web/second_factor.html", context, status=status)


def _base32(device: TOTPDevice) -> str:
    from base64 import b32encode

    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


class PasswordReset(auth_views.PasswordResetView):
    template_name = "web/password_reset.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("password-reset-sent")


class PasswordResetSent(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_sent.html"


class PasswordResetConfirm(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-done")


class PasswordResetDone(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset_done.html"


@receiver(signals.user_login_failed)
def _failed(sender, credentials, request=None, **kwargs):
    if request is not None:
        record(
            request,
            "sign-in failed",
            "wrong email or password",
            who=axes_username(request, credentials),
        )
