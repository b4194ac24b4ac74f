"""The report's plots, drawn by matplotlib's SVG backend and inlined into the HTML page.

What is drawn (evidence conventions: :mod:`mforacle.report.summary`):

- a **rate** dataset (numeric ladder): the errors against the ladder, log–log, each fitted power
  law ``exp(intercept)·x^slope`` (dashed; dotted with a ``D/M`` correction term
  ``exp(intercept + slope·log x + D/x)``), the slopes a verdict accepts as a green wedge through
  the fitted centre (``relation "in"``) or a grey guide (a one-sided slope bound), and a red
  dotted line at the bound of a verdict whose figure is one of the plotted errors;
- a rate dataset whose rungs are dicts (``{"L", "M", "s"}``): the errors against the rung index,
  log y axis, rungs labelled ``L=2,M=4,s=20``;
- a **history**: the loss ``E`` (log axis) against the training time ``s`` (linear axis).

Output is deterministic for a given matplotlib version: matplotlib's default style (no user
``matplotlibrc``), a fixed ``svg.hashsalt``, no metadata (no date), text kept as ``<text>``
(``svg.fonttype = "none"``), and every ``id`` prefixed with the caller's ``id_prefix`` so that
several plots inline in one page never share an id.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from html import escape
from typing import Any

import matplotlib as mpl
import matplotlib.style
from matplotlib.axes import Axes
from matplotlib.axis import Axis, XAxis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FixedLocator,
    LogFormatterSciNotation,
    NullFormatter,
    NullLocator,
)
from matplotlib.transforms import Bbox

from .rows import finite, relation_text
from .summary import Dataset, datasets, fit_label, rung_keys, rung_label

__all__ = [
    "dataset_figure",
    "dataset_svg",
    "drawn_tick_labels",
    "figure_svg",
    "svg_history",
    "svg_loglog",
    "tick_labels_overlap",
]

BLUE, RED, ORANGE, GREY, GREEN = "#2563eb", "#dc2626", "#d97706", "#6b7280", "#16a34a"
FIT_COLORS = (RED, ORANGE, "#7c3aed", "#0891b2")
#: matplotlib settings on top of its default style (sizes in points; the figure is inches).
RC: dict[str, Any] = {
    "svg.hashsalt": "mforacle-report",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "figure.titlesize": 10.0,
    "figure.titleweight": "bold",
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8.0,
    "axes.edgecolor": "#666666",
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.4,
    "lines.markersize": 4.5,
}
# Fixed layout, in inches (no layout engine: it would triple the time per plot): the title, one
# legend line per labelled artist, then the axes with room for tick labels and axis labels.
WIDTH_IN, HEIGHT_IN = 5.0, 3.2  # without the legend
LEGEND_LINE_IN, TITLE_IN = 0.15, 0.3
LEFT_IN, RIGHT_IN, BOTTOM_IN, TOP_GAP_IN = 0.9, 0.3, 0.5, 0.1
TICK_LINE_IN = 0.15  # one more line of an x tick label
MOST_CURVE_POINTS = 60  # a history with more points is drawn as a line without markers
_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


# --- figures -------------------------------------------------------------------------------


def sci_text(v: float, plain: bool = True) -> str:
    """A log-axis label in plain text: ``0.05``, ``200`` (``plain`` and 1e-3 <= |v| < 1e4), else
    ``10⁻⁸`` or ``2×10⁻¹²`` (no mathtext to parse; the SVG holds readable ``<text>``)."""
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    if plain and 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    k = math.floor(math.log10(abs(v)) + 1e-9)
    m = float(f"{v / 10.0**k:.3g}")
    power = "10" + str(k).translate(_SUP)
    return power if m == 1 else f"{m:g}×{power}"


class _LogFormatter(LogFormatterSciNotation):
    """matplotlib's choice of which log ticks to label, with :func:`sci_text` labels (plain
    decimals only when the whole axis lies within 1e-3 .. 1e4, so that one axis uses one
    notation)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):
            return ""
        lo, hi = sorted(self.axis.get_view_interval()) if self.axis is not None else (x, x)
        return sci_text(x, plain=1e-3 <= lo and hi < 1e4)


