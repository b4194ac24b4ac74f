"""Bad input on every public entry point raises a typed error naming the field, before any work.

Entry points: ``mforacle.model`` (Model, Activation, Data, check_theta), ``mforacle.caseio``
(case_from_json), the exact path (evaluate, forward, loss, exact_activation) and the CLI's
arguments. (Bad *files* through the CLI: tests/test_cli_eval.py; the fast path's bad input is
tested with the fast path.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

from mforacle import cli
from mforacle.caseio import case_from_json
from mforacle.errors import CaseFormatError, InvalidArgument, UnsupportedFormatVersion
from mforacle.exact import network
from mforacle.exact.activations import exact_activation
from mforacle.exact.network import evaluate, forward, loss
from mforacle.model import Activation, Data, Model, check_theta

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "mforacle" / "examples" / "tiny.json"
MODEL = Model.create(2, "tanh", ["1", "0.5"], "0")
THETA = [[["0.1", "-0.2", "0.3", "0.4", "0.5"]]]
X = [["0.5", "-1.0"], ["0.25", "0.75"]]
Y = ["0.1", "-0.3"]


def _raises(field: str, fn, *args: Any, **kwargs: Any) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as info:
        fn(*args, **kwargs)
    got = info.value.field
    assert got == field, f"expected field {field!r}, got {got!r}: {info.value}"
    return info.value


# ---- mforacle.model ----------------------------------------------------------------------


@pytest.mark.parametrize("d", [0, -1, 1.5, True, "2", None])
def test_model_bad_dimension(d: Any) -> None:
    _raises("model.d", Model.create, d)


@pytest.mark.parametrize("spec", ["relu", "regrelu", "regrelu:0", "regrelu:-1", "regrelu:x",
                                  "tanh:1", 3, None, ""])
def test_model_bad_activation(spec: Any) -> None:
    _raises("model.activation", Model.create, 1, spec)


def test_activation_constructor_checks() -> None:
    _raises("model.activation", Activation, "softsign")
    _raises("model.activation", Activation, "regrelu", eta=-1)
    _raises("model.activation", Activation, "sin", eta=1)


def test_activation_regrelu_without_eta() -> None:
    _raises("model.activation", Activation, "regrelu")


@pytest.mark.parametrize(("a", "kappa", "field"), [
    (["1"], "0", "model.readout.a"),  # wrong length for d = 2
    (["1", "nan"], "0", "model.readout.a[1]"),
    (["1", "0"], "inf", "model.readout.kappa"),
    (["1", "0"], "abc", "model.readout.kappa"),
    (["1", True], "0", "model.readout.a[1]"),
])
def test_model_bad_readout(a: Any, kappa: Any, field: str) -> None:
    _raises(field, Model.create, 2, "tanh", a, kappa)


@pytest.mark.parametrize(("x", "y", "w", "field"), [
    ([["0.5"]], ["0"], None, "x"),  # d = 2 expects two coordinates
    ([], [], None, "x"),
    ([["0.5", "nan"]], ["0"], None, "x[0][1]"),
    ([["0.5", "1"], ["0.5"]], ["0", "1"], None, "x[1]"),  # ragged
    (X, ["0.1"], None, "y"),
    (X, Y, ["-0.5", "1.5"], "weights[0]"),
    (X, Y, ["0.5", "0.6"], "weights"),
    (X, Y, ["0.5"], "weights"),
])
def test_data_bad(x: Any, y: Any, w: Any, field: str) -> None:
    _raises(field, Data.create, MODEL, x, y, w)


@pytest.mark.parametrize(("theta", "field"), [
    ([[["0.1", "0.2", "0.3", "0.4"]]], "theta"),  # k = 4, expected 5
    ([], "theta"),
    ([[]], "theta"),
    ([[["0.1", "0.2", "0.3", "0.4", "inf"]]], "theta[0][0][4]"),
    ([[["0.1", "0.2", "0.3", "0.4", False]]], "theta[0][0][4]"),
    ([[["0.1", "0.2", "0.3", "0.4", "0.5"], ["0.1"]]], "theta[0][1]"),
])
def test_theta_bad(theta: Any, field: str) -> None:
    _raises(field, check_theta, MODEL, theta)


# ---- mforacle.caseio ---------------------------------------------------------------------


def _tiny() -> dict:
    return json.loads(TINY.read_text())


@pytest.mark.parametrize(("change", "error", "field"), [
    (lambda o: o.pop("format"), CaseFormatError, "format"),
    (lambda o: o.update(format="mforacle-case/2"), UnsupportedFormatVersion, "format"),
    (lambda o: o.update(format="other/1"), CaseFormatError, "format"),
    (lambda o: o.pop("model"), CaseFormatError, "model"),
    (lambda o: o.update(model=[1]), CaseFormatError, "model"),
    (lambda o: o["model"].update(readout=3), CaseFormatError, "model.readout"),
    (lambda o: o["model"].pop("d"), CaseFormatError, "model.d"),
    (lambda o: o.pop("theta"), CaseFormatError, "theta"),  # neither theta nor measure
    (lambda o: o.update(measure={"kind": "gaussian-path"}), CaseFormatError, "theta"),  # both
    (lambda o: o.pop("x"), CaseFormatError, "x"),
    (lambda o: o.update(y=["0.1", "nan"]), CaseFormatError, "y[1]"),
])
def test_case_from_json_bad(change, error: type, field: str) -> None:
    obj = _tiny()
    change(obj)
    with pytest.raises(error) as info:
        case_from_json(obj)
    assert info.value.field == field, str(info.value)


def test_case_from_json_not_an_object() -> None:
    with pytest.raises(CaseFormatError):
        case_from_json([1, 2])


# ---- exact path --------------------------------------------------------------------------


@pytest.mark.parametrize("dps", [0, -5, 1.5, True, "30", None, 10001])
def test_exact_bad_dps(dps: Any) -> None:
    _raises("dps", evaluate, MODEL, THETA, X, Y, dps=dps)
    _raises("dps", forward, MODEL, THETA, X, dps=dps)
    _raises("dps", loss, MODEL, THETA, X, Y, dps=dps)


@pytest.mark.parametrize("model", ["tanh", None, {"d": 2}])
def test_exact_model_must_be_a_model(model: Any) -> None:
    _raises("model", evaluate, model, THETA, X, Y)
    _raises("model", forward, model, THETA, X)
    _raises("model", loss, model, THETA, X, Y)


def test_exact_bad_arrays_name_the_entry() -> None:
    _raises("theta[0][0][2]", evaluate, MODEL, [[["0.1", "-0.2", "nan", "0.4", "0.5"]]], X, Y)
    _raises("theta", evaluate, MODEL, np.zeros((1, 1, 4)), X, Y)
    _raises("x[1][0]", evaluate, MODEL, THETA, [["0.5", "1"], [float("inf"), "0"]], Y)
    _raises("y", loss, MODEL, THETA, X, ["0.1"])
    _raises("weights", evaluate, MODEL, THETA, X, Y, ["0.5", "0.25"])
    _raises("x", forward, MODEL, THETA, [])
    _raises("x", forward, MODEL, THETA, ["0.5", "1"])  # 1-d, not (N, d)
    _raises("confirm", evaluate, MODEL, THETA, X, Y, confirm="yes")


def test_exact_validates_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bad input is refused before the computation starts (and before the confirm run)."""

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the computation ran on invalid input")

    monkeypatch.setattr(network, "_compute", boom)
    _raises("weights[1]", evaluate, MODEL, THETA, X, Y, ["1.5", "-0.5"])
    _raises("confirm", evaluate, MODEL, THETA, X, Y, confirm=1)
    _raises("dps", loss, MODEL, THETA, X, Y, dps=0)


