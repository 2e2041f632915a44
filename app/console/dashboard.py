"""The operators' dashboard: activity, sign-ups, content and moderation health as charts.

Each chart is drawn on the server by pygal as an SVG image (`/console/dashboard/charts/<name>.svg`,
admin only like the page), shown with `<img>` and followed by its numbers in a table. The page
and the images build their data with the same functions (`CHARTS`), so the two always agree.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pygal
from flask import Response, abort, request, url_for
from flask_babel import gettext as _
from pygal.style import Style

from app.admin import services as admin_services
from app.console import dashboard_data as data
from app.console.blueprint import bp, console_user, page, staff_page
from app.core.models import utcnow

#: pygal puts a <style> in each SVG: the image's own policy allows that and nothing else.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
CHART_WIDTH, CHART_HEIGHT = 640, 320
LEGEND_COLUMNS = 5

STYLE = Style(
    font_family='system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", '
    "sans-serif",
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2328",
    foreground_strong="#1f2328",
    foreground_subtle="#59636e",
    colors=("#ff2442", "#0969da", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#59636e"),
    title_font_size=17,
    legend_font_size=13,
    label_font_size=12,
    major_label_font_size=12,
    no_data_font_size=24,
)


@dataclass
class Series:
    title: str
    values: list[Any]
    dashed: bool = False
    percent: bool = False
    drawn: bool = True  # False: a column of the table only (a count beside a rate)


@dataclass
class Chart:
    """One chart's data: drawn as an SVG and listed as a table below it."""

    name: str
    title: str
    kind: str  # line | bar | stacked
    label_title: str  # the table's first column: day, week, severity
    labels: list[str]
    series: list[Series]
    short_labels: list[str] = field(default_factory=list)

    @property
    def percent(self) -> bool:
        return any(s.percent for s in self.series if s.drawn)

    def rows(self) -> list[tuple[str, list[str]]]:
        return [
            (label, [_format(s.values[i], s.percent) for s in self.series])
            for i, label in enumerate(self.labels)
        ]


def _format(value: Any, percent: bool) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _short(day: date) -> str:
    return day.strftime("%m-%d")


def activity_chart(days: int, today: date) -> Chart:
    rows = data.activity(days, today)
    return Chart(
        "activity",
        _("Daily and weekly active users"),
        "line",
        _("Day (UTC)"),
        [r.day.isoformat() for r in rows],
        [
            Series(_("Daily active users"), [r.dau for r in rows]),
            Series(_("Weekly active users"), [r.wau for r in rows]),
        ],
        short_labels=[_short(r.day) for r in rows],
    )


def active_rate_chart(days: int, today: date) -> Chart:
    rows = data.weekly_active_rate(days, today)
    return Chart(
        "active-rate",
        _("Weekly active rate and the health line (20%)"),
        "line",
        _("Day (UTC)"),
        [r.day.isoformat() for r in rows],
        [
            Series(_("Weekly active rate"), [r.rate for r in rows], percent=True),
            Series(
                _("Health line (20%)"),
                [data.HEALTH_LINE for _row in rows],
                dashed=True,
                percent=True,
            ),
            Series(_("Members who spoke in the week"), [r.contributors for r in rows], drawn=False),
            Series(_("Members"), [r.members for r in rows], drawn=False),
        ],
        short_labels=[_short(r.day) for r in rows],
    )


def signups_chart(days: int, today: date) -> Chart:
    span, by_source = data.signups(days, today)
    return Chart(
        "signups",
        _("Sign-ups by source"),
        "stacked",
        _("Day (UTC)"),
        [day.isoformat() for day in span],
        [
            Series(source if source is not None else _("No source"), counts)
            for source, counts in by_source.items()
        ]
        or [Series(_("Sign-ups"), [0] * len(span))],
        short_labels=[_short(day) for day in span],
    )


def content_chart(days: int, today: date) -> Chart:
    rows = data.content(days, today)
    return Chart(
        "content",
        _("Notes and comments per day"),
        "line",
        _("Day (UTC)"),
        [r.day.isoformat() for r in rows],
        [
            Series(_("Notes"), [r.notes for r in rows]),
            Series(_("Comments"), [r.comments for r in rows]),
        ],
        short_labels=[_short(r.day) for r in rows],
    )


def queue_chart(days: int, today: date) -> Chart:
    counts = data.open_cases_by_severity()
    return Chart(
        "queue",
        _("Open cases by severity"),
        "bar",
        _("Severity"),
        [str(severity) for severity in counts],
        [Series(_("Open cases"), list(counts.values()))],
    )


def decision_time_chart(days: int, today: date) -> Chart:
    rows = data.decision_times(days, today)
    return Chart(
        "decision-time",
        _("Median time to decision per week"),
        "bar",
        _("Week of (UTC)"),
        [r.week.isoformat() for r in rows],
        [
            Series(_("Median hours to decision"), [r.median_hours for r in rows]),
            Series(_("Cases decided"), [r.decisions for r in rows], drawn=False),
        ],
        short_labels=[_short(r.week) for r in rows],
    )


