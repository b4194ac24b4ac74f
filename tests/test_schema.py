"""The JSON Schemas of ``mforacle-case/1`` and ``mforacle-result/1`` (``mforacle/schema/``).

What is checked:

- the schemas are valid draft 2020-12 schemas, shipped as package data;
- everything mforacle writes validates: the bundled examples, the vectors ``mforacle vectors
  export`` writes (cases and reference results) and the results of ``mforacle eval`` and
  ``mforacle limit``;
- broken files are rejected, by the schema *and* by mforacle's reader (``mforacle.caseio``);
- the schema's number syntax is :data:`mforacle.numbers.NUMBER_TEXT`, string for string;
- generated mutations of valid files (hypothesis): whatever the reader accepts, the schema
  accepts; and whatever the schema accepts but the reader refuses is refused for a reason the
  schema documents it cannot express (array lengths, weight sums, ``t <= 1`` in a string, ...).

The schemas are stricter than the reader in exactly two documented places of a result
(``docs/case-format.md``, "Validating with the schemas"): ``dtype`` must be a string (the grader
refuses anything else as well) and ``error_bound`` values must be non-negative numbers (the
grader treats a malformed bound as no bound: *not checked*).
"""

from __future__ import annotations

import copy
import json
import re
import tempfile
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mforacle.caseio import CASE_FORMAT, RESULT_FORMAT, read_case, read_result, result_from_json
from mforacle.cli import main
from mforacle.dtypes import check_dtype
from mforacle.errors import MforacleError
from mforacle.harness.limit import _stated_bound
from mforacle.harness.vectors import export
from mforacle.numbers import NUMBER_TEXT, exact_scalar

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "mforacle" / "examples").glob("*.json"))
THETA_EXAMPLE = ROOT / "mforacle" / "examples" / "tiny.json"
MEASURE_EXAMPLE = ROOT / "mforacle" / "examples" / "measure_erf_d1.json"


def _schema(name: str) -> dict[str, Any]:
    """A schema as installed: read through importlib.resources (package data)."""
    text = (resources.files("mforacle") / "schema" / f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


CASE_SCHEMA = _schema("mforacle-case-1")
RESULT_SCHEMA = _schema("mforacle-result-1")
CASE_V = jsonschema.Draft202012Validator(CASE_SCHEMA)
RESULT_V = jsonschema.Draft202012Validator(RESULT_SCHEMA)


def _errors(validator: jsonschema.Validator, obj: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)
    ]


def _valid_case(obj: Any) -> bool:
    return CASE_V.is_valid(obj)


def _valid_result(obj: Any) -> bool:
    return RESULT_V.is_valid(obj)


# --- the schemas themselves --------------------------------------------------------------------


@pytest.mark.parametrize("schema", [CASE_SCHEMA, RESULT_SCHEMA], ids=["case", "result"])
def test_schemas_are_draft_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schemas_are_package_data():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "schema/*.json" in data["package-data"]["mforacle"]
    for name in ("mforacle-case-1", "mforacle-result-1"):
        assert (ROOT / "mforacle" / "schema" / f"{name}.schema.json").is_file()


def test_the_format_names_are_the_readers():
    assert CASE_SCHEMA["properties"]["format"] == {"const": CASE_FORMAT}
    assert RESULT_SCHEMA["properties"]["format"] == {"const": RESULT_FORMAT}


def test_both_schemas_share_the_number_definitions():
    assert CASE_SCHEMA["$defs"]["number"] == RESULT_SCHEMA["$defs"]["number"]
    assert CASE_SCHEMA["$defs"]["nonNegativeNumber"] == RESULT_SCHEMA["$defs"]["nonNegativeNumber"]


# --- the number syntax -----------------------------------------------------------------------

NUMBER_PATTERN = CASE_SCHEMA["$defs"]["number"]["anyOf"][1]["pattern"]
NONNEG_PATTERN = CASE_SCHEMA["$defs"]["nonNegativeNumber"]["anyOf"][1]["pattern"]


def test_number_pattern_is_numbers_NUMBER_TEXT():
    assert NUMBER_PATTERN == "^" + NUMBER_TEXT.pattern + "$"


def _reader_accepts(text: str) -> bool:
    try:
        exact_scalar(text, "f")
    except MforacleError:
        return False
    return True


NUMBERISH = st.text(alphabet="0123456789+-.eE/ _\t\n١xa", max_size=12)


