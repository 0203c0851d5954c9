"""Schemathesis over /api/schema/ against a live server, as a code-set admin and as
a coder: the fuzzing phase (valid and invalid inputs for every operation) and the
stateful phase (sequences of calls). The one assertion: no answer is a 5xx.

Bounded: MAX_EXAMPLES per operation and mode, STATEFUL_EXAMPLES scenarios; the
figures (requests, server errors) are printed with -s and asserted on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from encounters.services import encounter_claim
from tests.encounters.conftest import code_sets  # noqa: F401 - the fixture
from tests.encounters.test_views import _create

pytestmark = pytest.mark.django_db(transaction=True)

# A longer run by hand: SCHEMATHESIS_EXAMPLES=50 pytest tests/test_api_fuzz.py -s
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
STATEFUL_EXAMPLES = max(3, MAX_EXAMPLES // 2)
TIMEOUT = 15


@dataclass
class Tally:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def count(self, response: Any, case: Any) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.server_errors.append(
                f"{response.status_code} {case.method} {case.formatted_path} "
                f"query={case.query} body={str(case.body)[:200]}"
            )


def _settings(max_examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def _fuzz(schema: Any, base_url: str, headers: dict[str, str], tally: Tally) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        began = time.monotonic()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @hypothesis.given(case=strategy)
            @_settings(MAX_EXAMPLES)
            def run(case: Any) -> None:
                response = case.call(
                    base_url=base_url, headers=headers, timeout=TIMEOUT
                )
                tally.count(response, case)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                continue  # no invalid input exists (an operation without inputs)
        tally.seconds[operation.label] = time.monotonic() - began


def _stateful(
    schema: Any, base_url: str, headers: dict[str, str], tally: Tally
) -> None:
    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": TIMEOUT}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            tally.count(response, case)

    Machine.run(settings=_settings(STATEFUL_EXAMPLES, stateful_step_count=4))


@pytest.fixture
def live_api(live_server, code_sets, supervisor, coder, codeset_admin):  # noqa: F811
    for n in range(3):
        encounter_id = _create(supervisor, patient={**_patient(), "mrn": f"FZ{n}"})
        if n:
            encounter_claim(user=coder, encounter_id=encounter_id)
    # The site's administrator as a superuser: every operation answers them, so
    # the fuzzing reaches past the permission checks everywhere.
    codeset_admin.is_superuser = True
    codeset_admin.save(update_fields=["is_superuser"])
    return live_server.url, {
        "admin": Token.objects.create(user=codeset_admin).key,
        "coder": Token.objects.create(user=coder).key,
    }


def _patient() -> dict[str, str]:
    from tests.encounters.conftest import pneumonia_payload

    return pneumonia_payload()["patient"]


def test_schemathesis_finds_no_server_error(live_api):
    base_url, tokens = live_api
    errors: list[str] = []
    for role in ("admin", "coder"):
        headers = {"Authorization": f"Token {tokens[role]}"}
        schema = schemathesis.openapi.from_url(
            f"{base_url}/api/schema/?format=json", headers=headers
        ).exclude(path="/api/v1/ping/")  # waits 5 s for a worker; 503 without one
        tally = Tally()
        started = time.monotonic()
        _fuzz(schema, base_url, headers, tally)
        fuzzed = tally.requests
        _stateful(schema, base_url, headers, tally)
        slowest = sorted(tally.seconds.items(), key=lambda kv: -kv[1])[:3]
        print(
            f"\nschemathesis as {role}: {fuzzed} fuzzing + {tally.requests - fuzzed} "
            f"stateful requests, {len(tally.server_errors)} server errors, "
            f"{time.monotonic() - started:.1f} s; slowest: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in slowest)
        )
        assert tally.requests > 100
        errors += tally.server_errors
    assert not errors, "\n".join(errors[:20])
