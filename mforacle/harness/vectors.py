"""The versioned conformance suite and its export as test vectors.

Every number in the suite is dyadic with at most 12 significant bits, so every case is exactly
representable in float64, float32 and float16 (in range) — an implementation in any of these
sees the case itself, and one exact reference serves all of them. Groups:

- ``small/<activation>``: d = 2, L = 2, M = 3, N = 3, every activation (regrelu with eta 1/2).
- ``kappa/<activation>``: the same with a curved readout, kappa = ±1/2 (state-dependent
  terminal condition of the adjoint).
- ``edge/*``: tiny weights (2^-10 scale), large weights (up to 8), one point and one neuron,
  a zero data weight, a deep narrow net (L = 12, M = 2: layer order matters), d = 1.
- ``medium/*``: d = 3, L = 6, M = 16, N = 4 (full gradient comparison).
- ``large/*``: d = 2, L = 16, M = 40, N = 4 (grad_theta has 3200 entries: directional checks).

``export(DIR)`` writes ``DIR/<group>/<name>.json`` (``mforacle-case/1``),
``DIR/reference/<group>/<name>.json`` (``mforacle-result/1`` from the exact path, certified by
the Arb ball path: its ``error_bound`` is rigorous, ``"error_bound_kind": "rigorous"``, and is
what a third party's tolerance adds to the float error model; the tolerance bounds for float64
and float32 under ``"tolerance"``) and
``DIR/manifest.json`` (``mforacle-vectors/1``, with :data:`SUITE_VERSION`).

Measure cases (the limit, :mod:`mforacle.harness.limit`): ``DIR/limit/<name>.json`` and
``DIR/reference/limit/<name>.json`` (``energy``, ``Z1``, ``first_variation``, ``velocity`` with
``error_bound``), listed under the manifest's ``"limit_cases"`` (``"cases"`` stays theta only,
so readers of earlier exports are unaffected).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..caseio import Case, case_from_json, load_json, write_json_atomic
from ..errors import CaseFormatError, UnsupportedFormatVersion
from ..model import Data, Model, check_theta
from .checks import QUANTITIES, Reference, SuiteCase, tolerance_bounds
from .limit import LIMIT_QUANTITIES, LimitCase, LimitReference, build_limit_suite

__all__ = [
    "MANIFEST_FORMAT",
    "SUITE_VERSION",
    "build_suite",
    "case_file_suites",
    "export",
    "load_limit_vectors",
    "load_vectors",
]

MANIFEST_FORMAT = "mforacle-vectors/1"
#: bump when a case changes; graders compare it with the manifest they are given
#: 1.1: measure cases (limit_cases) added; theta cases unchanged.
#: 1.2: theta references certified by the ball path (rigorous error_bound, "error_bound_kind");
#: cases unchanged.
SUITE_VERSION = "1.2.0"
#: seed of the suite's generator (fixed: the suite is a versioned artefact, not a sample)
SUITE_SEED = 20240601
EXPORT_DTYPES = ("float64", "float32")
ACTS = ("tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5")


def _dyadic(rng: np.random.Generator, shape: Any, scale: float, bits: int = 6) -> np.ndarray:
    """Entries ``i / 2^bits · scale`` with ``|i| ≤ 2^bits`` (scale a power of two)."""
    top = 2**bits
    return rng.integers(-top, top + 1, size=shape).astype(np.float64) / top * scale


def _case(
    rng: np.random.Generator,
    *,
    d: int,
    L: int,
    M: int,
    N: int,
    act: str,
    kappa: float = 0.0,
    scale: float = 1.0,
    weights: Any = None,
    note: str = "",
) -> Case:
    a = [1.0, -0.5, 0.25][:d]
    model = Model.create(d, act, a, kappa)
    theta = _dyadic(rng, (L, M, model.k), scale)
    x = _dyadic(rng, (N, d), 1.0)
    y = _dyadic(rng, (N,), 0.5)
    if weights is None and N & (N - 1):  # 1/N is not dyadic: use dyadic weights summing to 1
        total = 1 << N.bit_length()
        weights = [1 / total] * (N - 1) + [(total - (N - 1)) / total]
    data = Data.create(model, x, y, weights)
    meta = {"description": note} if note else {}
    return Case(model, data, theta=check_theta(model, theta), meta=meta)


def build_suite(profile: str = "dev") -> list[SuiteCase]:
    """The suite's cases (no references yet). ``thorough`` adds 12 random mid-size cases."""
    rng = np.random.default_rng(SUITE_SEED)
    out: list[SuiteCase] = []

    def add(cid: str, tags: tuple[str, ...], case: Case) -> None:
        out.append(SuiteCase(cid, case, tags))

    for act in ACTS:
        name = act.split(":")[0]
        add(
            f"small/{name}",
            ("small", name),
            _case(rng, d=2, L=2, M=3, N=3, act=act, note=f"small net, {act}"),
        )
    for act, kappa in (("tanh", 0.5), ("sin", -0.5), ("softplus", 0.5)):
        add(
            f"kappa/{act}",
            ("kappa", act),
            _case(rng, d=2, L=3, M=2, N=3, act=act, kappa=kappa, note=f"readout kappa = {kappa}"),
        )
    add(
        "edge/tiny-weights",
        ("edge",),
        _case(rng, d=2, L=3, M=4, N=3, act="tanh", scale=2.0**-10, note="parameters ~ 2^-10"),
    )
    add(
        "edge/large-weights",
        ("edge",),
        _case(
            rng,
            d=2,
            L=3,
            M=4,
            N=3,
            act="softplus",
            kappa=0.5,
            scale=8.0,
            note="parameters up to 8, curved readout",
        ),
    )
    add(
        "edge/large-weights-tanh",
        ("edge",),
        _case(rng, d=2, L=2, M=3, N=3, act="tanh", scale=8.0, note="saturated tanh"),
    )
    add(
        "edge/one-point-one-neuron",
        ("edge",),
        _case(rng, d=1, L=1, M=1, N=1, act="sigmoid", note="L = M = N = d = 1"),
    )
    add(
        "edge/zero-weight",
        ("edge",),
        _case(
            rng,
            d=2,
            L=2,
            M=2,
            N=4,
            act="erf",
            weights=[0.5, 0.25, 0.25, 0.0],
            note="non-uniform data weights, one of them zero",
        ),
    )
    add(
        "edge/deep-narrow",
        ("edge",),
        _case(rng, d=2, L=12, M=2, N=3, act="sin", scale=2.0, note="deep: layer order matters"),
    )
    add(
        "edge/regrelu-kinks",
        ("edge",),
        _case(rng, d=1, L=3, M=4, N=4, act="regrelu:0.125", note="regrelu with small eta"),
    )
    add("medium/tanh", ("medium",), _case(rng, d=3, L=6, M=16, N=4, act="tanh", kappa=0.5))
    add("large/erf", ("large",), _case(rng, d=2, L=16, M=40, N=4, act="erf"))
    if profile == "thorough":
        for i in range(12):
            act = ACTS[i % len(ACTS)]
            add(
                f"random/{i:02d}",
                ("random",),
                _case(
                    rng,
                    d=int(rng.integers(1, 4)),
                    L=int(rng.integers(1, 8)),
                    M=int(rng.integers(1, 12)),
                    N=int(rng.integers(1, 6)),
                    act=act,
                    kappa=float(rng.choice([0.0, 0.5, -0.25])),
                    scale=2.0,
                ),
            )
    return out


