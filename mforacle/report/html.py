"""The report as one self-contained HTML page: inline CSS and SVG plots, no script, nothing
fetched.

Every element is built by :func:`h`, which escapes each text child and attribute value unless it
is :class:`Markup` (HTML that :func:`h` built, the page's own CSS, or an SVG plot from
:mod:`mforacle.report.plots`); so text from a report (titles, reasons, commands, an
implementation's name) cannot become markup.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .plots import dataset_svg
from .rows import Row, figure_vs_bound, finite, num
from .summary import (
    Dataset,
    claim_summary,
    datasets,
    failing,
    fit_summary,
    group_counts,
    outcome,
    run_notes,
    sorted_rows,
    title_extra,
)

__all__ = ["Markup", "h", "html_page"]

SHOWN_FAILURES = 12  # failing checks listed openly; the rest in a <details>
VOID = frozenset({"br", "meta", "hr", "img", "link", "input"})


class Markup(str):
    """A string that is already HTML: :func:`h` inserts it as it is."""

    __slots__ = ()


def _text(child: Any) -> str:
    if child is None or child is False:
        return ""
    if isinstance(child, Markup):
        return child
    if isinstance(child, str | int | float):
        return escape(str(child), quote=False)
    return "".join(_text(c) for c in child)


def h(tag: str, *children: Any, **attrs: Any) -> Markup:
    """``<tag attrs>children</tag>`` with every text child and attribute value escaped.

    Children: :class:`Markup` (inserted as is), ``str``/numbers (escaped), iterables (each
    child in turn), ``None``/``False`` (nothing). Attributes: a trailing ``_`` is dropped
    (``class_=``), ``True`` gives a bare attribute, ``None``/``False`` omits it. Void elements
    (``br``, ``meta``) take no children.
    """
    parts = [tag]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = key.rstrip("_").replace("_", "-")
        parts.append(name if value is True else f'{name}="{escape(str(value), quote=True)}"')
    head = "<" + " ".join(parts) + ">"
    if tag in VOID:
        if children:
            raise ValueError(f"<{tag}> takes no children")
        return Markup(head)
    return Markup(f"{head}{_text(children)}</{tag}>")


CSS = Markup("""
*{box-sizing:border-box}
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;max-width:1260px;margin:1.2em
auto;padding:0 16px;color:#1f2937;font-size:14px;line-height:1.4}
h1{font-size:22px;margin:.2em 0}h2{font-size:17px;margin:1.4em 0 .5em;border-bottom:1px solid
#e5e7eb;padding-bottom:3px}
.badge{display:inline-block;padding:4px 14px;border-radius:6px;font-weight:bold;font-size:20px;
color:white;margin-right:12px;vertical-align:middle}.badge.ok{background:#15803d}
.badge.bad{background:#b91c1c}.headline{font-size:16px;vertical-align:middle}
.meta{color:#4b5563;font-size:12.5px;margin:.5em 0 0}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #e5e7eb;padding:3px 7px;
font-size:12.5px;vertical-align:top;text-align:left}th{background:#f9fafb}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.fb{white-space:nowrap}
.fb .em{white-space:normal;display:block;max-width:260px}
.st{font-weight:bold;white-space:nowrap}.st.pass{color:#15803d}.st.fail,.st.error{color:#b91c1c}
.st.not{color:#6b7280}tr.fail,tr.error{background:#fef2f2}tr.not{background:#f9fafb}
.top{display:grid;grid-template-columns:minmax(0,1.9fr) minmax(0,1fr);gap:22px;align-items:start}
@media (max-width:900px){.top{grid-template-columns:1fr}}
.box{border:1px solid #fecaca;background:#fef2f2;border-radius:6px;padding:8px 12px;margin:8px 0}
.box.ok{border-color:#bbf7d0;background:#f0fdf4}
code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:3px 0;background:#f3f4f6;padding:4px 6px;
border-radius:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:14px}
figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px;background:white}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#374151;padding:4px 2px 0}figcaption .v{display:block}
figcaption small{color:#6b7280}
details summary{cursor:pointer;font-size:15px;font-weight:bold;margin:1em 0 .5em}
.em{color:#4b5563;font-size:11.5px}
""")


def _cls(status: str) -> str:
    return "not" if status == "not checked" else status


def _status(status: str) -> Markup:
    return h("span", status, class_=f"st {_cls(status)}")


def _case_link(r: Row) -> Markup | None:
    cf = r.get("case_file")
    return h("a", str(cf), href=str(cf)) if cf else None


def _failure_table(rows: list[Row]) -> Markup:
    """Failing checks, one compact row each: what, figure vs bound and why, case + command."""
    head = h(
        "tr",
        h("th", "check"),
        h("th", "figure vs bound / reason"),
        h("th", "reproduce (case file, command)"),
    )
    body = [
        h(
            "tr",
            h(
                "td",
                _status(r["status"]),
                " ",
                h("code", r["id"]),
                h("br"),
                h("span", r.get("title", ""), class_="em"),
            ),
            h(
                "td",
                figure_vs_bound(r),
                [h("br"), h("i", r["reason"])] if r.get("reason") else None,
            ),
            h(
                "td",
                _case_link(r),
                h("pre", r.get("reproduce") or "(no reproduction command)"),
            ),
            class_=r["status"],
        )
        for r in rows
    ]
    return h("table", head, body)


def _caption(ds: Dataset) -> Markup:
    base = str(ds.rows[0].get("title", ""))
    out: list[Markup] = [h("b", ", ".join(ds.claims)), Markup(" — "), h("span", base)]
    if ds.kind == "rate":
        loglog = ", log–log" if not isinstance(ds.x[0], dict) else ""
        fits = "; lines: least-squares fits in logs." if ds.fits else "."
        out.append(
            h(
                "span",
                f"Plotted: {ds.ylabel} vs {ds.x_name} ({len(ds.y)} points{loglog}){fits}",
                class_="v",
            )
        )
        if any(finite(f.get("slope")) is not None for f in ds.fits):
            out.append(h("span", f"Fitted {fit_summary(ds)}.", class_="v"))
        else:
            out.append(h("span", "No fitted slope in the evidence.", class_="v"))
    else:
        ys = [v for v in map(finite, ds.y) if v is not None]
        if ys:
            out.append(
                h(
                    "span",
                    f"Plotted: loss E vs training time s ({len(ds.y)} points, log loss axis); "
                    f"E from {num(ys[0])} to {num(ys[-1])}. No fit: the claim is about the whole "
                    "history.",
                    class_="v",
                )
            )
    for r in ds.rows:
        extra = title_extra(str(r.get("title", "")), base)
        out.append(
            h(
                "span",
                _status(r["status"]),
                " ",
                h("b", str(r["claim"])),
                f": {figure_vs_bound(r)}",
                f" — {extra}" if extra else None,
                class_="v",
            )
        )
    by_digest = {str(r["case_file"]).rsplit("-", 1)[-1]: r for r in ds.rows if r.get("case_file")}
    cases = [_case_link(r) for r in by_digest.values()]  # one link per distinct case
    ref = next(
        (
            str(r["evidence"]["reference"])
            for r in ds.rows
            if isinstance((r.get("evidence") or {}).get("reference"), str)
        ),
        "",
    )
    tail: list[Any] = [f"checks {', '.join(ds.checks)}"]
    if ref:
        tail.append(f" · reference: {ref}")
    if cases:
        tail += [" · case ", [[Markup(", ") if i else None, c] for i, c in enumerate(cases)]]
    out.append(h("small", tail))
    return Markup("".join(out))


def _figures(found: list[Dataset], prefix: str) -> Markup:
    figures = []
    for i, ds in enumerate(found):
        svg = dataset_svg(ds, f"{prefix}{i + 1}")
        if svg:
            figures.append(h("figure", Markup(svg), h("figcaption", _caption(ds))))
    return h("div", figures, class_="grid")


def _claims_table(claims: list[dict[str, Any]]) -> Markup:
    head = h(
        "tr",
        [h("th", t) for t in ("claim", "title", "checks", "status", "worst figure vs bound")],
    )
    body = [
        h(
            "tr",
            h("td", h("code", c["claim"])),
            h("td", c["title"]),
            h("td", c["checks"], class_="n"),
            h("td", _status(c["status"])),
            h(
                "td",
                figure_vs_bound(c),
                [h("br"), h("span", str(c["reason"])[:90], class_="em")]
                if c["figure"] is None and c.get("reason")
                else None,
                class_="fb",
                title=c["worst"],
            ),
            class_=_cls(c["status"]),
        )
        for c in claims
    ]
    return h("table", head, body)


def _groups_table(groups: list[dict[str, Any]]) -> Markup:
    keys = ("checks", "pass", "fail", "error", "not checked")
    head = h("tr", h("th", "group"), [h("th", k) for k in keys])
    body = [
        h(
            "tr",
            h("td", g["group"]),
            [h("td", g[k], class_="n") for k in keys],
            class_="fail" if g["fail"] or g["error"] else None,
        )
        for g in groups
    ]
    return h("table", head, body)


def _all_checks(rows: list[Row]) -> Markup:
    head = h(
        "tr",
        [
            h("th", t)
            for t in ("check", "status", "figure vs bound", "error model / reason", "reproduce")
        ],
    )
    body = [
        h(
            "tr",
            h("td", h("code", r["id"]), h("br"), r.get("title", "")),
            h("td", _status(r["status"])),
            h("td", figure_vs_bound(r)),
            h(
                "td",
                h("span", r.get("error_model") or "", class_="em"),
                [h("br"), h("i", r["reason"])] if r.get("reason") else None,
            ),
            h("td", _case_link(r), h("pre", r.get("reproduce") or "")),
            class_=_cls(r["status"]),
        )
        for r in rows
    ]
    return h(
        "details",
        h("summary", f"All checks ({len(rows)})"),
        h("table", head, body),
    )


def html_page(report: dict[str, Any]) -> str:
    """One self-contained page for a report (schema :mod:`mforacle.report`): inline CSS and
    SVG, no script, no external resource.

    Sections: headline and badge, claims and check groups, not-checked rows, failures (each with
    its case file and one command; the first :data:`SHOWN_FAILURES` open), rate plots, training
    histories, and every check (folded). The derived ``claims``/``groups`` keys are used when
    present, else computed. Raises ``KeyError`` when a required key is missing.
    """
    impl = report["implementation"]
    rows: list[Row] = report["verdicts"]
    claims = report.get("claims") or claim_summary(rows)
    groups = report.get("groups") or group_counts(rows)
    s = report["summary"]
    name = str(impl.get("name"))
    word = outcome(s)
    bad = failing(report)
    skipped = [r for r in rows if r["status"] == "not checked"]
    found = datasets(rows)
    rates = [d for d in found if d.kind == "rate"]
    hists = [d for d in found if d.kind == "history"]

    header = [
        h("h1", f"mforacle conformance report — {name}"),
        h(
            "p",
            h("span", word, class_=f"badge {'ok' if s['ok'] else 'bad'}"),
            h(
                "span",
                f"{s['total']} checks: ",
                h("b", s["pass"]),
                " passed, ",
                h("b", s["fail"]),
                " failed, ",
                h("b", s["error"]),
                " errors, ",
                h("b", s["not checked"]),
                f" not checked — {len(claims)} claims, {report['duration_s']:.1f} s",
                class_="headline",
            ),
        ),
        h(
            "p",
            "implementation ",
            h("code", str(impl.get("source") or impl.get("name"))),
            f" ({impl.get('framework')}, {impl.get('dtype')}) · suite "
            f"{report['suite'].get('version')} · profile {report['profile']} · mforacle "
            f"{report['mforacle_version']} · {report['created']} · ",
            h("code", report["command"]),
            class_="meta",
        ),
        *[h("p", h("b", "note: "), n, class_="meta") for n in run_notes(report)],
    ]
    side = [
        h("h2", "Check groups"),
        _groups_table(groups),
        h(
            "div",
            h("b", f"{len(bad)} failing or errored checks"),
            " — each with its case file and one command: ",
            h("a", "Failures and errors", href="#failures"),
            class_="box",
        )
        if bad
        else h("div", "No failing or errored checks.", class_="box ok"),
    ]
    if skipped:
        side += [
            h("h2", f"Not checked ({len(skipped)})"),
            h("ul", [h("li", h("code", r["id"]), f": {r.get('reason', '')}") for r in skipped]),
        ]
    body: list[Any] = [
        header,
        h(
            "div",
            h("div", h("h2", "Claims"), _claims_table(claims)),
            h("div", side),
            class_="top",
        ),
    ]
    if bad:
        body += [
            h("h2", f"Failures and errors ({len(bad)})", id="failures"),
            _failure_table(bad[:SHOWN_FAILURES]),
        ]
        if len(bad) > SHOWN_FAILURES:
            body.append(
                h(
                    "details",
                    h(
                        "summary",
                        f"the other {len(bad) - SHOWN_FAILURES} failing or errored checks",
                    ),
                    _failure_table(bad[SHOWN_FAILURES:]),
                )
            )
    if rates:
        body += [
            h("h2", f"Rates ({len(rates)} datasets)"),
            h(
                "p",
                "Each plot is one distinct (ladder, errors) dataset with every verdict it "
                "supports. Dashed: fitted power law; dotted: fit with a D/M correction term; "
                "green wedge: slopes the verdict accepts, through the fitted centre; grey: a "
                "one-sided slope bound; red dotted: a bound on the plotted value.",
                class_="em",
            ),
            _figures(rates, "rate"),
        ]
    if hists:
        body += [h("h2", f"Training histories ({len(hists)})"), _figures(hists, "history")]
    body.append(_all_checks(sorted_rows(report)))
    head = h(
        "head",
        h("meta", charset="utf-8"),
        h("meta", name="viewport", content="width=device-width, initial-scale=1"),
        h("title", f"mforacle report — {name}: {word}"),
        h("style", CSS),
    )
    return "<!DOCTYPE html>\n" + h("html", head, h("body", body), lang="en") + "\n"
