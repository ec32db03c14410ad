"""Formatting for the templates: sanitized HTML, sizes, numbers, local dates, the chart."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import nh3
from markupsafe import Markup, escape
from zoneinfo import ZoneInfo
from .labels import value_label, WORDS


# --- sanitizing and formatting --------------------------------------------------------------

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "abbr": {"title"},
}


def sanitize_html(html: str | None) -> Markup:
    """Message HTML reduced to an allow-list: no scripts, styles, event handlers, images (remote
    images track readers), forms or frames; links only to http(s) and mailto, opened without a
    referrer."""
    if not html:
        return Markup("")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(cleaned)


def human_size(size: int | None, language: str = "fr") -> str:
    """1536 -> "1,5 Ko" (fr) or "1.5 KB" (en)."""
    if size is None:
        return ""
    units = ["o", "Ko", "Mo", "Go"] if language == "fr" else ["B", "KB", "MB", "GB"]
    value = float(size)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            text = f"{value:.0f}" if unit == units[0] else f"{value:.1f}"
            return (text.replace(".", ",") if language == "fr" else text) + "\u00a0" + unit
        value /= 1024
    return str(size)


def number(value, language: str = "fr") -> str:
    """41.0 -> "41", 27.5 -> "27,5" (fr); None -> "—"."""
    if value is None:
        return "—"
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text.replace(".", ",") if language == "fr" else text


def percent(value, language: str = "fr") -> str:
    """0.6579 -> "66 %" (fr, with a narrow no-break space) or "66%" (en), by Babel; None -> "—"."""
    if value is None:
        return "—"
    from babel.numbers import format_percent

    return format_percent(value, locale=language)


def highlight(excerpt: str | None) -> Markup:
    """An FTS snippet (matches between \\x02 and \\x03) as escaped HTML with <mark>."""
    text = str(escape(excerpt or ""))
    return Markup(text.replace("\x02", "<mark>").replace("\x03", "</mark>"))


_QUOTE_START = re.compile(
    r"^(>|Le .+ a écrit\s*:$|On .+ wrote\s*:$|-+ ?(Original Message|Message d'origine))"
)


def split_quoted(body: str | None) -> tuple[str, str]:
    """A message text split into what its author wrote and the quoted part that follows
    ("> ..." lines, "Le ... a écrit :", "On ... wrote:", "----- Original Message")."""
    lines = (body or "").replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if index > 0 and _QUOTE_START.match(line.strip()):
            return "\n".join(lines[:index]).rstrip(), "\n".join(lines[index:]).strip()
    return (body or "").rstrip(), ""


def _word(key: str, language: str) -> str:
    pair = WORDS.get(key)
    return (pair[0] if language == "fr" else pair[1]) if pair else key


def _value(value: Any, language: str) -> str:
    return value_label(value, language)


def json_list(value: str | None) -> str:
    """'["a.fr", "b.fr"]' -> "a.fr, b.fr" (the text itself when it is not a JSON list)."""
    try:
        items = json.loads(value or "[]")
    except ValueError:
        return str(value)
    return ", ".join(str(i) for i in items) if isinstance(items, list) else str(value)


def deadline_label(value: str | None, language: str) -> str:
    """"2 months" -> "2 mois", "15 working days" -> "15 jours ouvrés" in French."""
    if not value:
        return "—"
    if language != "fr":
        return value
    return (value.replace("working days", "jours ouvrés").replace("working day", "jour ouvré")
            .replace("months", "mois").replace("month", "mois").replace("days", "jours")
            .replace("day", "jour"))


def local_date(value: str | None, language: str, with_time: bool = True, tz: str | None = None) -> str:
    """"2024-03-01T09:30:00+00:00" -> "01/03/2024 10:30" (fr, in ``tz``, the coalition's time
    zone) or "2024-03-01 10:30" (en). Text that is not an ISO date is shown as it is."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if tz and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(tz))
    shown = moment.strftime("%d/%m/%Y" if language == "fr" else "%Y-%m-%d")
    if with_time and "T" in str(value):
        shown += moment.strftime(" %H:%M")
    return shown


# --- charts ---------------------------------------------------------------------------------


def days_to_reply_svg(rows: list[dict], language: str, deadline_days: float = 61) -> Markup:
    """A horizontal bar chart, one bar per correspondent: the median days to the first reply,
    with a whisker to the 90th percentile and a dashed line at the legal delay. Server-side
    SVG: no script, so it works under the strict CSP, prints, and needs no network."""
    rows = [r for r in rows if r.get("median_days") is not None]
    if not rows:
        return Markup("")
    label_w, bar_w, row_h, top = 210, 380, 26, 28
    largest = max([deadline_days] + [r.get("p90_days") or r["median_days"] for r in rows])
    scale = bar_w / (largest * 1.08)
    height = top + row_h * len(rows) + 8
    width = label_w + bar_w + 70
    out = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(_word("days_to_reply_chart", language))}</title>',
    ]
    step = 30 if largest <= 240 else 90
    for tick in range(0, int(largest * 1.08) + 1, step):
        x = label_w + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#e3e3e3"/>')
        out.append(f'<text x="{x:.1f}" y="{top - 10}" font-size="11" text-anchor="middle" fill="#666">{tick}</text>')
    for index, row in enumerate(rows):
        y = top + index * row_h
        name = row.get("short_name") or row.get("correspondent") or "?"
        median, p90 = row["median_days"], row.get("p90_days")
        colour = "#c0392b" if median > deadline_days else "#2e6da4"
        out.append(
            f'<text x="{label_w - 8}" y="{y + row_h / 2 + 4:.1f}" font-size="13" text-anchor="end" '
            f'fill="#222">{escape(name)}</text>'
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 5}" width="{max(median * scale, 1):.1f}" height="{row_h - 10}" '
            f'fill="{colour}"><title>{escape(name)}: {number(median, language)}</title></rect>'
        )
        if p90 is not None and p90 > median:
            x1, x2 = label_w + median * scale, label_w + p90 * scale
            mid = y + row_h / 2
            out.append(f'<line x1="{x1:.1f}" y1="{mid:.1f}" x2="{x2:.1f}" y2="{mid:.1f}" stroke="#555"/>')
            out.append(f'<line x1="{x2:.1f}" y1="{mid - 5:.1f}" x2="{x2:.1f}" y2="{mid + 5:.1f}" stroke="#555"/>')
        label_x = label_w + max(median, p90 or 0) * scale + 6
        out.append(
            f'<text x="{label_x:.1f}" y="{y + row_h / 2 + 4:.1f}" font-size="12" fill="#333">{number(median, language)}</text>'
        )
    x = label_w + deadline_days * scale
    out.append(
        f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" stroke="#c0392b" '
        f'stroke-dasharray="4 3"/>'
    )
    out.append("</svg>")
    return Markup("".join(out))


def local_day(value: str | None, tz: str | None) -> str:
    """"2024-03-01T23:30:00+00:00" -> "2024-03-02" in ``tz`` (the coalition's time zone); "" for none."""
    if not value:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment.astimezone(ZoneInfo(tz)) if tz and moment.tzinfo else moment).date().isoformat()
