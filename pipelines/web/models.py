"""What the front door keeps: each account's role, each upload and its answer, and the audit log."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    OFFICER = "officer", "Data officer"  # uploads its authority's returns; a member too
    MEMBER = "member", "Member"  # an authority's reader of the restricted figures
    TEAM = "team", "LIIA team"


class Account(models.Model):
    """Who a user is to the service: a role, and the authority (LIIA code) for an authority's
    accounts. Given by LIIA's team (`liia users`, or the admin)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    role = models.CharField(max_length=16, choices=Role.choices)
    authority = models.CharField(max_length=8, blank=True, help_text="LIIA code, e.g. BAR")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()} {self.authority})".strip()


class Upload(models.Model):
    """A file a data officer sent through the front door, what the check said of it when it
    arrived, and where it was put in the inbox. The pipeline's official answer is read from the
    analysts' copy by its SHA-256."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    authority = models.CharField(max_length=8)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField()
    file_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    quarter = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=64)
    submitted = models.BooleanField(help_text="put in the inbox (else refused)")
    inbox_path = models.CharField(max_length=500, blank=True)
    message = models.TextField(blank=True)
    rows = models.JSONField(default=list)  # the feedback rows: FEEDBACK_COLUMNS each

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["authority", "-received_at"])]


class AuditEvent(models.Model):
    """Who did what, when, from where: every upload, restricted download, release and sign-in."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    who = models.CharField(max_length=254)
    action = models.CharField(max_length=32)
    what = models.CharField(max_length=500)
    address = models.GenericIPAddressField(null=True)

    class Meta:
        ordering = ["-at"]
