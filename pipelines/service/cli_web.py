"""The `liia` commands of the web front door: serve it, and give people their accounts."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "pipelines.web.settings"  # never a test's settings
    import django

    django.setup()


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def cmd_serve(args) -> int:
    """Bring the front door's database up to date, then serve it with gunicorn (workers that
    restart after a crash; each upload is checked in the pipeline's own reader workers)."""
    _django()
    _migrate()
    from django.conf import settings

    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "pipelines.web.wsgi:application",
        f"--bind={args.bind}",
        f"--workers={args.workers}",
        "--timeout=120",  # an upload is read, checked and answered within one request
        "--graceful-timeout=30",
        f"--forwarded-allow-ips={os.environ.get('LIIA_WEB_PROXY', '127.0.0.1')}",
        "--access-logfile=-",
    ]
    where = "https://" if settings.BEHIND_TLS else "http://"
    print(
        f"LIIA front door on {where}{args.bind} (database: {settings.DATABASES['default']['NAME']})",
        flush=True,
    )
    os.execv(command[0], command)


def cmd_users(args) -> int:
    if args.action != "list" and not args.email:
        print(f"liia users {args.action}: give the person's email address", file=sys.stderr)
        return 2
    if args.action == "add" and not args.role:
        print("liia users add: give --role (officer, member or team)", file=sys.stderr)
        return 2
    _django()
    _migrate()
    from pipelines.web import people

    try:
        if args.action == "add":
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
            p = people.save_person(args.email, args.role, args.authority, password)
            print(f"{p.email}: {p.role}{' of ' + p.authority if p.authority else ''}")
            if not password:
                return _send_link(people, p.email)
        elif args.action == "list":
            for p in people.everyone():
                factor = "second factor set up" if p.second_factor else "no second factor yet"
                state = "" if p.active else ", DISABLED"
                print(f"{p.email}\t{p.role or 'no role'}\t{p.authority or '-'}\t{factor}{state}")
        elif args.action == "disable":
            people.disable(args.email)
            print(f"{args.email}: disabled (it can no longer sign in)")
        elif args.action == "reset-second-factor":
            people.forget_second_factor(args.email)
            print(f"{args.email}: sets up an authenticator app again at the next sign-in")
    except people.PeopleError as exc:
        print(f"liia users: {exc}", file=sys.stderr)
        return 2
    return 0


def _send_link(people, email: str) -> int:
    from django.conf import settings

    try:
        people.send_password_link(email, settings.ALLOWED_HOSTS[0], settings.BEHIND_TLS)
    except OSError as exc:
        print(
            f"liia users: could not email {email} a link to choose a password ({exc}): check "
            "LIIA_SMTP_HOST, or give a password with --password-stdin",
            file=sys.stderr,
        )
        return 1
    print(f"Emailed {email} a link to choose a password (it works for an hour).")
    return 0


def add_web_commands(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the web front door (uploads, feedback, members' downloads, the team's pages)",
        description="Brings its database up to date and serves it with gunicorn; put it behind a "
        "TLS reverse proxy (README).",
    )
    p.add_argument("--bind", default="127.0.0.1:8000", help="address:port (default 127.0.0.1:8000)")
    p.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser(
        "users",
        help="give people accounts of the web front door: add, list, disable",
        description="Roles: officer (uploads its authority's returns; a member too), member "
        "(reads the restricted figures), team (LIIA's team: status, release, audit, accounts).",
    )
    p.add_argument("action", choices=["add", "list", "disable", "reset-second-factor"])
    p.add_argument("email", nargs="?", help="the person's email address (their sign-in name)")
    p.add_argument("--role", choices=["officer", "member", "team"], help="for add")
    p.add_argument("--authority", help="for an officer or member: e.g. Barnet, BAR or E09000003")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input, instead of emailing a link",
    )
    p.set_defaults(func=cmd_users)
