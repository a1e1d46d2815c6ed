"""Deadline day at the front door, for locust (started by benchmarks/deadline_day.py): each
authority's data officer signs in and uploads its three files at moments spread over the window,
while members sign in and download the released quarter's workbooks.

The plan (accounts, their authenticator keys, the files) comes from LIIA_LOAD_PLAN; every request's
time and every upload's moment go to LIIA_LOAD_OUT when locust quits."""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

import gevent
from django_otp.oath import totp
from locust import HttpUser, between, events, task
from locust.exception import StopUser

from pipelines.collection.catalogue import load_catalogue

PLAN = json.loads(Path(os.environ["LIIA_LOAD_PLAN"]).read_text())
SUBMISSION = re.compile(r"/submissions/[0-9a-f-]{36}/$")
INDICATORS = load_catalogue().indicators["id"].tolist()
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
taken = {"officers": 0, "members": 0}
timings: list[tuple[str, float, bool]] = []  # (kind, milliseconds, failed)
uploads: list[dict] = []


@events.request.add_listener
def _timed(request_type, name, response_time, response_length, exception, **kwargs):
    timings.append((name, response_time, exception is not None))


@events.quitting.add_listener
def _save(environment, **kwargs):
    out = {"timings": timings, "uploads": uploads}
    Path(os.environ["LIIA_LOAD_OUT"]).write_text(json.dumps(out))


def _next(kind: str) -> dict:
    person = PLAN[kind][taken[kind] % len(PLAN[kind])]
    taken[kind] += 1
    return person


class Reader(HttpUser):
    abstract = True

    def _form_token(self, url: str, name: str) -> str:
        with self.client.get(url, name=name, catch_response=True) as page:
            found = TOKEN.search(page.text or "")
            if not found:
                page.failure(f"no form on {url}")
                raise StopUser()
            return found.group(1)

    def sign_in(self, person: dict) -> None:
        token = self._form_token("/sign-in/", "page: sign in")
        form = {"username": person["email"], "password": PLAN["password"]}
        self.client.post(
            "/sign-in/", {**form, "csrfmiddlewaretoken": token}, name="sign in: password"
        )
        token = self._form_token("/second-factor/", "page: second factor")
        code = f"{totp(bytes.fromhex(person['key'])):06d}"
        with self.client.post(
            "/second-factor/",
            {"token": code, "csrfmiddlewaretoken": token},
            name="sign in: second factor",
            catch_response=True,
        ) as answer:
            if "Sign out" not in answer.text:
                answer.failure("not signed in")
                raise StopUser()


class Officer(Reader):
    """An authority's data officer: three uploads at random moments within the window."""

    fixed_count = len(PLAN["officers"])
    wait_time = between(1, 2)

    def on_start(self):
        self.person = _next("officers")
        self.started = time.monotonic()
        moments = sorted(random.uniform(0, PLAN["window_seconds"]) for _ in self.person["files"])
        self.moments = list(zip(moments, self.person["files"], strict=True))
        self.sign_in(self.person)

    @task
    def upload_the_next_file(self):
        if not self.moments:
            raise StopUser()
        moment, path = self.moments.pop(0)
        gevent.sleep(max(0.0, moment - (time.monotonic() - self.started)))
        self.client.get("/submissions/", name="page: submissions")
        token = self._form_token("/submissions/upload/", "page: upload")
        with open(path, "rb") as sent:
            files = {"file": (Path(path).name, sent, "application/octet-stream")}
            # answered on the page: the check's findings, after the redirect to the submission
            with self.client.post(
                "/submissions/upload/",
                data={"csrfmiddlewaretoken": token},
                files=files,
                name="upload, to its answer on the page",
                catch_response=True,
            ) as answer:
                if not SUBMISSION.search(answer.url) or "Check on upload" not in answer.text:
                    answer.failure(f"no answer on the page for {Path(path).name}")
                    return
                if "This file was not submitted" in answer.text:
                    answer.failure(f"{Path(path).name} was refused")
                    return
        uploads.append({"file": path, "answered_on_page_at": time.time(), "page": answer.url})


class Member(Reader):
    """A member after the release: the downloads page, a workbook or a pack, then a view in the
    explorer."""

    fixed_count = PLAN["members_count"]
    wait_time = between(5, 20)

    def on_start(self):
        self.sign_in(_next("members"))

    @task
    def download_a_workbook(self):
        self.client.get("/members/", name="page: members' workbooks")
        with self.client.get(
            "/members/" + random.choice(PLAN["downloads"]),
            name="download: a workbook",
            catch_response=True,
        ) as answer:
            if not answer.content.startswith(b"PK"):
                answer.failure("not a workbook")
        # then a view in the explorer (one task, so that every member does both)
        indicator = random.choice(INDICATORS)
        group = random.choice(["london", "sub_region", "london_neighbours", "dfe_neighbours"])
        self.client.get(
            f"/members/explore/?indicator={indicator}&group={group}", name="page: explorer"
        )
