"""Who gets what at every URL: the role x URL matrix over every URL pattern.

EXPECTED below is the one table to extend. Every URL pattern the project has must
have a row (keyed by the URL name, ``namespace:name``): a new URL without a row
fails ``test_every_url_pattern_has_a_row``. A row gives the status each caller
gets for GET and, where the view takes a POST, for a POST with an empty form;
``None`` for POST means the view is not posted to (not checked).

Callers, in column order: anonymous, a signed-in user with no role, a coder (who
holds the encounter), a supervisor, a code-set admin. Path parameters are filled
with existing objects (the ``world`` fixture). Allowed callers get 200, or 400 for an
empty form or missing query, 302 after a POST. Refusals: 302 = to the sign-in page, 401 = API
without credentials, 403 = role lacks the permission, 404 = object not theirs.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from encounters.models import AuditBatch, AuditRun, Encounter, Finding
from encounters.services import encounter_claim
from tests.encounters.conftest import code_sets  # noqa: F401 - the fixture
from tests.encounters.test_views import _create

pytestmark = pytest.mark.django_db

CALLERS = ("anonymous", "no_role", "coder", "supervisor", "admin")


class Row(NamedTuple):
    get: tuple[int, int, int, int, int]
    post: tuple[int, int, int, int, int] | None = None


# fmt: off
#                         anonymous  no role  coder  supervisor  admin
EXPECTED: dict[str, Row] = {
    "favicon.ico":                  Row((301, 301, 301, 301, 301)),
    # accounts
    "accounts:home":                Row((302, 403, 302, 302, 302)),
    "accounts:login":               Row((200, 302, 302, 302, 302)),
    "accounts:logout":              Row((405, 405, 405, 405, 405), post=(302, 302, 302, 302, 302)),
    "accounts:status":              Row((302, 403, 403, 403, 200)),
    "accounts:users":               Row((302, 403, 403, 403, 200)),
    "accounts:user_new":            Row((302, 403, 403, 403, 200), post=(302, 403, 403, 403, 200)),
    "accounts:user":                Row((302, 403, 403, 403, 200)),
    "accounts:user_role":           Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 400)),
    "accounts:user_active":         Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    "accounts:user_password":       Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 200)),
    "accounts:user_unlock":         Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    "accounts:user_sample_rate":    Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    "accounts:session":              Row((401, 200, 200, 200, 200), post=(401, 200, 200, 200, 200)),
    # code sets
    "codesets:release_list":        Row((302, 403, 403, 403, 200)),
    "codesets:encoder":             Row((302, 403, 200, 200, 200)),
    "codesets:pcs_builder":         Row((302, 403, 200, 200, 200)),
    "codesets:suggestion_accept":   Row((405, 405, 405, 405, 405), post=(302, 403, 400, 400, 400)),
    "codesets:code_panel":          Row((302, 403, 200, 200, 200)),
    "codesets:release_upload":      Row((302, 403, 403, 403, 200), post=(302, 403, 403, 403, 200)),
    "codesets:payment_rates":       Row((302, 403, 403, 403, 200), post=(302, 403, 403, 403, 200)),
    "codesets:release_detail":      Row((302, 403, 403, 403, 200)),
    "codesets:release_activate":    Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    "codesets:release_retry":        Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    "codesets:release_discard":     Row((405, 405, 405, 405, 405), post=(302, 403, 403, 403, 302)),
    # encounters
    "encounters:queue":             Row((302, 403, 200, 200, 403)),
    "encounters:claim_next":        Row((405, 405, 405, 405, 405), post=(302, 403, 302, 302, 403)),
    "encounters:detail":            Row((302, 403, 200, 200, 403)),
    "encounters:claim":             Row((405, 405, 405, 405, 405), post=(302, 403, 302, 302, 403)),
    "encounters:coding":            Row((405, 405, 405, 405, 405), post=(302, 403, 200, 200, 403)),
    "encounters:typeahead":         Row((302, 403, 200, 200, 403)),
    "encounters:audit_queue":       Row((302, 403, 403, 200, 403)),
    "encounters:batch_new":         Row((302, 403, 403, 200, 403), post=(302, 403, 403, 200, 403)),
    "encounters:batch_detail":      Row((302, 403, 403, 200, 403)),
    "encounters:batch_retry":        Row((405, 405, 405, 405, 405), post=(302, 403, 403, 302, 403)),
    "encounters:batch_stop":         Row((405, 405, 405, 405, 405), post=(302, 403, 403, 302, 403)),
    "encounters:finding_decide":    Row((405, 405, 405, 405, 405), post=(302, 403, 403, 302, 403)),
    "encounters:review_decide":     Row((405, 405, 405, 405, 405), post=(302, 403, 403, 302, 403)),
    "encounters:reassign":          Row((405, 405, 405, 405, 405), post=(302, 403, 403, 400, 403)),  # 400: no version
    # reports (issue 16) and claim exports (issue 17)
    "reports:index":                 Row((302, 403, 403, 200, 200)),
    "reports:report":                Row((302, 403, 403, 200, 200)),
    "interop:exports":               Row((302, 403, 403, 200, 403), post=(302, 403, 403, 200, 403)),
    "interop:export_detail":         Row((302, 403, 403, 404, 403)),  # 404: no export yet
    "interop:export_download":       Row((302, 403, 403, 404, 403)),
    # API
    "api:finding-list":              Row((401, 403, 200, 200, 403)),
    "api:report":                    Row((401, 403, 403, 200, 200)),
    "api:encounter-fhir-claim":      Row((401, 403, 200, 200, 403)),
    "api:encounter-x12-837":         Row((401, 403, 200, 200, 403)),
    "api:fhir-bundle":               Row((401, 403, 403, 405, 403), post=(401, 403, 403, 400, 403)),
    "api:encounter-create":         Row((401, 403, 200, 200, 403), post=(401, 403, 403, 400, 403)),
    "api:encounter-bulk-create":    Row((401, 403, 403, 405, 403), post=(401, 403, 403, 400, 403)),
    "api:encounter-detail":         Row((401, 403, 200, 200, 403)),
    "api:encounter-submit":         Row((401, 403, 405, 405, 403), post=(401, 403, 400, 400, 403)),
    "api:encounter-checks":         Row((401, 403, 200, 200, 403)),
    "api:encounter-what-if":        Row((401, 403, 200, 200, 403)),
    "api:me":                       Row((401, 200, 200, 200, 200)),
    "api:worker-ping":              Row((401, 403, 403, 403, 503)),  # 503: no worker in tests
    "api:code-search":              Row((401, 403, 400, 400, 400)),  # 400: no q
    "api:modifier-list":            Row((401, 403, 200, 200, 200)),
    "api:pcs-builder":              Row((401, 403, 200, 200, 200)),
    "api:code-detail":              Row((401, 403, 200, 200, 200)),
    "api-schema":                   Row((401, 200, 200, 200, 200)),
    "api-docs":                     Row((401, 200, 200, 200, 200)),
    # Django's admin site: staff only; none of the roles is staff.
    "admin:*":                      Row((302, 302, 302, 302, 302)),
    "admin:login":                  Row((200, 200, 200, 200, 200)),
    "admin:logout":                 Row((302, 302, 302, 302, 302)),
}
# fmt: on


def _patterns(patterns=None, prefix: str = "", namespace: str = ""):
    """(route, key) of every URL pattern, resolvers walked."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            ns = ":".join(n for n in (namespace, pattern.namespace or "") if n)
            yield from _patterns(
                pattern.url_patterns, prefix + str(pattern.pattern), ns
            )
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = pattern.name
            key = f"{namespace}:{name}" if namespace and name else name or route
            yield route, key


