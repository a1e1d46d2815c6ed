"""Argon2 as production has it, at the lightest cost Argon2 allows: the tests make and check
hundreds of passwords, and Django's cost (about 0.15 s of CPU a password on this machine) is
there to slow an attacker, not something a test checks. Its hashes are Argon2's format, the
algorithm "argon2"; tests/web/test_security.py checks that production uses Django's own."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class LightArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8  # KiB: Argon2's least for one lane
    parallelism = 1
