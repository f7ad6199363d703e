"""Coordinator dashboard: platform totals, the matchmaking funnel and its breakdowns, CSV export."""

from __future__ import annotations

from flask import Response, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..access import STAFF, roles_required
from ..domain import stats
from ..domain.errors import ValidationError, localize
from ..matching.backfill import backfill_status
from . import bp, charts

STAGE_LABELS = {
    "needs_posted": _l("Needs posted"),
    "needs_proposed": _l("Needs with proposals"),
    "needs_connected": _l("Needs connected"),
    "needs_intent": _l("Needs with an intent"),
    "needs_contract": _l("Needs with a contract"),
    "needs_completed": _l("Needs completed"),
}
FIGURE_LABELS = {
    "contract_value_wan": _l("Contract value (10,000 CNY)"),
    "days_to_first_proposal": _l("Median days to first proposal"),
    "days_to_connection": _l("Median days to connection"),
}
FIGURES = tuple(FIGURE_LABELS)
BREAKDOWN_TITLES = {
    "month": _l("By month"),
    "industry": _l("By industry"),
    "region": _l("By region"),
}
GROUP_HEADERS = {
    "month": _l("Month"),
    "industry": _l("Industry"),
    "region": _l("Region"),
}
SPECIAL_GROUPS = {
    ("industry", stats.UNCLASSIFIED): _l("Unclassified"),
    ("region", stats.UNKNOWN): _l("Unknown region"),
}
FIELD_NAMES = {"from": _l("From"), "to": _l("To")}


def _filters() -> dict[str, str]:
    return {name: request.args.get(name, "").strip()[:40] for name in ("from", "to") if request.args.get(name, "").strip()}


def _period(filters: dict[str, str]):
    return stats.parse_period(filters.get("from"), filters.get("to"))


def _labelled(report: dict) -> dict:
    """Display names for the groups the service marks ``unclassified`` / ``unknown``."""
    for breakdown in stats.BREAKDOWNS:
        for row in report[f"by_{breakdown}"]:
            special = SPECIAL_GROUPS.get((breakdown, row["key"]))
            if special is not None:
                row["label"] = str(special)
    return report


def _period_error(exc: ValidationError) -> str:
    fields = ", ".join(str(FIELD_NAMES.get(name, name)) for name in exc.fields)
    return _("Please enter dates as YYYY-MM-DD, with the start not after the end (%(fields)s).", fields=fields)


def _group_cells(breakdown: str, row: dict) -> list[str]:
    if breakdown != "industry":
        return [row["label"]]
    return ["" if row["key"] == stats.UNCLASSIFIED else row["key"], row["label"]]


@bp.route("/")
@roles_required(*STAFF)
def index():
    """The dashboard; a bad period is shown beside its field, over the all-time figures (400)."""
    filters = _filters()
    error, field_errors = None, {}
    try:
        start, end = _period(filters)
    except ValidationError as exc:
        start = end = None
        error = _period_error(exc)
        field_errors = {name: localize(problem) for name, problem in exc.fields.items()}
    report = _labelled(stats.funnel(start, end, locale=str(get_locale())))
    breakdowns = [
        {"name": name, "title": BREAKDOWN_TITLES[name], "group_header": GROUP_HEADERS[name],
         "rows": report[f"by_{name}"], "bars": charts.breakdown_bars(report[f"by_{name}"]),
         "export_url": url_for("dashboard.export_csv", breakdown=name, **({} if error else filters))}
        for name in stats.BREAKDOWNS
    ]
    return render_template(
        "dashboard/index.html", filters=filters, error=error, field_errors=field_errors, report=report,
        totals=stats.summary(), stage_labels=STAGE_LABELS, figure_labels=FIGURE_LABELS, figures=FIGURES, breakdowns=breakdowns,
        backfill=backfill_status(),
        funnel_bars=charts.funnel_bars(report["overall"], report["stages"], STAGE_LABELS),
    ), 400 if error else 200


@bp.route("/export.csv")
@roles_required(*STAFF)
def export_csv():
    filters = _filters()
    breakdown = request.args.get("breakdown", "month")
    start, end = _period(filters)  # a ValidationError becomes a 400 page
    report = _labelled(stats.funnel(start, end, locale=str(get_locale())))
    rows = stats.breakdown_rows(report, breakdown)
    group_columns = [_("Industry code"), _("Industry")] if breakdown == "industry" else [str(GROUP_HEADERS[breakdown])]
    header = group_columns + [str(STAGE_LABELS[stage]) for stage in report["stages"]] + [str(FIGURE_LABELS[f]) for f in FIGURES]
    body = [
        _group_cells(breakdown, row) + [row[stage] for stage in report["stages"]] + ["" if row[f] is None else row[f] for f in FIGURES]
        for row in rows
    ]
    total = report["overall"]
    body.append([_("Total")] + ([""] if breakdown == "industry" else []) + [total[stage] for stage in report["stages"]]
                + ["" if total[f] is None else total[f] for f in FIGURES])
    filename = f"funnel-{breakdown}-{start.isoformat() if start else 'all'}-{end.isoformat() if end else 'all'}.csv"
    return Response(
        stats.to_csv(header, body).encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