def dataset_figure(ds: Dataset) -> Figure | None:
    """The matplotlib :class:`~matplotlib.figure.Figure` of a dataset, ``None`` when nothing in
    it is plottable (no finite positive error). Call inside :func:`_style` for the report's look;
    :func:`dataset_svg` does.

    Raises ``TypeError``/``ValueError``/``OverflowError`` on evidence that is not numbers where
    numbers are due (:func:`dataset_svg` turns those into "no plot").
    """
    if ds.kind == "history":
        return _history_figure(ds)
    if all(finite(v) is not None for v in ds.x):
        return _rate_figure(ds)
    return _category_figure(ds)


def _new_figure(ds: Dataset, n_legend: int, x_label_lines: int = 1) -> tuple[Figure, Axes]:
    extra = TICK_LINE_IN * (x_label_lines - 1)  # room for multi-line x tick labels
    h = HEIGHT_IN + LEGEND_LINE_IN * n_legend + extra
    fig = Figure(figsize=(WIDTH_IN, h))
    FigureCanvasAgg(fig)  # measures the tick labels (the SVG is written by savefig)
    top = TITLE_IN + LEGEND_LINE_IN * n_legend + TOP_GAP_IN
    bottom = BOTTOM_IN + extra
    ax = fig.add_axes(
        (
            LEFT_IN / WIDTH_IN,
            bottom / h,
            1 - (LEFT_IN + RIGHT_IN) / WIDTH_IN,
            1 - (bottom + top) / h,
        )
    )
    fig.suptitle(", ".join(ds.claims) + f" — {ds.status}", y=1 - 0.06 / h, va="top")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_LogFormatter())
    ax.yaxis.set_minor_formatter(_LogFormatter(labelOnlyBase=False))
    ax.set_ylabel(ds.ylabel)
    return fig, ax


def _finish(fig: Figure, ax: Axes) -> Figure:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        h = fig.get_figheight()
        fig.legend(
            handles,
            labels,
            loc="upper left",
            bbox_to_anchor=(LEFT_IN / WIDTH_IN, 1 - TITLE_IN / h),
            frameon=False,
            borderaxespad=0,
            borderpad=0,
            labelspacing=0.3,
            handlelength=2.4,
        )
    return fig


def _bound_lines(ax: Axes, ds: Dataset, ys: Sequence[float]) -> int:
    """A horizontal line at the bound of each verdict whose figure is one of the plotted ``ys``
    (C4: the last loss ``<= ε``; C5: ``min E >=`` the floor). Returns how many were drawn."""
    seen: set[float] = set()
    for r in ds.rows:
        f, b = finite(r.get("figure")), finite(r.get("bound"))
        if f is None or b is None or b <= 0 or r.get("relation") not in ("<=", ">="):
            continue
        if f in ys and b not in seen:
            seen.add(b)
            label = f"{r['claim']} bound: {relation_text(r['relation'], b)}"
            ax.axhline(b, color=RED, linewidth=1.3, linestyle=(0, (1, 2.5)), label=label)
    return len(seen)


def _n_bound_lines(ds: Dataset, ys: Sequence[float]) -> int:
    bounds = set()
    for r in ds.rows:
        f, b = finite(r.get("figure")), finite(r.get("bound"))
        if f is not None and b is not None and b > 0 and r.get("relation") in ("<=", ">="):
            if f in ys:
                bounds.add(b)
    return len(bounds)


def _history_figure(ds: Dataset) -> Figure | None:
    pts = [
        (x, y)
        for x, y in zip(map(finite, ds.x), map(finite, ds.y), strict=True)
        if x is not None and y is not None and y > 0
    ]
    if not pts:
        return None
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    fig, ax = _new_figure(ds, _n_bound_lines(ds, ys))
    marker = "o" if len(pts) <= MOST_CURVE_POINTS else ""
    ax.plot(xs, ys, color=BLUE, marker=marker, markersize=3.5)
    ax.set_xlabel("training time s")
    _bound_lines(ax, ds, ys)
    return _finish(fig, ax)


