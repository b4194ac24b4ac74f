"""Hand-written SVG plots for the reports (no plotting library): axes, ticks, points, lines.

The tick choosers guarantee that labels never overlap: a label is estimated at ``CHAR_W``
user units per character (an upper bound for DejaVu/Liberation Sans digits at ``FONT`` px), and
two neighbouring labels are kept at least half of each one's width plus ``GAP`` apart (on a
vertical axis: one line height plus ``GAP``). Log axes label decades (thinned to every 2nd,
3rd, ... decade when they would crowd), ``1, 2, 5 × 10^k`` when fewer than two decades are in
range, or the ladder's own values (integers ``4, 8, 16``; powers of two as ``2⁻⁸``).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CHAR_W",
    "FONT",
    "GAP",
    "Plot",
    "Series",
    "fmt_tick",
    "label_width",
    "linear_ticks",
    "log_ticks",
    "ticks_fit",
]

FONT = 10  # px, tick labels
CHAR_W = 6.4  # user units per character at FONT px (DejaVu Sans digits are 6.36)
LINE_H = 11.0  # user units per text line at FONT px
GAP = 6.0  # least free space between two labels
MIN_STEP = 40.0  # least distance between two ticks of an x axis (fewer, calmer labels)

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

Tick = tuple[float, str]  # (data value, label)


def label_width(label: str) -> float:
    """Estimated width of a tick label in user units (an upper bound at ``FONT`` px)."""
    return CHAR_W * len(label)


def ticks_fit(positions: Sequence[float], labels: Sequence[str], *, vertical: bool = False) -> bool:
    """Whether labels centred at ``positions`` (user units, any order) leave ``GAP`` between
    neighbours: horizontally half of each width, vertically one line height."""
    pairs = sorted(zip(positions, labels, strict=True))
    for (p, a), (q, b) in itertools.pairwise(pairs):
        need = LINE_H if vertical else (label_width(a) + label_width(b)) / 2
        if q - p < need + GAP:
            return False
    return True


def fmt_tick(v: float) -> str:
    """A short, readable label: ``0.05``, ``200``, ``1e-7``, ``2e-12``."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1e-3 <= a < 1e4:
        return f"{v:.4g}"
    m, e = f"{v:.0e}".split("e")
    return f"{m}e{int(e)}"


def _short(v: float) -> str:
    return fmt_tick(float(f"{v:.2g}"))


def _pow2_label(k: int) -> str:
    return "2" + str(k).translate(_SUP)