@given(NUMBERISH)
def test_number_strings_schema_and_reader_agree(text):
    """A string is a number for the schema exactly when the reader takes it."""
    in_schema = re.search(NUMBER_PATTERN, text) is not None
    assert in_schema == _reader_accepts(text), text


@given(NUMBERISH)
def test_non_negative_strings(text):
    """``nonNegativeNumber`` strings are the numbers ``>= 0`` (as the weights check reads them)."""
    in_schema = re.search(NONNEG_PATTERN, text) is not None
    expected = _reader_accepts(text) and exact_scalar(text, "f") >= 0
    assert in_schema == expected, text


@pytest.mark.parametrize(
    "text", ["0.1", "-2e-3", "3/4", "  7 ", "+.5", "5.", "6.02E23", "-0", "0/3", "1e-400"]
)
def test_number_strings_accepted(text):
    assert re.search(NUMBER_PATTERN, text) and _reader_accepts(text)


@pytest.mark.parametrize(
    "text", ["", " ", "nan", "inf", "-Infinity", "1/0", "1_000", "١", "0x10", "1,5", "1 / 2", "e5"]
)
def test_number_strings_refused(text):
    assert not re.search(NUMBER_PATTERN, text) and not _reader_accepts(text)


ACTIVATION_PATTERN = CASE_SCHEMA["$defs"]["model"]["properties"]["activation"]["pattern"]


@given(
    st.sampled_from(["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu", "relu", "Tanh"])
    | st.builds(lambda t: "regrelu:" + t, NUMBERISH)
    | st.text(alphabet="regluash:0.1 \t-/", max_size=12)
)
def test_activation_pattern_agrees_with_the_reader(spec):
    from mforacle.model import Activation

    try:
        Activation.parse(spec)
        reader = True
    except MforacleError:
        reader = False
    assert (re.search(ACTIVATION_PATTERN, spec) is not None) == reader, spec


# --- everything mforacle writes validates --------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_bundled_examples_validate(path):
    obj = json.loads(path.read_text())
    assert _errors(CASE_V, obj) == []
    read_case(path)


COMMITTED_CASES = sorted((ROOT / "reports" / "sample" / "cases").glob("*.json"))


@pytest.mark.skipif(not COMMITTED_CASES, reason="no committed report cases in this checkout")
def test_case_files_written_by_reports_validate():
    """The case files a report saves for reproduction (``reports/sample/cases/``) are valid."""
    for path in COMMITTED_CASES:
        assert _errors(CASE_V, json.loads(path.read_text())) == [], path.name
        read_case(path)


@pytest.fixture(scope="module")
def vdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    export(d, "dev")
    return d


def test_exported_vectors_validate(vdir):
    manifest = json.loads((vdir / "manifest.json").read_text())
    entries = manifest["cases"] + manifest["limit_cases"]
    assert len(manifest["cases"]) >= 10 and len(manifest["limit_cases"]) >= 1
    for entry in entries:
        case_obj = json.loads((vdir / entry["case"]).read_text())
        assert _errors(CASE_V, case_obj) == [], entry["case"]
        ref_obj = json.loads((vdir / entry["reference"]).read_text())
        assert _errors(RESULT_V, ref_obj) == [], entry["reference"]
        # and the reader takes both, shapes checked against the case
        read_result(vdir / entry["reference"], read_case(vdir / entry["case"]))


@pytest.mark.parametrize(
    ("command", "case", "path"),
    [
        ("eval", THETA_EXAMPLE, "exact"),
        ("eval", THETA_EXAMPLE, "fast"),
        ("eval", THETA_EXAMPLE, "ball"),
        ("eval", ROOT / "mforacle" / "examples" / "regrelu_kappa.json", "exact"),
        ("limit", MEASURE_EXAMPLE, "exact"),
        ("limit", MEASURE_EXAMPLE, "fast"),
        ("limit", MEASURE_EXAMPLE, "ball"),
    ],
)
def test_eval_and_limit_results_validate(tmp_path, command, case, path):
    out = tmp_path / "result.json"
    assert main([command, str(case), "--path", path, "-o", str(out)]) == 0
    obj = json.loads(out.read_text())
    assert _errors(RESULT_V, obj) == []
    assert obj["error_bound"], "the writers state their bounds"
    read_result(out, read_case(case))


# --- broken files are rejected, by the schema and by the reader ----------------------------------


def _set(path: tuple, value: Any):
    def apply(obj: dict) -> None:
        node = obj
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _drop(path: tuple):
    def apply(obj: dict) -> None:
        node = obj
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