def _category_figure(ds: Dataset) -> Figure | None:
    pts = [(float(i), y) for i, y in enumerate(map(finite, ds.y)) if y is not None and y > 0]
    if not pts:
        return None
    ys = [y for _, y in pts]
    labels = [rung_label(r).replace(",", "\n") for r in ds.x]  # L=2 / M=4 / s=20, stacked
    lines = max(label.count("\n") + 1 for label in labels)
    fig, ax = _new_figure(ds, _n_bound_lines(ds, ys), lines)
    ax.plot([x for x, _ in pts], ys, color=BLUE, marker="o")
    ax.set_xlabel(f"{ds.x_name} ({', '.join(rung_keys(ds.x))})")
    ax.set_xlim(-0.5, len(ds.x) - 0.5)
    ax.xaxis.set_minor_locator(NullLocator())
    _bound_lines(ax, ds, ys)
    _finish(fig, ax)
    _thin_ticks(fig, ax, [float(i) for i in range(len(ds.x))], labels)
    return fig


def _ladder_labels(values: list[float]) -> list[str] | None:
    """Tick labels for a ladder: integers below 1e5 as themselves, powers of two as ``2⁻⁸``, a
    short ladder (at most 8) of other values to 2 digits; ``None``: let matplotlib choose."""
    if all(v == int(v) and v < 1e5 for v in values):
        return [str(int(v)) for v in values]
    ks = [math.log2(v) for v in values]
    if all(abs(k - round(k)) < 1e-9 for k in ks):
        return ["2" + str(round(k)).translate(_SUP) for k in ks]
    if len(values) <= 8:
        return [sci_text(float(f"{v:.2g}")) for v in values]
    return None


def _rate_figure(ds: Dataset) -> Figure | None:
    xs_all = [float(v) for v in ds.x]
    pts = [
        (x, y)
        for x, y in zip(xs_all, map(finite, ds.y), strict=True)
        if y is not None and x > 0 and y > 0
    ]
    if not pts:
        return None
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    lo, hi = min(xs), max(xs)
    xc = math.exp(sum(math.log(x) for x in xs) / len(xs))  # the fits' centre (log-mean)
    fits: list[tuple[float, float, float | None, dict[str, Any]]] = []
    for fit in ds.fits:
        slope, intercept = finite(fit.get("slope")), finite(fit.get("intercept"))
        if slope is not None and intercept is not None:
            fits.append((slope, intercept, finite(fit.get("correction_D")), fit))
    # the verdicts on each fitted slope: a wedge of accepted slopes, or a one-sided guide
    wedge: tuple[float, float, float, str] | None = None
    guides: list[tuple[float, float, str]] = []
    for s, c, D, _ in fits:
        if D is not None:
            continue
        for r in ds.rows:
            figure = finite(r.get("figure"))
            if figure is None or abs(figure - s) > 1e-9 * max(1.0, abs(s)):
                continue
            b: Any = r.get("bound")
            rel = r.get("relation")
            yc = math.exp(c + s * math.log(xc))
            if rel == "in" and isinstance(b, list) and len(b) == 2 and wedge is None:
                label = f"accepted slopes {relation_text('in', b)} ({r['claim']})"
                wedge = (yc, float(b[0]), float(b[1]), label)
            elif rel in ("<=", ">=") and finite(b) is not None:
                guides.append((yc, float(b), f"slope bound {relation_text(rel, b)} ({r['claim']})"))
    n_legend = len(fits) + (wedge is not None) + len(guides) + _n_bound_lines(ds, ys)
    fig, ax = _new_figure(ds, n_legend)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(_LogFormatter())
    ax.set_xlabel(ds.x_name)
    ax.plot(xs, ys, linestyle="none", marker="o", color=BLUE, zorder=3)
    colors = iter(FIT_COLORS)
    for s, c, D, fit in fits:
        col = next(colors, GREY)
        if D is not None:
            grid = [lo * (hi / lo) ** (i / 40) for i in range(41)]
            curve = [math.exp(c + s * math.log(x) + D / x) for x in grid]
            ax.plot(grid, curve, color=col, linestyle=(0, (1.5, 1.5)), label=fit_label(fit))
        else:
            ends = [lo, hi]
            line = [math.exp(c + s * math.log(x)) for x in ends]
            ax.plot(ends, line, color=col, linestyle=(0, (5, 3)), label=fit_label(fit))
    _bound_lines(ax, ds, ys)
    # the wedge and the guides span the whole axis: freeze the limits the data chose
    ax.set_xlim(*ax.get_xlim())
    ax.set_ylim(*ax.get_ylim())
    xa, xb = ax.get_xlim()
    if wedge is not None:
        yc, s_lo, s_hi, label = wedge
        for x in (xa, xb):
            ya, yb = (_clamped(yc * (x / xc) ** s) for s in (s_lo, s_hi))
            ax.fill(
                [xc, x, x],
                [yc, ya, yb],
                color=GREEN,
                alpha=0.16,
                linewidth=0,
                label=label if x == xa else None,
            )
    for yc, b, label in guides:
        ax.plot(
            [xa, xb],
            [_clamped(yc * (x / xc) ** b) for x in (xa, xb)],
            color=GREY,
            linestyle=(0, (3, 3)),
            linewidth=1.1,
            label=label,
        )
    _finish(fig, ax)
    ladder = sorted({x for x in xs_all if x > 0})
    ax.xaxis.set_minor_locator(FixedLocator(ladder))  # a small tick at every rung
    ax.xaxis.set_minor_formatter(NullFormatter())
    labels = _ladder_labels(ladder)
    if labels is not None:
        _thin_ticks(fig, ax, ladder, labels)
    return fig