def log_ticks(
    lo: float,
    hi: float,
    length: float,
    *,
    vertical: bool = False,
    values: Sequence[float] | None = None,
) -> list[Tick]:
    """Ticks for a log axis from ``lo`` to ``hi`` (data values > 0) drawn ``length`` units long.

    With ``values`` (a ladder): integers label themselves, non-integer powers of two read
    ``2⁻ᵏ`` and a short ladder (<= 8) of other values shows them to 2 digits, thinned to every
    2nd, 3rd, ... exponent or value until the labels fit (anchored at the largest). Otherwise
    decades (thinned), or ``1, 3`` / ``1, 2, 5`` / ``1..9 × 10^k`` when fewer than two decades
    are in range, or the two ends. Whatever is returned fits (:func:`ticks_fit`); it may be
    empty only if not even one label fits.
    """
    if not (lo > 0 and hi > lo and length > 0):
        return []
    u0, u1 = math.log10(lo), math.log10(hi)
    ppu = length / (u1 - u0)  # user units per decade

    def pos(v: float) -> float:
        return (math.log10(v) - u0) * ppu

    def fits(ts: list[Tick]) -> bool:
        ps = sorted(pos(v) for v, _ in ts)
        calm = vertical or all(b - a >= MIN_STEP for a, b in itertools.pairwise(ps))
        return calm and ticks_fit(ps, [t for _, t in sorted(ts)], vertical=vertical)

    eps = 1e-12 * (u1 - u0)
    inside = [v for v in (values or []) if v > 0 and u0 - eps <= math.log10(v) <= u1 + eps]
    if inside:
        vs = sorted(set(inside))
        pow2 = [math.log2(v) for v in vs]
        if all(abs(k - round(k)) < 1e-9 for k in pow2) and not all(v == int(v) for v in vs):
            ks = [round(k) for k in pow2]
            top = max(ks)
            g = math.gcd(*[top - k for k in ks]) or 1  # the ladder's exponent spacing
            span = top - min(ks)
            # prefer ticks on the ladder's own exponents, counted from its largest value
            steps = [g * m for m in range(1, span // g + 2)] + list(range(1, span + 2))
            for step in steps:
                ts = [(2.0**k, _pow2_label(k)) for k in range(top, min(ks) - 1, -step)][::-1]
                if len(ts) >= min(2, len(vs)) and fits(ts):
                    return ts
        else:  # integers label themselves; a short ladder of other values too (2 digits)
            fmt = fmt_tick if all(v == int(v) for v in vs) else _short
            if fmt is fmt_tick or len(vs) <= 8:
                for step in range(1, len(vs) + 1):
                    ts = [(v, fmt(v)) for v in vs[::-1][::step]][::-1]
                    if fits(ts):
                        return ts
    d0, d1 = math.ceil(u0 - eps), math.floor(u1 + eps)
    decades = list(range(d0, d1 + 1))
    if len(decades) >= 2:
        for step in (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 25, 50, 100):
            ts = [(10.0**k, fmt_tick(10.0**k)) for k in decades if k % step == 0]
            if len(ts) >= 2 and fits(ts):
                return ts
            if len(ts) < 2:
                break
    fallback: list[Tick] = []
    for mantissas in ((1, 3), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ts = [
            (m * 10.0**k, fmt_tick(m * 10.0**k))
            for k in range(d0 - 1, d1 + 1)
            for m in mantissas
            if lo <= m * 10.0**k <= hi
        ]
        if len(ts) >= 2 and fits(ts):
            if len(ts) >= 3:  # three labels read a log axis better than two
                return ts
            fallback = fallback or ts
    if fallback:
        return fallback
    for ts in ([(lo, fmt_tick(lo)), (hi, fmt_tick(hi))], [(lo, fmt_tick(lo))]):
        if fits(ts):
            return ts
    return []


def linear_ticks(lo: float, hi: float, length: float, *, vertical: bool = False) -> list[Tick]:
    """Ticks at ``1, 2, 5 × 10^k`` multiples from ``lo`` to ``hi``, the densest set that fits."""
    if not (hi > lo and length > 0):
        return []
    span = hi - lo
    k0 = math.floor(math.log10(span)) - 2
    for k in range(k0, k0 + 6):
        for m in (1, 2, 5):
            step = m * 10.0**k
            first = math.ceil(lo / step - 1e-9)
            last = math.floor(hi / step + 1e-9)
            if last - first > 40:
                continue
            vals = [round(i * step, 12) for i in range(first, last + 1)]
            vals = [v for v in vals if lo <= v <= hi]
            ts = [(v, fmt_tick(v)) for v in vals]
            pos = [(v - lo) / span * length for v in vals]
            if (
                len(ts) >= 2
                and ticks_fit(pos, [t for _, t in ts], vertical=vertical)
                and (vertical or step / span * length >= MIN_STEP)
            ):
                return ts
    return [(lo, fmt_tick(lo))]


# --- drawing -------------------------------------------------------------------------------


@dataclass
class Series:
    """Points or a line. ``style``: "points", "line" (polyline and points), "fit" (dashed),
    "curve" (dotted), "guide" (thin grey)."""

    xs: list[float]
    ys: list[float]
    style: str = "points"
    color: str = "#2563eb"
    label: str = ""


@dataclass
class Plot:
    """A plot with a log y axis and a log, linear or categorical x axis, rendered by ``svg()``."""

    title: str
    xlabel: str
    ylabel: str
    xscale: str = "log"  # log | linear | category
    categories: list[str] = field(default_factory=list)  # labels of x = 0, 1, ... (category)
    series: list[Series] = field(default_factory=list)
    hlines: list[tuple[float, str, str]] = field(default_factory=list)  # (y, label, color)
    wedge: tuple[float, float, float, float, str] | None = None  # (x_c, y_c, s_lo, s_hi, label)
    x_values: list[float] = field(default_factory=list)  # ladder values for the x ticks
    width: int = 400
    height: int = 270

    # layout
    pad_l: int = 58
    pad_r: int = 14
    pad_b: int = 42

    def _pad_t(self) -> int:
        return 24 + 13 * len(self._legend())

    def _legend(self) -> list[tuple[str, str, str]]:
        out = [(s.label, s.color, s.style) for s in self.series if s.label]
        if self.wedge:
            out.append((self.wedge[4], "#16a34a", "wedge"))
        out += [(lab, col, "hline") for _, lab, col in self.hlines if lab]
        return out

    def svg(self) -> str:
        """The plot as one ``<svg>`` element, or ``""`` if nothing is plottable."""
        logx = self.xscale == "log"
        pts = [
            (x, y)
            for s in self.series
            for x, y in zip(s.xs, s.ys, strict=False)
            if _ok(x, logx) and _ok(y, True)
        ]
        data = [
            p
            for s in self.series
            if s.style in ("points", "line")
            for p in zip(s.xs, s.ys, strict=False)
        ]
        if not any(_ok(x, logx) and _ok(y, True) for x, y in data):
            return ""
        tx: Callable[[float], float] = math.log10 if logx else float
        xs = [tx(x) for x, _ in pts]
        ys = [math.log10(y) for _, y in pts] + [
            math.log10(y) for y, _, _ in self.hlines if _ok(y, True)
        ]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        if self.xscale == "category":
            x0, x1 = -0.5, max(len(self.categories) - 0.5, x1 + 0.5)
        if x1 - x0 < 1e-12:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 - y0 < 1e-12:
            y0, y1 = y0 - 0.5, y1 + 0.5
        if self.xscale != "category":
            padx = 0.05 * (x1 - x0)
            x0, x1 = x0 - padx, x1 + padx
            if not logx and min(x for x, _ in pts) >= 0:
                x0 = max(x0, 0.0) if min(x for x, _ in pts) == 0 else x0
        pady = 0.08 * (y1 - y0)
        y0, y1 = y0 - pady, y1 + pady
        W, H, L, R, B, T = (
            self.width,
            self.height,
            self.pad_l,
            self.pad_r,
            self.pad_b,
            self._pad_t(),
        )
        pw, ph = W - L - R, H - T - B

        def px(v: float) -> float:
            return L + (tx(v) - x0) / (x1 - x0) * pw

        def py(v: float) -> float:
            return H - B - (math.log10(v) - y0) / (y1 - y0) * ph

        e = html.escape
        uid = hashlib.sha1(repr((self.title, self.series, self.hlines)).encode()).hexdigest()[:10]
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
            f'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="{FONT}" '
            f'role="img"><title>{e(self.title)}</title>',
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<text x="{W / 2}" y="15" text-anchor="middle" font-size="12" font-weight="bold">'
            f"{e(self.title)}</text>",
        ]
        for i, (lab, col, style) in enumerate(self._legend()):
            ly = 30 + 13 * i
            dash = {
                "fit": ' stroke-dasharray="5 3"',
                "curve": ' stroke-dasharray="2 2"',
                "hline": ' stroke-dasharray="1 3"',
            }.get(style, "")
            if style == "wedge":
                out.append(
                    f'<rect x="{L}" y="{ly - 7}" width="18" height="8" fill="{col}" '
                    'fill-opacity="0.18"/>'
                )
            else:
                out.append(
                    f'<line x1="{L}" y1="{ly - 3}" x2="{L + 18}" y2="{ly - 3}" '
                    f'stroke="{col}" stroke-width="1.6"{dash}/>'
                )
            out.append(f'<text x="{L + 24}" y="{ly}" fill="#333">{e(lab)}</text>')
        out.append(
            f'<clipPath id="c{uid}"><rect x="{L}" y="{T}" width="{pw}" height="{ph}"/></clipPath>'
        )
        # y ticks and grid
        for v, lab in log_ticks(10.0**y0, 10.0**y1, ph, vertical=True):
            yy = py(v)
            out.append(
                f'<line x1="{L}" y1="{yy:.1f}" x2="{W - R}" y2="{yy:.1f}" stroke="#e5e5e5"/>'
            )
            out.append(f'<text x="{L - 5}" y="{yy + 3.5:.1f}" text-anchor="end">{e(lab)}</text>')
        # x ticks
        if self.xscale == "category":
            idx = list(range(len(self.categories)))
            xt: list[Tick] = []
            for step in range(1, len(idx) + 1):
                xt = [(float(i), self.categories[i]) for i in idx[::step]]
                if ticks_fit([px(v) for v, _ in xt], [t for _, t in xt]):
                    break
            else:
                xt = []
        elif logx:
            xt = log_ticks(10.0**x0, 10.0**x1, pw, values=self.x_values)
        else:
            xt = linear_ticks(x0, x1, pw)
        if logx:
            for v in self.x_values:
                if _ok(v, True) and x0 <= math.log10(v) <= x1:
                    out.append(
                        f'<line x1="{px(v):.1f}" y1="{H - B}" x2="{px(v):.1f}" '
                        f'y2="{H - B + 2.5}" stroke="#888"/>'
                    )
        for v, lab in xt:
            xx = px(v)
            out.append(
                f'<line x1="{xx:.1f}" y1="{H - B}" x2="{xx:.1f}" y2="{H - B + 4}" stroke="#444"/>'
            )
            out.append(f'<text x="{xx:.1f}" y="{H - B + 15}" text-anchor="middle">{e(lab)}</text>')
        out.append(f'<rect x="{L}" y="{T}" width="{pw}" height="{ph}" fill="none" stroke="#666"/>')
        out.append(
            f'<text x="{L + pw / 2}" y="{H - 8}" text-anchor="middle" font-size="11">'
            f"{e(self.xlabel)}</text>"
        )
        out.append(
            f'<text x="13" y="{T + ph / 2}" text-anchor="middle" font-size="11" '
            f'transform="rotate(-90 13 {T + ph / 2})">{e(self.ylabel)}</text>'
        )
        clip = f' clip-path="url(#c{uid})"'
        if self.wedge:
            xc, yc, s_lo, s_hi, _ = self.wedge
            xa, xb = 10.0**x0, 10.0**x1
            out.append(_wedge(px, py, xc, yc, s_lo, s_hi, xa, xb, clip))
        for y, _, col in self.hlines:
            if _ok(y, True):
                out.append(
                    f'<line x1="{L}" y1="{py(y):.1f}" x2="{W - R}" y2="{py(y):.1f}" '
                    f'stroke="{col}" stroke-width="1.4" stroke-dasharray="1 3"/>'
                )
        for s in self.series:
            ok = [(x, y) for x, y in zip(s.xs, s.ys, strict=False) if _ok(x, logx) and _ok(y, True)]
            if not ok:
                continue
            path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in ok)
            if s.style in ("fit", "curve", "guide"):
                dash = {"fit": "5 3", "curve": "2 2", "guide": "3 3"}[s.style]
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                    f'stroke-width="1.6" stroke-dasharray="{dash}"{clip}/>'
                )
                continue
            if s.style == "line" and len(ok) > 1:
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{s.color}" '
                    f'stroke-width="1.5"{clip}/>'
                )
            if s.style == "points" or len(ok) <= 60:
                r = 3.2 if s.style == "points" else 2.2
                out.extend(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="{r}" fill="{s.color}"/>'
                    for x, y in ok
                )
        out.append("</svg>")
        return "".join(out)


def _ok(v: float, positive: bool) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return math.isfinite(f) and (f > 0 or not positive)


def _clamp_py(py: Callable[[float], float], y: float) -> float:
    return py(min(max(y, 1e-300), 1e300))


def _wedge(
    px: Callable[[float], float],
    py: Callable[[float], float],
    xc: float,
    yc: float,
    s_lo: float,
    s_hi: float,
    xa: float,
    xb: float,
    clip: str,
) -> str:
    """The double cone of lines through ``(xc, yc)`` with slopes in ``[s_lo, s_hi]`` (log-log)."""
    c = f"{px(xc):.1f},{py(yc):.1f}"

    def at(s: float, x: float) -> str:
        return f"{px(x):.1f},{_clamp_py(py, yc * (x / xc) ** s):.1f}"

    return (
        f'<polygon points="{c} {at(s_lo, xb)} {at(s_hi, xb)}" fill="#16a34a" '
        f'fill-opacity="0.16"{clip}/>'
        f'<polygon points="{c} {at(s_lo, xa)} {at(s_hi, xa)}" fill="#16a34a" '
        f'fill-opacity="0.16"{clip}/>'
    )
