from django.contrib import admin
from django.urls import path
from django_otp.admin import OTPAdminSite

from pipelines.web import accounts, views

admin.site.__class__ = OTPAdminSite  # the admin too needs the second factor
admin.site.site_header = "LIIA benchmarking: accounts"

urlpatterns = [
    path("", views.home, name="home"),
    path("public/", views.public, name="public-index"),
    path("public/<path:path>", views.public, name="public"),
    path("sign-in/", accounts.SignIn.as_view(), name="sign-in"),
    path("sign-out/", accounts.SignOut.as_view(), name="sign-out"),
    path("second-factor/", accounts.second_factor, name="second-factor"),
    path("password-reset/", accounts.PasswordReset.as_view(), name="password-reset"),
    path("password-reset/sent/", accounts.PasswordResetSent.as_view(), name="password-reset-sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirm.as_view(),
        name="password-reset-confirm",
    ),
    path("password-reset/done/", accounts.PasswordResetDone.as_view(), name="password-reset-done"),
    path("submissions/", views.submissions, name="submissions"),
    path("submissions/upload/", views.upload, name="upload"),
    path("submissions/<uuid:upload_id>/", views.submission, name="submission"),
    path("authority/<path:path>", views.authority_file, name="authority-file"),
    path("explore/", views.explore, name="explore"),
    path("members/explore/", views.members_explore, name="members-explore"),
    path("members/", views.members, name="members"),
    path("members/<path:path>", views.member_file, name="member-file"),
    path("team/", views.team_status, name="team-status"),
    path("team/release/", views.team_release, name="team-release"),
    path("team/audit/", views.team_audit, name="team-audit"),
    path("team/audit.csv", views.team_audit_csv, name="team-audit-csv"),
    path("team/files/<path:path>", views.team_file, name="team-file"),
    path("admin/", admin.site.urls),
]