BROKEN_CASES = {
    "unknown format": _set(("format",), "mforacle-case/2"),
    "other format": _set(("format",), "mforacle-result/1"),
    "no format": _drop(("format",)),
    "no model": _drop(("model",)),
    "no x": _drop(("x",)),
    "d = 0": _set(("model", "d"), 0),
    "d a string": _set(("model", "d"), "2"),
    "unknown activation": _set(("model", "activation"), "relu"),
    "regrelu without eta": _set(("model", "activation"), "regrelu"),
    "regrelu eta 0": _set(("model", "activation"), "regrelu:0"),
    "regrelu eta < 0": _set(("model", "activation"), "regrelu:-0.5"),
    "tanh with a parameter": _set(("model", "activation"), "tanh:1"),
    "kappa null": _set(("model", "readout", "kappa"), None),
    "readout not an object": _set(("model", "readout"), [1, 0]),
    "NaN as a string": _set(("theta", 0, 0, 0), "nan"),
    "Infinity as a string": _set(("x", 0, 0), "-Infinity"),
    "digit groups": _set(("x", 0, 0), "1_000"),
    "non-ASCII digit": _set(("x", 0, 0), "١"),
    "boolean": _set(("y", 0), True),
    "null number": _set(("y", 0), None),
    "zero denominator": _set(("y", 0), "1/0"),
    "negative weight": _set(("weights", 0), "-0.5"),
    "empty theta": _set(("theta",), []),
    "theta too shallow": _set(("theta",), [["0.1", "0.2", "0.3"]]),
    "row of two": _set(("theta", 0, 0), ["0.1", "0.2"]),
    "no data": _set(("x",), []),
    "theta and measure": _set(("measure",), {"kind": "gaussian-path", "r": 1, "c": [0] * 5,
                                             "A": [[0]] * 5}),
    "neither theta nor measure": _drop(("theta",)),
}

BROKEN_MEASURES = {
    "wrong kind": _set(("measure", "kind"), "empirical"),
    "r = 0": _set(("measure", "r"), 0),
    "empty polynomial": _set(("measure", "c", 0), []),
    "A row not a list": _set(("measure", "A", 0), "0.5"),
    "probe depth above 1": _set(("measure", "probes", 0, "t"), 2),
    "probe depth below 0": _set(("measure", "probes", 0, "t"), "-0.25"),
    "probe without theta": _drop(("measure", "probes", 0, "theta")),
    "probes not a list": _set(("measure", "probes"), {"t": 0}),
}


def _reader_refuses_case(obj: Any) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.json"
        path.write_text(json.dumps(obj))
        try:
            read_case(path)
        except MforacleError:
            return True
    return False


@pytest.mark.parametrize("name", list(BROKEN_CASES))
def test_broken_cases_are_rejected(name):
    obj = json.loads(THETA_EXAMPLE.read_text())
    BROKEN_CASES[name](obj)
    assert not _valid_case(obj), name
    assert _reader_refuses_case(obj), name


@pytest.mark.parametrize("name", list(BROKEN_MEASURES))
def test_broken_measure_cases_are_rejected(name):
    obj = json.loads(MEASURE_EXAMPLE.read_text())
    assert obj["measure"]["probes"], "the example has probes to break"
    BROKEN_MEASURES[name](obj)
    assert not _valid_case(obj), name
    assert _reader_refuses_case(obj), name


GOOD_RESULT = {
    "format": "mforacle-result/1",
    "dtype": "float32",
    "loss": "0.125",
    "z_L": [["0.5", -1.0], ["0.25", "3/4"]],
    "grad_theta": [[["0.1", "-0.2", "0.3", "0.4", "0.5"]]],
    "grad_x": [[0.0, "1e-3"], ["-2E+1", ".5"]],
    "error_bound": {"loss": "1e-7", "z_L": 0, "grad_theta": "2.5e-8", "grad_x": "-0"},
}

BROKEN_RESULTS = {
    "no format": _drop(("format",)),
    "case format": _set(("format",), "mforacle-case/1"),
    "loss an array": _set(("loss",), ["0.1"]),
    "loss NaN": _set(("loss",), "NaN"),
    "z_L one level": _set(("z_L",), ["0.5", "-1"]),
    "grad_theta two levels": _set(("grad_theta",), [["0.1"]]),
    "grad_x word": _set(("grad_x", 0, 0), "abc"),
    "grad_x boolean": _set(("grad_x", 0, 0), False),
    "grad_x digit groups": _set(("grad_x", 0, 0), "1_0"),
    "energy null": _set(("energy",), None),
    "velocity three levels": _set(("velocity",), [[["1"]]]),
    "first_variation scalar": _set(("first_variation",), "1"),
}


