"""``mforacle claims``: table, JSON, exit codes, progress on stderr, typed usage errors."""

from __future__ import annotations

import json

from mforacle.cli import main


def test_claims_c5_table_json_and_exit_zero(tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["claims", "--claim", "C5", "--profile", "dev", "--json", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.out + cap.err
    assert cap.out.splitlines()[0].split()[:5] == ["claim", "status", "figure", "rel", "bound"]
    assert "C5" in cap.out and "pass" in cap.out
    assert "[1/1] C5" in cap.err
    data = json.loads(out.read_text())
    assert data["profile"] == "dev" and data["verdicts"][0]["claim"] == "C5"


def test_unknown_profile_and_claim_are_usage_errors(capsys):
    assert main(["claims", "--profile", "huge"]) == 2
    assert "profile" in capsys.readouterr().err
    assert main(["claims", "--claim", "Z9"]) == 2
    assert "claim" in capsys.readouterr().err


def test_failing_verdict_exits_one(monkeypatch, capsys):
    from mforacle.claims import CLAIMS
    from mforacle.verdict import Verdict

    spec = CLAIMS["C4"]
    monkeypatch.setattr(
        type(spec),
        "run",
        lambda self, impl, profile="ci": [Verdict.measured(self.id, self.title, 2.0, "<=", 1.0)],
    )
    assert main(["claims", "--claim", "C4", "--profile", "dev"]) == 1
    assert "fail" in capsys.readouterr().out
