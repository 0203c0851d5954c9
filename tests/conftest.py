"""The cast every test uses, the real Celery worker, and the browser."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import PASSWORD, UserFactory

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """With --reuse-db a run killed inside a transactional test (a worker test, a
    browser test) leaves its committed rows behind, and every later run would then
    fail on them ("alex" exists, "this file was already imported"). Start from an
    empty database whatever the last run did."""
    from django.apps import apps
    from django.core.management import call_command

    with django_db_blocker.unblock():
        leftovers = [
            model._meta.label
            for model in apps.get_models()
            if model._meta.managed
            and not model._meta.proxy
            and model._meta.app_label not in {"contenttypes", "auth", "sessions"}
            and model._default_manager.exists()
        ]
        if leftovers:
            print(
                f"test database held rows from an earlier run ({', '.join(leftovers[:5])}…): flushing"
            )
            call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Caches keyed by release stay valid in a running site (a release's rows never
    change), but a test's releases vanish with its transaction: start each test
    with none."""
    from codesets.selectors import (
        drg_weight_cache_clear,
        payment_rate_cache_clear,
        poa_exempt_cache_clear,
    )
    from encounters.audit.knowledge import cache_clear

    drg_weight_cache_clear()
    payment_rate_cache_clear()
    poa_exempt_cache_clear()
    cache_clear()


@pytest.fixture
def coder(db):
    return UserFactory(username="casey", role="coder")


@pytest.fixture
def other_coder(db):
    return UserFactory(username="cole", role="coder")


@pytest.fixture
def supervisor(db):
    return UserFactory(username="sam", role="supervisor")


@pytest.fixture
def codeset_admin(db):
    return UserFactory(username="alex", role="codeset_admin")


@pytest.fixture
def outsider(db):
    """Signed in, but with no role at all."""
    return UserFactory(username="olly")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def coder_client(coder) -> Client:
    return _client_for(coder)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return _client_for(supervisor)


@pytest.fixture
def admin_client_(codeset_admin) -> Client:
    return _client_for(codeset_admin)


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture(scope="session", autouse=True)
def celery_worker_app():
    """The project's Celery app on a queue of its own, for every test: tasks a test
    queues (an audit after submit, a re-audit after an activation) never reach a
    `make run` worker sharing the same Redis; what no test worker consumed is
    purged at the end."""
    from django.conf import settings

    from coding_app.celery import app

    queue = f"tests-{os.getpid()}"
    app.conf.task_default_queue = queue
    # The router (coding_app.queues) reads the bulk queue's name at each send.
    settings.CELERY_BULK_QUEUE = f"{queue}-bulk"
    app.conf.task_always_eager = False
    yield app
    for name in (queue, settings.CELERY_BULK_QUEUE):
        with contextlib.suppress(Exception), app.connection_for_write() as conn:
            conn.default_channel.queue_delete(name)


def worker_queues(app) -> list[str]:
    """This run's interactive and bulk queues (coding_app.queues)."""
    from django.conf import settings

    return [app.conf.task_default_queue, settings.CELERY_BULK_QUEUE]


@pytest.fixture
def celery_worker(celery_worker_app, transactional_db) -> Iterator[object]:
    """A real Celery worker (a thread of this process) consuming from the real Redis
    broker and writing to the real test database. Tests using it must commit their
    data, hence transactional_db."""
    from celery.contrib.testing.worker import start_worker

    celery_worker_app.loader.import_module("celery.contrib.testing.tasks")
    with start_worker(
        celery_worker_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=True,
        shutdown_timeout=30,
        queues=worker_queues(celery_worker_app),
    ) as worker:
        yield worker


def _browser_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


def pytest_collection_modifyitems(config, items):
    if _browser_available():
        return
    if os.environ.get("REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(
            f"REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)"
        )
    skip = pytest.mark.skip(
        reason=f"no browser: {CHROMIUM} is missing (apt-get install chromium)"
    )
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _browser_available():
        terminalreporter.write_line(
            f"NOTE: browser tests were skipped: {CHROMIUM} is missing (apt-get install chromium).",
            yellow=True,
        )


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls
    # made from the test body are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.call_failed = report.failed
    return report


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    if getattr(request.node, "call_failed", False):
        # What the browser showed when the test failed, for reading a CI failure.
        failures = SCREENSHOTS / "failures"
        failures.mkdir(parents=True, exist_ok=True)
        name = request.node.name
        page.screenshot(path=str(failures / f"{name}.png"), full_page=True)
        (failures / f"{name}.html").write_text(page.content())
        print(f"browser state at failure: {failures / name}.png / .html")
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