def _clamped(y: float) -> float:
    return min(max(y, 1e-300), 1e300)


# --- tick labels that never overlap ---------------------------------------------------------


def drawn_tick_labels(fig: Figure, axis: Axis) -> list[tuple[str, Bbox]]:
    """The tick labels of ``axis`` that a drawing of ``fig`` shows, with their extents in pixels:
    non-empty, visible, at a tick inside the axes (matplotlib keeps labels of ticks outside the
    view, but does not draw them)."""
    canvas = fig.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = canvas.get_renderer()
    frame = axis.axes.get_window_extent(renderer)
    horizontal = isinstance(axis, XAxis)
    lo, hi = (frame.x0, frame.x1) if horizontal else (frame.y0, frame.y1)
    out = []
    for t in axis.get_ticklabels(which="both"):
        if not (t.get_visible() and t.get_text()):
            continue
        box = t.get_window_extent(renderer)
        centre = (box.x0 + box.x1) / 2 if horizontal else (box.y0 + box.y1) / 2
        if lo - 1 <= centre <= hi + 1:
            out.append((t.get_text(), box))
    return out


def tick_labels_overlap(fig: Figure, ax: Axes, pad: float = 2.0) -> bool:
    """Whether any two drawn tick labels of ``ax`` (x axis among themselves, y axis among
    themselves) come closer than ``pad`` pixels, as laid out by matplotlib for ``fig``."""
    for axis in (ax.xaxis, ax.yaxis):
        boxes = [box for _, box in drawn_tick_labels(fig, axis)]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                if (
                    a.x0 - pad < b.x1
                    and b.x0 - pad < a.x1
                    and a.y0 - pad < b.y1
                    and b.y0 - pad < a.y1
                ):
                    return True
    return False


def _labels_fit(fig: Figure, ax: Axes) -> bool:
    """No two tick labels overlap, and every x tick label lies inside the figure."""
    if tick_labels_overlap(fig, ax):
        return False
    width = fig.get_figwidth() * fig.dpi
    return all(0 <= box.x0 and box.x1 <= width for _, box in drawn_tick_labels(fig, ax.xaxis))


def _thin_ticks(fig: Figure, ax: Axes, values: list[float], labels: list[str]) -> None:
    """Label every ``k``-th of ``values`` (counted from the largest), the least ``k`` whose labels
    fit (:func:`_labels_fit`); if none does, the largest alone, rotated."""
    n = len(values)
    for step in range(1, n + 1):
        keep = list(range(n - 1, -1, -step))[::-1]
        ax.xaxis.set_major_locator(FixedLocator([values[i] for i in keep]))
        ax.set_xticklabels([labels[i] for i in keep])
        if _labels_fit(fig, ax):
            return
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")


