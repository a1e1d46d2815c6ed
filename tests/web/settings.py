"""The front door's production settings (TLS, secure cookies, HSTS: the test client says it came
over HTTPS), with a secret key and a web folder of the test session's own."""

import os
import tempfile

os.environ.setdefault("LIIA_WEB_SECRET_KEY", "tests-only-" + "k" * 50)
os.environ.setdefault("LIIA_WEB_DATA", tempfile.mkdtemp(prefix="liia-web-tests-"))
os.environ.setdefault("LIIA_WEB_HOSTS", "testserver,localhost,127.0.0.1")

from pipelines.web.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["tests.web.hashers.LightArgon2PasswordHasher"]