def _row(key: str) -> Row | None:
    if key in EXPECTED:
        return EXPECTED[key]
    if key.startswith(("admin:", "admin/")):  # the admin's unnamed redirects too
        return EXPECTED["admin:*"]
    return None


def test_every_url_pattern_has_a_row():
    missing = [f"{key} ({route})" for route, key in _patterns() if _row(key) is None]
    assert not missing, (
        "URL patterns with no row in tests/test_url_access.py EXPECTED: "
        + ", ".join(missing)
    )


def test_no_row_names_a_url_that_is_gone():
    keys = {key for _route, key in _patterns()}
    stale = [k for k in EXPECTED if k != "admin:*" and k not in keys]
    assert not stale, stale


def _url(route: str, fill: dict[str, str]) -> str:
    route = route.replace("^", "").replace("$", "")
    route = re.sub(r"\(\?P<app_label>[^)]*\)", "accounts", route)
    route = re.sub(r"\(\?P<url>\.\*\)", "no-such-page/", route)
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: fill.get(m.group(1), "1"), route)


@pytest.fixture
def world(code_sets, supervisor, coder, other_coder, codeset_admin, outsider):  # noqa: F811
    from codesets.models import Release

    encounter_id = _create(supervisor)
    encounter_claim(user=coder, encounter_id=encounter_id)
    encounter = Encounter.objects.get(id=encounter_id)
    run = AuditRun.objects.create(
        encounter=encounter, encounter_version=encounter.version, trigger="submit"
    )
    finding = Finding.objects.create(
        encounter=encounter,
        run=run,
        rule="duplicate-code",
        severity="error",
        message="Duplicate",
        codes=["J18.9"],
    )
    batch = AuditBatch.objects.create(requested_by=supervisor, reason="matrix")
    release = Release.objects.filter(state=Release.State.ACTIVE).first()
    assert release is not None
    fill = {
        "encounter_id": str(encounter.id),
        "finding_id": str(finding.id),
        "batch_id": str(batch.id),
        "release_id": str(release.id),
        "user_id": str(other_coder.id),  # never the caller: a POST may deactivate
        "system": "icd10cm",
        "code": "J18.9",
        "name": "case-mix",  # reports/<name>/
        "object_id": "1",
        "content_type_id": "1",
        "id": "1",
    }
    clients = {"anonymous": Client()}
    for name, user in (
        ("no_role", outsider),
        ("coder", coder),
        ("supervisor", supervisor),
        ("admin", codeset_admin),
    ):
        clients[name] = Client()
        clients[name].force_login(user)
    return fill, clients


# POSTs that change what later requests see go last (discard, deactivate).
LAST = ("codesets:release_discard", "accounts:user_active", "accounts:logout")


def test_every_url_answers_each_role_as_the_table_says(world):
    fill, clients = world
    observed: list[str] = []
    wrong: list[str] = []
    patterns = sorted(
        _patterns(), key=lambda p: LAST.index(p[1]) + 1 if p[1] in LAST else 0
    )
    for route, key in patterns:
        row = _row(key)
        assert row is not None
        url = _url(route, fill)
        for method, expected in (("get", row.get), ("post", row.post)):
            if expected is None:
                continue
            got = []
            for caller in CALLERS:
                client = clients[caller]
                response = getattr(client, method)(url)
                got.append(response.status_code)
            observed.append(f"{key} {method} {tuple(got)}")
            if tuple(got) != expected:
                wrong.append(
                    f"{method.upper()} {url} [{key}]: expected {expected}, got {tuple(got)}"
                )
    if os.environ.get("URL_MATRIX_PRINT"):  # a path: write what was seen there
        with open(os.environ["URL_MATRIX_PRINT"], "w") as fh:
            fh.write("\n".join(observed))
    assert not wrong, "\n".join(wrong)