# --- SVG -----------------------------------------------------------------------------------


class _style:
    """Context: matplotlib's default style plus :data:`RC`, whatever the user's rc says."""

    def __enter__(self) -> None:
        self._ctx = mpl.rc_context()
        self._ctx.__enter__()
        matplotlib.style.use(["default", RC])

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(None, None, None)


_ID = re.compile(r'\bid="([^"]+)"')


def _inline(svg: str, id_prefix: str, title: str) -> str:
    """matplotlib's SVG file as an element to inline: no XML prolog, sized by the page (viewBox
    only), an accessible name, whitespace between elements trimmed, ids prefixed."""
    start = svg.index("<svg")
    head_end = svg.index(">", start)
    head, body = svg[start : head_end + 1], svg[head_end + 1 :]
    m = re.search(r'viewBox="([^"]+)"', head)
    if m is None:
        raise ValueError("matplotlib's SVG has no viewBox")
    root = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'version="1.1" viewBox="{m.group(1)}" class="plot" role="img" '
        f'aria-label="{escape(title)}">'
    )
    body = re.sub(r"\n\s+", "\n", body)
    for name in sorted(set(_ID.findall(body)), key=len, reverse=True):
        new = f"{id_prefix}-{name}"
        body = body.replace(f'id="{name}"', f'id="{new}"')
        body = body.replace(f"url(#{name})", f"url(#{new})")
        body = body.replace(f'href="#{name}"', f'href="#{new}"')
    return root + body.strip()


def _render(fig: Figure, id_prefix: str, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(
        buf,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
    )
    return _inline(buf.getvalue(), id_prefix, title)


def dataset_svg(ds: Dataset, id_prefix: str = "plot", title: str | None = None) -> str:
    """One ``<svg>`` element for the dataset (to inline in HTML), or ``""`` if nothing in it is
    plottable or its evidence is malformed.

    ``id_prefix`` (letters, digits, ``-``) prefixes every id in the SVG: give each plot on a page
    its own. ``title`` replaces the default title ``claims — status``.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", id_prefix):
        raise ValueError(f"id_prefix {id_prefix!r}: expected a letter, then letters/digits/-")
    try:
        with _style():
            fig = dataset_figure(ds)
            if fig is None:
                return ""
            if title is not None:
                fig.suptitle(title, y=1 - 0.06 / fig.get_figheight(), va="top")
            return _render(fig, id_prefix, fig.get_suptitle())
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return ""


def svg_loglog(
    ladder: list[Any],
    errors: list[Any],
    fit: dict[str, Any] | None = None,
    *,
    ladder_name: str = "L",
    title: str = "",
    id_prefix: str = "plot",
) -> str:
    """Convergence plot: ``errors`` vs ``ladder`` (equal lengths), log–log, with the fitted
    ``exp(intercept)·x^slope`` if ``fit`` is given; ``""`` if nothing is plottable."""
    ds = Dataset("rate", "", ladder_name=ladder_name, x=list(ladder), y=list(errors))
    if fit:
        ds.fits.append(fit)
    ds.rows.append(
        {"id": title or "plot", "claim": title or f"error vs {ladder_name}", "status": "pass"}
    )
    return dataset_svg(ds, id_prefix, title or None)


def svg_history(
    s: list[Any],
    loss: list[Any],
    *,
    title: str = "loss vs training time s",
    id_prefix: str = "plot",
) -> str:
    """Loss ``E`` (log axis) against training time ``s`` (linear axis), equal lengths."""
    ds = Dataset("history", "", ladder_name="s", x=list(s), y=list(loss))
    ds.rows.append({"id": title, "claim": title, "status": "pass"})
    return dataset_svg(ds, id_prefix, title)


def figure_svg(evidence: dict[str, Any], title: str = "", id_prefix: str = "plot") -> str:
    """The plot one verdict's evidence calls for (rate or history), or ``""``."""
    name = title or "check"
    row = {"id": name, "claim": name, "status": "pass", "evidence": evidence}
    found = datasets([row])
    return dataset_svg(found[0], id_prefix, title or None) if found else ""
