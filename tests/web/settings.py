"""The front door's production settings (TLS, secure cookies, HSTS: the test client says it came
over HTTPS), with a secret key and a web folder of the test session's own."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("LIIA_WEB_SECRET_KEY", "tests-only-" + "k" * 50)
if "LIIA_WEB_DATA" not in os.environ:  # made once, by the process that sets it, and removed
    os.environ["LIIA_WEB_DATA"] = tempfile.mkdtemp(prefix="liia-web-tests-")
    atexit.register(shutil.rmtree, os.environ["LIIA_WEB_DATA"], ignore_errors=True)
os.environ.setdefault("LIIA_WEB_HOSTS", "testserver,localhost,127.0.0.1")

from pipelines.web.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["tests.web.hashers.LightArgon2PasswordHasher"]
