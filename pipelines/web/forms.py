"""The forms: an upload, and a release's confirmation."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SignInForm(AuthenticationForm):
    """Email and password; the email is the account's user name, in lower case."""

    username = forms.EmailField(label="Email address", max_length=254)
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The email address or password is not right. Check both and try again.",
    }

    def clean_username(self):
        return self.cleaned_data["username"].strip().lower()


class SecondFactorForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        help_text="The 6-digit code, for example 123456",
        min_length=6,
        max_length=8,
    )

    def clean_token(self):
        token = "".join(self.cleaned_data["token"].split())
        if not token.isdigit():
            raise forms.ValidationError("Enter the code as digits only, for example 123456")
        return token


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Upload a return",
        help_text="The quarter's return template, filled in, as an Excel file (.xlsx).",
        error_messages={
            "required": "Select the return's file",
            "empty": "The selected file is empty: choose the filled-in return",
        },
    )


class ReleaseForm(forms.Form):
    quarter = forms.ChoiceField(label="Quarter to release")
    confirm = forms.BooleanField(
        label="I confirm this quarter's figures should go to members and the public now, before "
        "its deadline",
        error_messages={"required": "Confirm the release by ticking the box"},
    )

    def __init__(self, *args, quarters: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quarter"].choices = [(q, q) for q in quarters]