#: ``compute(jobs) -> results``: runs ``fn(*args)`` for each job ``(key, fn, args)`` and returns
#: the results in order (serially by default; :func:`mforacle.scale.job_runner` on a cluster)
Compute = Callable[[list[tuple[str, Callable[..., Any], tuple[Any, ...]]]], list[Any]]


def _serial(jobs: list[tuple[str, Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    return [fn(*args) for _, fn, args in jobs]


def export_case(sc: SuiteCase) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One theta case of the export: ``(case JSON, reference JSON, manifest entry)``; the exact
    reference and the float64/float32 tolerances are computed here (an independent unit)."""
    ref = sc.ensure_reference()
    th, x, y, w = sc.float_inputs()
    tol = {dt: tolerance_bounds(sc.case.model, th, x, y, w, dt) for dt in EXPORT_DTYPES}
    ref_json = ref.to_json()
    ref_json["tolerance"] = {dt: {q: repr(v) for q, v in t.items()} for dt, t in tol.items()}
    L, M, k = sc.case.theta.shape
    entry = {
        "id": sc.id,
        "case": f"{sc.id}.json",
        "reference": f"reference/{sc.id}.json",
        "tags": list(sc.tags),
        "shape": {"L": L, "M": M, "k": k, "N": sc.case.data.n, "d": sc.case.model.d},
        "activation": str(sc.case.model.activation),
        "kappa": float(sc.case.model.kappa),
    }
    return sc.case.to_json(), ref_json, entry


def export_limit_case(lc: LimitCase) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One measure case of the export: ``(case JSON, reference JSON, manifest entry)``."""
    m = lc.case.model
    entry = {
        "id": lc.id,
        "case": f"{lc.id}.json",
        "reference": f"reference/{lc.id}.json",
        "tags": list(lc.tags),
        "shape": {"N": lc.case.data.n, "d": m.d, "k": m.k, "P": len(lc.case.probes)},
        "activation": str(m.activation),
        "kappa": float(m.kappa),
    }
    return lc.case.to_json(), lc.ensure_reference().to_json(), entry


def export(
    directory: str | Path, profile: str = "dev", *, compute: Compute | None = None
) -> dict[str, Any]:
    """Write the suite, exact references and bounds under ``directory``; return the manifest.

    Each case is an independent unit (:func:`export_case`, :func:`export_limit_case`) run by
    ``compute`` (default: one after another here; ``mforacle vectors export --workers N`` runs
    them on a Dask cluster); the files are written here, in suite order, so every way of
    computing writes the same files."""
    root = Path(directory)
    run = compute if compute is not None else _serial
    suite, limit_suite = build_suite(profile), build_limit_suite()
    jobs = [(f"case::{sc.id}", export_case, (sc,)) for sc in suite]
    jobs += [(f"limit::{lc.id}", export_limit_case, (lc,)) for lc in limit_suite]
    got = run(jobs)
    entries, limit_entries = [], []
    for i, (case_json, ref_json, entry) in enumerate(got):
        write_json_atomic(root / entry["case"], case_json)
        write_json_atomic(root / entry["reference"], ref_json)
        (entries if i < len(suite) else limit_entries).append(entry)
    manifest = {
        "format": MANIFEST_FORMAT,
        "suite_version": SUITE_VERSION,
        "profile": profile,
        "quantities": list(QUANTITIES),
        "cases": entries,
        "limit_quantities": list(LIMIT_QUANTITIES),
        "limit_cases": limit_entries,
        "results_layout": 'RESULTS/<id>.json (mforacle-result/1, with "dtype"; for limit '
        'cases also "error_bound", your absolute error per field)',
    }
    write_json_atomic(root / "manifest.json", manifest)
    return manifest


def load_vectors(directory: str | Path) -> tuple[dict[str, Any], list[SuiteCase]]:
    """Read an exported suite: the manifest and its cases with references and tolerances."""
    root = Path(directory)
    manifest = load_json(root / "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if isinstance(fmt, str) and fmt.startswith("mforacle-vectors/"):
            raise UnsupportedFormatVersion("format", fmt, f"this reader knows {MANIFEST_FORMAT!r}")
        raise CaseFormatError(
            "format", fmt, f"expected {MANIFEST_FORMAT!r}", source=str(root / "manifest.json")
        )
    suite = []
    for i, e in enumerate(manifest.get("cases", [])):
        try:
            cid, cpath, rpath = e["id"], e["case"], e["reference"]
        except (KeyError, TypeError):
            raise CaseFormatError(f"cases[{i}]", e, "needs id, case and reference") from None
        case = case_from_json(load_json(root / cpath))
        ref_obj = load_json(root / rpath)
        ref = Reference.from_json(ref_obj)
        tol = {
            dt: {q: float(v) for q, v in t.items()}
            for dt, t in ref_obj.get("tolerance", {}).items()
        }
        suite.append(SuiteCase(cid, case, tuple(e.get("tags", ())), ref, tol))
    return manifest, suite


def load_limit_vectors(directory: str | Path) -> list[LimitCase]:
    """The measure cases of an exported suite (manifest ``"limit_cases"``; none in exports
    older than suite 1.1) with their stored references."""
    root = Path(directory)
    manifest = load_json(root / "manifest.json")
    out = []
    for i, e in enumerate(manifest.get("limit_cases", []) if isinstance(manifest, dict) else []):
        try:
            cid, cpath, rpath = e["id"], e["case"], e["reference"]
        except (KeyError, TypeError):
            raise CaseFormatError(f"limit_cases[{i}]", e, "needs id, case and reference") from None
        case = case_from_json(load_json(root / cpath))
        try:
            ref = LimitReference.from_json(load_json(root / rpath))
        except (KeyError, TypeError, ValueError) as exc:
            raise CaseFormatError(f"limit_cases[{i}].reference", rpath, str(exc)) from None
        out.append(LimitCase(cid, case, tuple(e.get("tags", ("limit",))), ref))
    return out


def case_file_suites(path: str | Path) -> tuple[list[SuiteCase], list[LimitCase]]:
    """``--case FILE``: a theta case gives a one-case suite, a measure case a one-case limit
    suite."""
    from ..caseio import read_case

    case = read_case(path)
    if case.measure is not None:
        return [], [LimitCase(Path(path).stem, case, ("file",))]
    return case_file_suite(path), []


def case_file_suite(path: str | Path) -> list[SuiteCase]:
    """A one-case suite from a case file (for ``mforacle check ... --case FILE``)."""
    from ..caseio import read_case

    case = read_case(path)
    if case.theta is None:
        raise CaseFormatError(
            "theta", None, "conformance checks need a theta case", source=str(path)
        )
    return [SuiteCase(Path(path).stem, case, ("file",))]


def dumps_manifest(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1)
