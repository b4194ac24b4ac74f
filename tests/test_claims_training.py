"""Claims C1–C5 on the built-in path, and deliberately broken trainers that must fail them."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from mforacle.properties.strategies.training import training_cases

from mforacle.builtin import FAST, FastPathImplementation
from mforacle.claims.subject import ClaimSubject
from mforacle.claims.training import (
    FlowCase,
    builtin_case,
    builtin_flow_case,
    builtin_nonmonotone_case,
    check_c1_discrete,
    check_c1_flow,
    check_c2_discrete,
    check_c2_flow,
    check_c3_depth,
    check_c3_width,
    check_c5,
)


def fast_path():
    return FAST


class WrongSign(FastPathImplementation):
    """GD ascent: Θ ← Θ + lr ∇E."""

    name = "broken: wrong sign"

    def train_step(self, spec, theta, x, y, weights, lr):
        return 2 * theta - super().train_step(spec, theta, x, y, weights, lr)


class MissingLM(FastPathImplementation):
    """GD with learning rate Δs instead of Δs·L·M (the step divides lr by L·M)."""

    name = "broken: missing L·M"

    def train_step(self, spec, theta, x, y, weights, lr):
        LM = theta.shape[0] * theta.shape[1]
        return super().train_step(spec, theta, x, y, weights, lr / LM)


def test_c1_c2_pass_on_builtin_cases():
    for i in range(2):
        case, _ = builtin_case(i)
        v1 = check_c1_discrete(fast_path(), case, steps=30)
        v1.assert_passed()
        v2 = check_c2_discrete(fast_path(), case)
        v2.assert_passed()
        assert v2.evidence["fit"]["slope"] > 0.85, v2.evidence["fit"]


@settings(max_examples=6)
@given(case=training_cases())
def test_c1_holds_on_generated_cases(case):
    v = check_c1_discrete(fast_path(), case, steps=15)
    assert v.status in ("pass", "not checked"), v.summary()


def test_broken_trainers_fail_c1_c2():
    case, _ = builtin_case(1)
    v = check_c1_discrete(WrongSign(), case, steps=10)
    assert v.status == "fail", v.summary()
    for broken in (WrongSign(), MissingLM()):
        v = check_c2_discrete(broken, case)
        assert v.status == "fail", (broken.name, v.summary())


def test_c1_c2_flow_pass():
    case = builtin_flow_case(0)
    check_c1_flow(case, steps=10).assert_passed()
    check_c2_flow(case).assert_passed()


class History:
    def __init__(self, s, loss, dissipation):
        self.s, self.loss = np.asarray(s), np.asarray(loss)
        self.dissipation = np.asarray(dissipation)


def flow_wrong_sign(model, particles, x, y, weights=None, *, ds, steps):
    """The particle flow, ascending: particles move along +V."""
    from mforacle.fast.limit import ParticleMeasure, solve_particles, velocity_on_particles
    from mforacle.training import _simpson_weights

    nodes, om = particles.nodes.copy(), particles.weights
    s, e, d = [], [], []
    for k in range(steps + 1):
        pm = ParticleMeasure(nodes, om)
        sol = solve_particles(model, pm, x, y, weights)
        V = velocity_on_particles(model, pm, sol)
        s.append(k * ds)
        e.append(sol.energy)
        d.append(float(_simpson_weights(nodes.shape[0]) @ (np.sum(V * V, axis=2) @ om)))
        nodes = nodes + ds * V
    return History(s, e, d)


def test_broken_flow_fails_c1_c2():
    case = builtin_flow_case(0)
    assert check_c1_flow(case, steps=5, flow=flow_wrong_sign).status == "fail"
    assert check_c2_flow(case, halvings=2, flow=flow_wrong_sign).status == "fail"


def test_c3_depth_and_width_pass_and_broken_trainer_fails(measured):
    case = builtin_flow_case(0)
    v = check_c3_depth(fast_path(), case, ladder=[4, 8, 16], M=4, s=1.0)
    measured(v.summary())
    v.assert_passed()
    ref = v.evidence["reference"]
    assert ref["error_estimate"] < 0.1 * min(v.evidence["errors"]), ref
    bad = check_c3_depth(MissingLM(), case, ladder=[4, 8, 16], M=4, s=1.0)
    assert bad.status == "fail", bad.summary()
    verdicts = check_c3_width(fast_path(), case, ladder=[4, 8, 16], L=4, seeds=24, s=0.5, ds=0.05)
    for w in verdicts:
        measured(w.summary())
    verdicts[0].assert_passed()
    # NB: C3.width fits the seed *variance*, which a missing L·M factor does not change
    # (the variance still scales like 1/M); that trainer is caught by C3.depth above and C2.


def test_c5_floor_holds_and_a_cheating_flow_fails():
    case = builtin_nonmonotone_case(0)
    v = check_c5(case, s=10.0)
    v.assert_passed()
    assert v.evidence["floor"] > 0

    def cheat(model, particles, x, y, weights=None, *, ds, steps):
        """A 'limit' that fits any labels (loss decays to 0 regardless of monotonicity)."""
        s = np.arange(steps + 1) * ds
        return History(s, 0.3 * np.exp(-s), 0.3 * np.exp(-s))

    assert check_c5(case, s=10.0, flow=cheat).status == "fail"


def test_c5_sign_of_a1_uses_antitonic_floor():
    inc, dec = builtin_nonmonotone_case(0), builtin_nonmonotone_case(1)
    from mforacle.stats import monotone_floor

    assert inc.model.a[0] > 0 > dec.model.a[0]
    f_dec = monotone_floor(dec.x[:, 0], dec.y, increasing=False)
    f_wrong = monotone_floor(dec.x[:, 0], dec.y, increasing=True)
    assert f_dec > 0 and f_wrong != f_dec
    v = check_c5(FlowCase(dec.model, dec.measure, dec.x, dec.y), s=5.0)
    assert v.evidence["increasing"] is False and v.evidence["floor"] == f_dec


class RecordingPath(ClaimSubject):
    """The fast path's subject, remembering every initial network it is asked to train."""

    def __init__(self):
        super().__init__(FAST)
        self.seen = []

    def train(self, model, theta0, x, y, weights=None, *, ds, steps):
        self.seen.append(np.array(theta0, copy=True))
        return super().train(model, theta0, x, y, weights, ds=ds, steps=steps)


