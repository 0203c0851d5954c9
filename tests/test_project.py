"""Project-level promises: migrations are complete and production settings pass Django's checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_no_model_change_lacks_a_migration():
    result = _manage("makemigrations", "--check", "--dry-run", env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_pass_check_deploy():
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never has it.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DEBUG="0",
        DEV_MODE="0",
        SECRET_KEY="x" * 20 + "production-secret-key-with-plenty-of-entropy-93kd",
        ALLOWED_HOSTS="coding.example.org",
    )
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_boot_without_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(DEBUG="0", DEV_MODE="0")
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2x"])
def test_bad_boolean_setting_is_a_clear_error(value):
    env = dict(os.environ)
    env["DEBUG"] = value
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert f"DEBUG='{value}' is not a boolean" in result.stderr


@pytest.mark.django_db
def test_the_favicon_is_served_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
    page = client.get("/login/").content.decode()
    assert 'rel="icon"' in page


@pytest.mark.django_db
def test_a_403_logs_one_line_on_the_console_not_a_traceback(coder_client):
    import io
    import logging

    # The settings' console handler (pytest adds capture handlers of subclasses).
    console = next(
        h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler
    )
    out = io.StringIO()
    before = console.setStream(out)  # type: ignore[attr-defined]
    try:
        assert coder_client.get("/codesets/").status_code == 403
    finally:
        console.setStream(before)  # type: ignore[attr-defined]
    lines = out.getvalue().splitlines()
    assert lines == [lines[0]]
    assert "Forbidden (Permission denied): /codesets/" in lines[0]


def test_make_run_ends_start_up_with_the_address_and_the_demo_passwords(tmp_path):
    from coding_app.devstack import ready_banner

    credentials = tmp_path / "demo_credentials.json"
    credentials.write_text('{"coder": "coder-abc", "supervisor": "supervisor-def"}')
    lines = ready_banner("http://127.0.0.1:8000/", credentials)
    assert lines[0].startswith("The workbench is running at http://127.0.0.1:8000/")
    assert "  coder       password: coder-abc" in lines
    assert "  supervisor  password: supervisor-def" in lines
    # No demo users (seed_demo refused, or another DATABASE_URL): the address alone.
    assert ready_banner("http://x/", tmp_path / "none.json") == [
        "The workbench is running at http://x/  (Ctrl-C stops web, workers and beat)"
    ]


def test_the_licence_is_an_spdx_expression_setuptools_reads_without_a_warning():
    """`project.license` as a table makes setuptools>=77 warn three times on every
    `pip install -e .`; the SPDX string needs setuptools>=77 to build."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "AGPL-3.0-or-later"
    assert "setuptools>=77" in project["build-system"]["requires"]


def test_make_test_passes_pytest_options_through(monkeypatch):
    """`make test PYTEST_ARGS="--create-db -k lookup"` (as .ci/run calls it) reaches
    pytest; devstack's own parser once refused the leading option."""
    from coding_app import devstack

    seen: list[list[str]] = []
    monkeypatch.setattr(devstack, "test", lambda args: seen.append(args) or 0)
    assert devstack.main(["test", "--create-db", "-k", "lookup", "tests/codesets"]) == 0
    assert seen == [["--create-db", "-k", "lookup", "tests/codesets"]]
    with pytest.raises(SystemExit):
        devstack.main(["run", "--no-such-option"])