def _grader_refuses_result(obj: Any) -> bool:
    """What ``mforacle check --results`` refuses as an invalid file (an ``error`` verdict)."""
    try:
        result_from_json(obj)
        check_dtype(obj.get("dtype", "float64"), "dtype")
    except MforacleError:
        return True
    return False


def test_good_result_is_accepted():
    assert _errors(RESULT_V, GOOD_RESULT) == []
    assert not _grader_refuses_result(GOOD_RESULT)


@pytest.mark.parametrize("name", list(BROKEN_RESULTS))
def test_broken_results_are_rejected(name):
    obj = copy.deepcopy(GOOD_RESULT)
    BROKEN_RESULTS[name](obj)
    assert not _valid_result(obj), name
    assert _grader_refuses_result(obj), name


@pytest.mark.parametrize("bound", ["-1e-3", -0.5, "abc", None, [1e-3]])
def test_malformed_error_bound_schema_rejects_grader_ignores(bound):
    """A stated bound that is not a number >= 0: the schema rejects the file; the grader reads
    the file but takes the bound as not stated (that quantity is then *not checked*)."""
    obj = copy.deepcopy(GOOD_RESULT)
    obj["error_bound"]["loss"] = bound
    assert not _valid_result(obj)
    assert _stated_bound(obj, "loss") is None


def test_dtype_must_be_a_known_string_for_the_grader():
    obj = dict(GOOD_RESULT, dtype=64)
    assert not _valid_result(obj) and _grader_refuses_result(obj)
    obj = dict(GOOD_RESULT, dtype="float128")  # a string: schema-valid, the grader refuses it
    assert _valid_result(obj) and _grader_refuses_result(obj)


def test_a_validator_that_accepts_everything_fails_here():
    """The negative tests above can fail: with an empty schema they would."""
    permissive = jsonschema.Draft202012Validator({})
    obj = json.loads(THETA_EXAMPLE.read_text())
    BROKEN_CASES["NaN as a string"](obj)
    assert permissive.is_valid(obj) and not _valid_case(obj)


# --- generated mutations: the schema and the reader agree ----------------------------------------

#: Reasons the reader refuses a file that the schema cannot express (docs/case-format.md,
#: "Validating with the schemas"): lengths tied to d, N, L, M, r, k; the weights' sum; t <= 1
#: in a string; r <= k; and an integer written as 2.0 or 1e300 (JSON Schema's "integer" is any
#: number without a fractional part; the reader wants an integer literal for d and r).
SEMANTIC_REASONS = (
    "expected a positive integer",
    "expected shape",
    "ragged array",
    "weights must sum to 1",
    "depth t must lie in [0, 1]",
    "expected an integer with 1 <= r <= k",
    "expected k = ",
    "expected r = ",
)

POOL = [
    "0.5", "-1", "3/4", " 2 ", "1e-3", "-0", "1_0", "١", "1/0", "nan", "inf", "", "abc",
    0, 1, 2, -1, 0.5, -0.5, 1e300, True, False, None, [], [1], ["0.5", "0.25"], [[1, 2]], {},
    {"a": 1}, "tanh", "regrelu:0.5", "regrelu:0", "mforacle-case/1", "mforacle-case/2",
    "gaussian-path", "mforacle-result/1", "float64", "float32",
]  # fmt: skip


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: Any, base: dict, skip: tuple[str, ...] = ()) -> dict:
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 2))):
        paths = [p for p in _paths(obj) if not (p and p[0] in skip)]
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            op = "add"
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        target = parent if not path else parent[path[-1]] if op == "add" else None
        if op == "replace":
            parent[path[-1]] = copy.deepcopy(draw(st.sampled_from(POOL)))
        elif op == "delete":
            del parent[path[-1]]
        elif isinstance(target, dict):
            key = draw(st.sampled_from(["theta", "measure", "weights", "probes", "readout", "zz"]))
            target[key] = copy.deepcopy(draw(st.sampled_from(POOL)))
        elif isinstance(target, list):
            target.append(copy.deepcopy(draw(st.sampled_from(POOL + target[:1]))))
        else:
            parent[path[-1]] = [target]
    return obj