def test_c3_width_rungs_use_disjoint_seeds():
    """sample_network draws the M rows of ξ first, so a seed shared by two widths gives both the
    same leading neuron: the rungs would be correlated. Every trained network's first neuron of
    the first layer must be a fresh draw (paths scheme), and the evidence must name disjoint
    seed blocks."""
    impl = RecordingPath()
    case = builtin_flow_case(0)
    ladder, seeds = [2, 4, 8], 3
    verdicts = check_c3_width(impl, case, ladder=ladder, L=2, seeds=seeds, s=0.1, T_ref=9, n_ref=6)
    paths = impl.seen[: len(ladder) * seeds]  # the paths scheme runs first
    assert [t.shape[1] for t in paths] == [M for M in ladder for _ in range(seeds)]
    firsts = {tuple(t[0, 0]) for t in paths}
    assert len(firsts) == len(paths), ("a first neuron repeats across rungs", sorted(firsts))
    ev = verdicts[0].evidence
    assert len(set(ev["seeds"])) == len(ladder) * seeds, ev["seeds"]


def test_c3_width_reports_mean_square_bias_and_what_is_fitted():
    """Per scheme and rung: mean square = (n−1)/n · variance + bias² (the identity
    mean(e²) = var_pop(e) + mean(e)², to float64 roundoff of ~40 terms), the bias split's depth
    part lies within 4 SE of the rung biases' range (it is their M -> ∞ extrapolation), and the
    error model says the variance is fitted and why the mean square is not."""
    case = builtin_flow_case(0)
    v = check_c3_width(fast_path(), case, ladder=[4, 8, 16], L=4, seeds=24, s=0.5, ds=0.05)[0]
    n = 24
    for scheme, sch in v.evidence["schemes"].items():
        for var, mse, bias in zip(sch["variance"], sch["mse"], sch["bias"], strict=True):
            want = var * (n - 1) / n + bias * bias
            assert math.isclose(mse, want, rel_tol=1e-12), (scheme, mse, want)
        split = sch["bias_split"]
        lo, hi = min(sch["bias"]), max(sch["bias"])
        assert lo - 4 * split["depth_se"] <= split["depth"] <= hi + 4 * split["depth_se"], split
        assert sch["mse_fit"]["slope"] < 0, sch["mse_fit"]
    em = v.error_model
    assert "seed variance" in em and "mean square" in em and "depth term" in em, em
    assert "disjoint blocks" in em, em
    assert "bias depth part" in v.reason and "mean square" in v.reason, v.reason


