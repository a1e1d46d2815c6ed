"""`liia users` as LIIA's team types it, and an installation made before the front door upgraded
in place: its environment file gains the web's folder and key, every line kept."""

from __future__ import annotations

from pipelines.service.install import Layout, install, read_environment_file
from tests.conftest import BARE_ENVIRONMENT, liia


def test_an_environment_file_from_before_the_front_door_gains_its_settings_on_upgrade(tmp_path):
    root = tmp_path / "root"
    layout = Layout(root)
    layout.environment.parent.mkdir(parents=True)
    old = {k: v for k, v in layout.variables(None).items() if not k.startswith("LIIA_WEB")}
    text = "# the operator's own comment\n" + "".join(f"{k}={v}\n" for k, v in old.items())
    text += "LIIA_SMTP_HOST=mail.example\n"
    layout.environment.write_text(text)
    done = install(root)
    assert any("adding LIIA_WEB_DATA, LIIA_WEB_SECRET_KEY" in line for line in done)
    after = layout.environment.read_text()
    assert after.startswith(text)
    settings = read_environment_file(layout.environment)
    assert settings["LIIA_WEB_DATA"] == str(layout.data / "web")
    key = settings["LIIA_WEB_SECRET_KEY"]
    assert len(key) >= 50
    install(root)  # again: nothing more added, the key kept
    assert read_environment_file(layout.environment)["LIIA_WEB_SECRET_KEY"] == key
    assert (layout.units / "liia-web.service").exists()


def test_liia_users_says_what_is_wrong_in_a_sentence(tmp_path):
    env = {**BARE_ENVIRONMENT, "LIIA_WEB_DATA": str(tmp_path / "web")}
    env["LIIA_ENVIRONMENT_FILE"] = str(tmp_path / "no such file")
    env["LIIA_INBOX"] = str(tmp_path / "inbox")
    wrong = liia(
        "users", "add", "x@example.org", "--role", "member", "--authority", "Narnia", env=env
    )
    assert wrong.returncode == 2
    assert "'Narnia' is not one of the 33 London authorities" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    team = liia("users", "add", "t@example.org", "--role", "team", "--authority", "Barnet", env=env)
    assert team.returncode == 2 and "belong to no authority" in team.stderr
    listed = liia("users", "list", env=env)
    assert listed.returncode == 0 and listed.stdout == ""
