"""The claims registry: every claim id present, sizes per profile, typed errors, verdicts."""

from __future__ import annotations

import pytest

from mforacle.builtin import FAST
from mforacle.claims import CLAIMS, ClaimSpec, ClaimSubject, check_profile, run_claim, select
from mforacle.errors import InvalidArgument
from mforacle.profiles import PROFILES
from mforacle.protocol import MEMBERS

IDS = [f"{g}{i}" for g in "ABC" for i in range(1, 6)]


def test_every_claim_of_claims_md_is_registered():
    assert list(CLAIMS) == IDS
    for cid, spec in CLAIMS.items():
        assert isinstance(spec, ClaimSpec) and spec.id == cid and spec.title
        assert set(spec.needs) <= set(MEMBERS), spec.needs
        for p in PROFILES:
            assert isinstance(spec.sizes_for(p), dict)


def test_select_and_profiles_are_validated():
    assert [s.id for s in select("c")] == ["C1", "C2", "C3", "C4", "C5"]
    assert [s.id for s in select("c3")] == ["C3"]
    with pytest.raises(InvalidArgument):
        select("D1")
    with pytest.raises(InvalidArgument):
        check_profile("fast")
    with pytest.raises(InvalidArgument):
        CLAIMS["C1"].sizes_for("nope")


def test_missing_methods_give_not_checked_not_failure():
    class OnlyForward:
        name = "forward-only"

        def forward(self, spec, theta, x):
            return x

    assert ClaimSubject(OnlyForward()).lacks(("train_step", "forward")) == ["train_step"]
    (v,) = CLAIMS["C1"].run(OnlyForward(), "dev")
    assert v.status == "not checked" and "train_step" in v.reason
    with pytest.raises(InvalidArgument):
        ClaimSubject(OnlyForward()).provides("train")  # not a protocol member


def test_a_raising_implementation_gives_an_error_verdict():
    class Raises:
        name = "raises"

        def loss(self, *a):
            raise RuntimeError("boom")

        gradient = train_step = loss

    out = CLAIMS["C2"].run(Raises(), "dev")
    assert out[0].status == "error" and "boom" in out[0].reason


def test_run_claim_c5_on_fast_path_passes_and_is_jsonable():
    import json

    out = run_claim("C5", FAST, "dev")
    assert out and all(v.passed for v in out), [v.summary() for v in out]
    json.dumps([v.to_json() for v in out])
    assert out[0].evidence["floor"] > 0