def test_bias_split_recovers_a_known_depth_term():
    """bias(M) = b + c/M exactly: the weighted fit returns b and c (to roundoff)."""
    from mforacle.claims.theorem6 import _bias_split

    ladder = [4, 8, 16, 32]
    bias = [-0.006 + 0.02 / M for M in ladder]
    got = _bias_split(ladder, bias, [1e-3, 2e-3, 1e-3, 5e-4])
    assert math.isclose(got["depth"], -0.006, rel_tol=1e-10), got
    assert math.isclose(got["width"], 0.02, rel_tol=1e-10), got


def test_registry_runs_the_split_modules():
    """The registry resolves C1–C5 to the split modules, and the old import path still works."""
    from mforacle.claims import CLAIMS, decay, theorem6, training, zero_loss

    assert CLAIMS["C1"].function is decay.run_c1 and CLAIMS["C2"].function is decay.run_c2
    assert CLAIMS["C3"].function is theorem6.run_c3
    assert CLAIMS["C4"].function is zero_loss.run_c4 and CLAIMS["C5"].function is zero_loss.run_c5
    assert training.check_c3_width is theorem6.check_c3_width


# --- C4: the zero-loss ladder must not pass on NaN losses or a rise from 0 -----------------

_C4_LADDER = [[2, 2, 0.5], [2, 3, 0.5], [2, 4, 0.5]]


class NaNOnFirstRung(FastPathImplementation):
    """Trains like the built-in path, but diverges to NaN states on the first rung (M = 2); its
    loss propagates NaN (as plain NumPy code would) instead of raising."""

    name = "broken: NaN on the first rung"

    def train_step(self, spec, theta, x, y, weights, lr):
        out = super().train_step(spec, theta, x, y, weights, lr)
        return np.full_like(out, np.nan) if np.shape(theta)[1] == 2 else out

    def loss(self, spec, theta, x, y, weights):
        if np.isnan(theta).any():
            return math.nan
        return super().loss(spec, theta, x, y, weights)


def _c4_with_losses(monkeypatch, losses):
    """C4 on the built-in reachable case with the trained losses stubbed to ``losses``."""
    from mforacle.claims import zero_loss

    it = iter(losses)
    monkeypatch.setattr(zero_loss, "train_final_loss", lambda *a, **k: next(it))
    return zero_loss.check_c4(
        fast_path(), zero_loss.builtin_reachable_case(), ladder=_C4_LADDER, eps=[1e-2, 1e-3]
    )


def test_c4_nan_loss_on_a_rung_fails():
    from mforacle.claims.zero_loss import builtin_reachable_case, check_c4

    vs = check_c4(NaNOnFirstRung(), builtin_reachable_case(), ladder=_C4_LADDER, eps=[1e9])
    assert [v.status for v in vs] == ["fail", "fail"], [v.summary() for v in vs]
    assert all("loss nan at rung 0 (L=2,M=2" in v.reason for v in vs), [v.reason for v in vs]