def reversals_chart(days: int, today: date) -> Chart:
    rows = data.reversals(days, today)
    return Chart(
        "reversals",
        _("Share of decisions reversed on appeal"),
        "bar",
        _("Week of (UTC)"),
        [r.week.isoformat() for r in rows],
        [
            Series(_("Reversed on appeal"), [r.share for r in rows], percent=True),
            Series(_("Actions taken"), [r.actions for r in rows], drawn=False),
            Series(_("Actions reversed"), [r.reversed for r in rows], drawn=False),
        ],
        short_labels=[_short(r.week) for r in rows],
    )


#: The charts, in the order the page shows them.
CHARTS: dict[str, Callable[[int, date], Chart]] = {
    "activity": activity_chart,
    "active-rate": active_rate_chart,
    "signups": signups_chart,
    "content": content_chart,
    "queue": queue_chart,
    "decision-time": decision_time_chart,
    "reversals": reversals_chart,
}


def render_svg(chart: Chart) -> str:
    """The chart as a standalone SVG document: no script (pygal's inline config is removed,
    `js=[]` loads nothing), its own <style> only."""
    kinds = {"line": pygal.Line, "bar": pygal.Bar, "stacked": pygal.StackedBar}
    labels = chart.short_labels or chart.labels
    drawn = [series for series in chart.series if series.drawn]
    every = max(1, len(labels) // 10)
    graph = kinds[chart.kind](
        js=[],
        disable_xml_declaration=True,
        title=chart.title,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        explicit_size=True,
        style=STYLE,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(LEGEND_COLUMNS, len(drawn)),
        truncate_legend=-1,
        x_label_rotation=0 if len(labels) <= 14 else 30,
        show_minor_x_labels=False,
        x_labels_major_every=every,
        margin=12,
        # pygal leaves room for one legend row only: one more line per extra row
        margin_bottom=12 + 20 * ((len(drawn) - 1) // LEGEND_COLUMNS),
        no_data_text=_("No data"),
    )
    graph.x_labels = labels
    if chart.percent:
        graph.value_formatter = lambda value: f"{value:.0%}" if value is not None else ""
        top = max([v for s in drawn for v in s.values if v is not None] or [0])
        ceiling = max(0.3, math.ceil((top + 0.01) * 10) / 10)
        graph.range = (0, ceiling)
        per = 20 if ceiling <= 0.5 else 10  # a label every 5 or every 10 points
        graph.y_labels = [step / per for step in range(round(ceiling * per) + 1)]
    dashed = set()
    for index, series in enumerate(drawn):
        graph.add(series.title, series.values, show_dots=not series.dashed)
        if series.dashed:
            dashed.add(f"serie-{index}")
    tree = graph.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if _local(child.tag) == "script":
                parent.remove(child)
    # A reference line: thick and dashed (pygal's own `stroke_style` loses to its `.reactive`
    # rule, so the line carries the style itself).
    for group in tree.iter():
        if _local(group.tag) == "g" and dashed & set(group.get("class", "").split()):
            for path in group.iter():
                if "line" in path.get("class", "").split():
                    path.set("style", "stroke-width:3;stroke-dasharray:8,5;stroke-opacity:1")
    return ET.tostring(tree, encoding="unicode")


def _local(tag: Any) -> str:
    """An element's name without its namespace ('' for comments)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _days() -> int:
    return data.clamp_days(request.args.get("days"))


@bp.route("/dashboard")
@staff_page("admin")
def dashboard() -> Response:
    days = _days()
    today = utcnow().date()
    stats = admin_services.platform_stats(console_user(), today)  # type: ignore[arg-type]
    charts = [build(days, today) for build in CHARTS.values()]
    queue = next(c for c in charts if c.name == "queue")
    tiles = [
        (_("Registered users"), str(stats["counts"]["users"])),
        (_("Notes"), str(stats["counts"]["notes"])),
        (_("Daily active users"), str(stats["health"]["dau"])),
        (_("Weekly active users"), str(stats["health"]["wau"])),
        (_("Weekly active rate"), f"{stats['health']['weekly_active_rate']:.1%}"),
        (_("Open cases"), str(sum(queue.series[0].values))),
    ]
    return page(
        "console/dashboard/index.html",
        title=_("Dashboard"),
        days=days,
        day_choices=data.DAY_CHOICES,
        today=today,
        tiles=tiles,
        health=stats["health"],
        charts=[
            (chart, url_for("console.dashboard_chart", name=chart.name, days=days))
            for chart in charts
        ],
    )


@bp.route("/dashboard/charts/<name>.svg")
@staff_page("admin")
def dashboard_chart(name: str) -> Response:
    build = CHARTS.get(name)
    if build is None:
        abort(404)
    svg = render_svg(build(_days(), utcnow().date()))
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    response.headers["Cache-Control"] = "private, no-store"
    return response