def test_exact_activation_bad_input() -> None:
    _raises("activation", exact_activation, 3)
    _raises("model.activation", exact_activation, "relu")


def test_global_precision_untouched_when_input_is_bad() -> None:
    before = mpmath.mp.prec
    with pytest.raises(InvalidArgument):
        evaluate(MODEL, THETA, X, Y, dps=0)
    assert mpmath.mp.prec == before


def test_mpf_inputs_keep_their_sign() -> None:
    r1 = loss(MODEL, THETA, [["-0.5", "-1"]], ["0.1"], dps=30)
    r2 = loss(MODEL, THETA, [[mpmath.mpf(-0.5), mpmath.mpf(-1)]], ["0.1"], dps=30)
    assert r1 == r2


# ---- CLI arguments -----------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expect"), [
    (["--dps", "14"], "--dps"),
    (["--dps", "10001"], "--dps"),
    (["--dps", "abc"], "--dps"),
    (["--path", "gpu"], "--path"),
    (["--path", "fast", "--dps", "30"], "--dps"),
    (["--frobnicate"], "unrecognized"),
])
def test_cli_bad_arguments(
    args: list[str], expect: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = cli.main(["eval", str(TINY), *args])
    except SystemExit as exc:  # argparse errors exit through the parser
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, (args, code, err)
    assert len(err.strip().splitlines()) == 1 and expect in err, err


def test_cli_missing_case_argument(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["eval"])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