def test_c4_stubbed_losses(monkeypatch):
    ok = _c4_with_losses(monkeypatch, [0.5, 0.05, 1e-3])
    assert [v.status for v in ok] == ["pass", "pass"], [v.summary() for v in ok]
    assert ok[1].figure == 0.1, ok[1].summary()
    for bad, why in (
        ([0.5, math.nan, 1e-4], "loss nan at rung 1"),
        ([math.nan, 0.5, 1e-4], "loss nan at rung 0"),
        ([0.5, 0.05, math.inf], "loss inf at rung 2"),
    ):
        vs = _c4_with_losses(monkeypatch, bad)
        assert [v.status for v in vs] == ["fail", "fail"], (bad, [v.summary() for v in vs])
        assert why in vs[0].reason and why in vs[1].reason, (bad, vs[1].reason)
    # a rise from exactly 0 is growth (ratio inf), though the last rung meets ε
    c4, ladder = _c4_with_losses(monkeypatch, [0.0, 0.1, 1e-4])
    assert c4.status == "pass" and ladder.status == "fail", ladder.summary()
    assert ladder.figure == math.inf, ladder.summary()
    # staying at 0 is not growth
    _, flat = _c4_with_losses(monkeypatch, [0.0, 0.0, 0.0])
    assert flat.status == "pass" and flat.figure == 1.0, flat.summary()


# --- C2: every discrepancy finite > 0 and shrinking at each halving, not just the last -----


def _c2_with_discrepancies(monkeypatch, errors, discrete=False):
    """C2 (or C2.flow) on a built-in case with the measured discrepancies stubbed."""
    from mforacle.claims import decay

    it = iter(errors)
    monkeypatch.setattr(decay, "dissipation_discrepancy", lambda *a, **k: next(it))
    h = len(errors) - 1
    if discrete:
        return decay.check_c2_discrete(fast_path(), builtin_case(0)[0], halvings=h)
    return decay.check_c2_flow(builtin_flow_case(0), T=3, n=2, halvings=h)


def test_c2_stubbed_discrepancy_sequences(monkeypatch):
    ok = _c2_with_discrepancies(monkeypatch, [0.08, 0.04, 0.02, 0.01])
    assert ok.status == "pass" and ok.figure == 2.0, ok.summary()
    assert "ratios 2, 2, 2" in ok.reason, ok.reason
    for bad, why in (
        ([math.nan, 0.04, 0.02, 0.01], "discrepancy nan at Δs 0.2"),
        ([0.08, math.inf, 0.02, 0.01], "discrepancy inf at Δs 0.1"),
        ([0.08, -0.04, 0.02, 0.01], "discrepancy -0.04"),
        ([0.08, 0.04, 0.02, 0.0], "discrepancy 0.0 at Δs 0.025"),
        # the discrepancy GROWS at the first halving; the last ratio alone is in the window
        ([0.01, 0.04, 0.02, 0.01], "does not shrink: ratio 0.25 at Δs 0.2 → 0.1"),
        ([0.04, 0.04, 0.02, 0.01], "does not shrink: ratio 1 at Δs 0.2 → 0.1"),
    ):
        v = _c2_with_discrepancies(monkeypatch, bad)
        assert v.status == "fail" and why in v.reason, (bad, v.summary())
        assert "ratios " in v.reason and len(v.evidence["ratios"]) == 3, v.evidence
    # the discrete check too, including a run whose every discrepancy is NaN (no crash)
    v = _c2_with_discrepancies(monkeypatch, [math.nan] * 3, discrete=True)
    assert v.status == "fail" and "discrepancy nan" in v.reason, v.summary()
    v = _c2_with_discrepancies(monkeypatch, [0.01, 0.02, 0.01], discrete=True)
    assert v.status == "fail" and "does not shrink: ratio 0.5" in v.reason, v.summary()