def _reader_verdict_case(obj: Any) -> str | None:
    """None when the reader accepts ``obj`` (written as a file), else its reason."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.json"
        path.write_text(json.dumps(obj))
        try:
            read_case(path)
        except MforacleError as exc:
            return str(exc)
    return None


def _check_case_agreement(obj: Any) -> None:
    refused = _reader_verdict_case(obj)
    if refused is None:
        why = _errors(CASE_V, obj)
        assert _valid_case(obj), ("the reader accepts, the schema refuses", obj, why)
    elif _valid_case(obj):
        assert any(r in refused for r in SEMANTIC_REASONS), ("schema-valid, refused", refused, obj)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mutated(json.loads(THETA_EXAMPLE.read_text())))
def test_mutated_theta_cases_schema_and_reader_agree(obj):
    _check_case_agreement(obj)


@SETTINGS
@given(mutated(json.loads(MEASURE_EXAMPLE.read_text())))
def test_mutated_measure_cases_schema_and_reader_agree(obj):
    _check_case_agreement(obj)


def _written_result(case_path: Path) -> dict:
    """What mforacle's fast path writes for a case (a real writer's output, as a base)."""
    from mforacle.commands import eval as eval_cmd
    from mforacle.commands import limit as limit_cmd

    case = read_case(case_path)
    if case.theta is not None:
        return eval_cmd.fast_result(case)
    return limit_cmd.fast_result(case, 16)


def _grader_verdict_result(obj: Any, case_path: Path) -> str | None:
    """None when ``mforacle check --results`` would grade ``obj`` as the result of that case
    (read with shapes checked against the case, dtype known), else its reason."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "result.json"
        path.write_text(json.dumps(obj))
        try:
            result = read_result(path, read_case(case_path))
            check_dtype(result.get("dtype", "float64"), "dtype")
        except MforacleError as exc:
            return str(exc)
    return None


def _check_result_agreement(obj: Any, case_path: Path) -> None:
    refused = _grader_verdict_result(obj, case_path)
    if refused is None:
        assert _valid_result(obj), ("the grader accepts, the schema refuses", obj,
                                    _errors(RESULT_V, obj))
    elif _valid_result(obj):
        reasons = (*SEMANTIC_REASONS, "unknown dtype")
        assert any(r in refused for r in reasons), ("schema-valid, refused", refused, obj)


@SETTINGS
@given(mutated(_written_result(THETA_EXAMPLE), skip=("error_bound",)))
def test_mutated_theta_results_schema_and_grader_agree(obj):
    """``error_bound`` is left alone here: see the test on malformed bounds."""
    _check_result_agreement(obj, THETA_EXAMPLE)


@SETTINGS
@given(mutated(_written_result(MEASURE_EXAMPLE), skip=("error_bound",)))
def test_mutated_limit_results_schema_and_grader_agree(obj):
    _check_result_agreement(obj, MEASURE_EXAMPLE)


def test_decimal_json_numbers_read_exactly_are_schema_numbers(tmp_path):
    """A JSON number with many digits: the reader keeps it exactly (Decimal), the schema sees
    a JSON number; both accept."""
    obj = json.loads(THETA_EXAMPLE.read_text())
    text = json.dumps(obj).replace('"0.1"', "0.1000000000000000000000000000001")
    path = tmp_path / "case.json"
    path.write_text(text)
    case = read_case(path)
    assert case.theta[0, 0, 0] == Decimal("0.1000000000000000000000000000001")
    assert _valid_case(json.loads(text))


def test_measure_case_without_probes_round_trips(tmp_path):
    """P = 0: ``mforacle limit`` writes ``"velocity": []`` (JSON cannot say (0, k)); the schema
    and the reader both take it back (the reader used to refuse it as shape (0,))."""
    obj = json.loads(MEASURE_EXAMPLE.read_text())
    del obj["measure"]["probes"]
    case_path = tmp_path / "case.json"
    case_path.write_text(json.dumps(obj))
    out = tmp_path / "result.json"
    assert main(["limit", str(case_path), "--path", "fast", "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["velocity"] == [] and res["first_variation"] == []
    assert _errors(RESULT_V, res) == []
    got = read_result(out, read_case(case_path))
    assert got["velocity"].shape == (0, 3) and got["first_variation"].shape == (0,)
    res["velocity"] = []  # with a probe in the case, [] is the wrong shape
    assert _grader_verdict_result(res, MEASURE_EXAMPLE) is not None
