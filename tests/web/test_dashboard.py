"""Coordinator dashboard: funnel counts and breakdowns, totals, date filter, CSV export, access."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models import Match, MatchEvent, MatchStatus, write_transaction
from tests.conftest import recorded_statements
from web.domain import stats
from web.domain.errors import ValidationError

FORMULA_REGION = '=HYPERLINK("http://evil.example","x")'
STAGES = list(stats.STAGES)


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the platform's default time zone: periods and months are its days


def at(text: str) -> datetime:
    """A wall-clock time in the platform's zone, as the UTC moment the database stores."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(UTC)


def counts(*values: int) -> dict[str, int]:
    return dict(zip(STAGES, values, strict=True))


def add_match(app, need_id: int, expert_id: int, status: str, history: tuple[str, ...] = (), **fields) -> int:
    """A match inserted directly, with MatchEvent rows for its history (oldest first)."""
    with app.app_context(), write_transaction() as session:
        match = Match(need_id=need_id, expert_id=expert_id, status=MatchStatus(status), **fields)
        session.add(match)
        session.flush()
        previous = None
        for to_status in history:
            session.add(MatchEvent(match_id=match.id, from_status=previous, to_status=to_status, actor_role="system"))
            previous = to_status
        return match.id


@pytest.fixture
def funnel_data(app, factory):
    """Five posted needs, one draft, seven matches at various stages.

    N6 2023-12-31 23:59:59  36  广东省广州市        m7 intent
    N1 2024-01-10           36  广东省茂名市        m1 completed (no events), m2 closed after intent (events), m3 proposed
    N5 2024-01-15 draft                             (never counts)
    N2 2024-01-20           —   —                   m4 expert_declined
    N3 2024-03-05           36  北京市海淀区        m5 contract, m6 closed with connected_at (no events)
    N4 2024-03-31 23:30     01  =HYPERLINK(...)     —
    """
    owner = factory.user(role="enterprise")
    experts = [factory.user(role="expert") for _ in range(4)]
    e = [x.expert_id for x in experts]
    n1 = factory.need(owner, title="需求一", created_at=at("2024-01-10T08:00:00"), industry_codes=["36", "C"],
                      region="广东省茂名市", status="matched")
    n2 = factory.need(owner, title="需求二", created_at=at("2024-01-20T08:00:00"), industry_codes=[], region="")
    n3 = factory.need(owner, title="需求三", created_at=at("2024-03-05T08:00:00"), industry_codes=["36"],
                      region="北京市海淀区", status="matched")
    n4 = factory.need(owner, title="需求四", created_at=at("2024-03-31T23:30:00"), industry_codes=["01"],
                      region=FORMULA_REGION)
    n5 = factory.need(owner, title="草稿", created_at=at("2024-01-15T08:00:00"), industry_codes=["36"],
                      region="广东省茂名市", status="draft")
    n6 = factory.need(owner, title="需求六", created_at=at("2023-12-31T23:59:59"), industry_codes=["36"],
                      region="广东省广州市", status="matched")
    add_match(app, n1.id, e[0], "completed")
    add_match(app, n1.id, e[1], "closed", ("proposed", "expert_accepted", "connected", "intent", "closed"),
              connected_at=at("2024-01-12T00:00:00"))
    add_match(app, n1.id, e[2], "proposed", ("proposed",))
    add_match(app, n2.id, e[0], "expert_declined", ("proposed", "expert_declined"))
    add_match(app, n3.id, e[0], "contract")
    add_match(app, n3.id, e[1], "closed", connected_at=at("2024-03-07T00:00:00"))
    add_match(app, n5.id, e[3], "completed")  # on a draft: ignored with its need
    add_match(app, n6.id, e[0], "intent", ("proposed", "enterprise_accepted", "connected", "intent"))
    return {"needs": (n1, n2, n3, n4, n5, n6)}


def by_key(rows: list[dict]) -> dict[str, dict[str, int]]:
    return {row["key"]: {stage: row[stage] for stage in STAGES} for row in rows}


# --- the service -----------------------------------------------------------------------------


def test_funnel_counts_every_stage_a_match_ever_reached(app, funnel_data):
    with app.app_context():
        report = stats.funnel(None, None)
    assert report["stages"] == STAGES
    assert report["period"] == {"start": None, "end": None}
    # every stage counts needs: posted N1 N2 N3 N4 N6; proposed N1 N2 N3 N6; connected N1 N3 N6
    # (m1, m5/m6, m7); intent N1 (m1, m2 closed after intent) N3 N6; contract N1 N3; completed N1.
    assert report["unit"] == "needs"
    assert {stage: report["overall"][stage] for stage in STAGES} == counts(5, 4, 3, 3, 2, 1)


def test_funnel_by_month_is_chronological_with_empty_months_filled(app, funnel_data):
    with app.app_context():
        report = stats.funnel(None, None)
    assert [row["key"] for row in report["by_month"]] == ["2023-12", "2024-01", "2024-02", "2024-03"]
    assert by_key(report["by_month"]) == {
        "2023-12": counts(1, 1, 1, 1, 0, 0),
        "2024-01": counts(2, 2, 1, 1, 1, 1),
        "2024-02": counts(0, 0, 0, 0, 0, 0),
        "2024-03": counts(2, 1, 1, 1, 1, 0),
    }
    assert all(row["label"] == row["key"] for row in report["by_month"])


def test_funnel_by_industry_uses_the_first_code_and_unclassified_last(app, funnel_data):
    with app.app_context():
        report = stats.funnel(None, None, locale="zh")
        english = stats.funnel(None, None, locale="en")
    assert [row["key"] for row in report["by_industry"]] == ["36", "01", stats.UNCLASSIFIED]
    assert by_key(report["by_industry"]) == {
        "36": counts(3, 3, 3, 3, 2, 1),
        "01": counts(1, 0, 0, 0, 0, 0),
        stats.UNCLASSIFIED: counts(1, 1, 0, 0, 0, 0),
    }
    assert report["by_industry"][0]["label"] == "汽车制造业"
    assert english["by_industry"][0]["label"] == "Manufacture of automobiles"


def test_funnel_by_region_groups_by_province_and_keeps_unrecognised_text(app, funnel_data):
    with app.app_context():
        report = stats.funnel(None, None)
    assert by_key(report["by_region"]) == {
        "广东省": counts(2, 2, 2, 2, 1, 1),
        "北京市": counts(1, 1, 1, 1, 1, 0),
        FORMULA_REGION: counts(1, 0, 0, 0, 0, 0),
        stats.UNKNOWN: counts(1, 1, 0, 0, 0, 0),
    }
    assert report["by_region"][0]["key"] == "广东省"
    assert report["by_region"][-1]["key"] == stats.UNKNOWN


def test_breakdowns_add_up_to_the_overall_funnel(app, funnel_data):
    with app.app_context():
        report = stats.funnel(None, None)
    for name in stats.BREAKDOWNS:
        totals = {stage: sum(row[stage] for row in report[f"by_{name}"]) for stage in STAGES}
        assert totals == {stage: report["overall"][stage] for stage in STAGES}, name


@pytest.mark.parametrize(("start", "end", "expected"), [
    (date(2024, 1, 1), date(2024, 3, 31), counts(4, 3, 2, 2, 2, 1)),  # N4 at 23:30 on the last day is in
    (date(2024, 1, 1), date(2024, 3, 30), counts(3, 3, 2, 2, 2, 1)),
    (date(2024, 3, 1), None, counts(2, 1, 1, 1, 1, 0)),
    (None, date(2023, 12, 31), counts(1, 1, 1, 1, 0, 0)),  # 23:59:59 on the end day is in
    (date(2025, 1, 1), None, counts(0, 0, 0, 0, 0, 0)),
])
def test_funnel_period_filters_needs_by_creation_day(app, funnel_data, start, end, expected):
    with app.app_context():
        report = stats.funnel(start, end)
    assert {stage: report["overall"][stage] for stage in STAGES} == expected
    assert report["period"] == {"start": start.isoformat() if start else None, "end": end.isoformat() if end else None}


def test_funnel_of_an_empty_period_has_no_groups(app, funnel_data):
    with app.app_context():
        report = stats.funnel(date(2030, 1, 1), date(2030, 12, 31))
    assert report["by_month"] == report["by_industry"] == report["by_region"] == []


def test_funnel_uses_a_fixed_small_number_of_queries(app, funnel_data, factory):
    owner = factory.user(role="enterprise")
    for i in range(10):
        factory.need(owner, title=f"更多需求{i}", industry_codes=["36"], region="广东省茂名市")
    with recorded_statements(app) as statements, app.app_context():
        stats.funnel(None, None)
    assert 0 < len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 3


def test_funnel_result_is_plain_json(app, funnel_data):
    import json

    with app.app_context():
        report = stats.funnel(date(2024, 1, 1), None)
        totals = stats.summary()
    assert json.loads(json.dumps(report)) == report
    assert json.loads(json.dumps(totals)) == totals


def test_summary_counts_open_needs_experts_pending_accounts_and_stale_proposals(app, factory):
    owner = factory.user(role="enterprise")
    factory.user(role="enterprise", status="pending")
    factory.user(role="expert", status="pending")
    busy = factory.user(role="expert", available=False)
    free = factory.user(role="expert")
    factory.need(owner, title="开放一")
    factory.need(owner, title="开放二")
    matched = factory.need(owner, title="已对接", status="matched")
    factory.need(owner, title="草稿", status="draft")
    now = at("2024-06-30T12:00:00")
    add_match(app, matched.id, free.expert_id, "proposed", updated_at=now - timedelta(days=10))
    add_match(app, matched.id, busy.expert_id, "expert_accepted", updated_at=now - timedelta(days=8))
    stale_connected = factory.need(owner, title="联系中", status="matched")
    add_match(app, stale_connected.id, free.expert_id, "connected", updated_at=now - timedelta(days=30))
    fresh = factory.need(owner, title="新提议", status="matched")
    add_match(app, fresh.id, free.expert_id, "proposed", updated_at=now - timedelta(days=2))
    with app.app_context():
        totals = stats.summary(now)
    assert totals == {"open_needs": 2, "experts": 3, "active_experts": 2, "pending_accounts": 2,
                      "matches_awaiting_answer": 2, "awaiting_days": 7}


@pytest.mark.parametrize(("start", "end", "fields"), [
    ("2024-13-01", "", {"from"}),
    ("", "yesterday", {"to"}),
    ("2024-05-01", "2024-01-01", {"to"}),
    ("x" * 5000, "2024-01-01", {"from"}),
])
def test_parse_period_rejects_bad_dates_with_field_names(start, end, fields):
    with pytest.raises(ValidationError) as raised:
        stats.parse_period(start, end)
    assert set(raised.value.fields) == fields


def test_parse_period_accepts_blank_and_iso_dates():
    assert stats.parse_period("", None) == (None, None)
    assert stats.parse_period(" 2024-01-01 ", "2024-01-31") == (date(2024, 1, 1), date(2024, 1, 31))
    assert stats.parse_period("9999-12-31", "9999-12-31") == (date.max, date.max)


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+86 139", "'+86 139"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("广东省", "广东省"), ("a=b", "a=b"), (-2, -2), (0, 0), (None, ""),
])
def test_csv_cells_never_start_a_formula(value, expected):
    assert stats.csv_cell(value) == expected


# --- the page --------------------------------------------------------------------------------


def table_rows(page: bytes, table_id: str) -> dict[str, list[int]]:
    text = page.decode()
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', text, re.S)
    assert table, f"no table {table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.S).group(1)
    rows = {}
    for key, cells in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', body, re.S):
        rows[html.unescape(key)] = [int(v) for v in re.findall(r'<td class="num" data-stage="[^"]*">(\d+)</td>', cells)]
    return rows


def test_coordinator_sees_totals_funnel_and_breakdowns_as_charts_and_tables(client, auth, funnel_data):
    auth.login_as("coordinator")
    response = client.get("/dashboard/")
    assert response.status_code == 200
    page = response.data
    funnel_cells = re.search(rb'id="funnel-table".*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    assert [int(v) for v in re.findall(rb">(\d+)</td>", funnel_cells)] == [5, 4, 3, 3, 2, 1]
    assert table_rows(page, "table-month") == {
        "2023-12": [1, 1, 1, 1, 0, 0], "2024-01": [2, 2, 1, 1, 1, 1],
        "2024-02": [0, 0, 0, 0, 0, 0], "2024-03": [2, 1, 1, 1, 1, 0],
    }
    assert table_rows(page, "table-industry") == {
        "36": [3, 3, 3, 3, 2, 1], "01": [1, 0, 0, 0, 0, 0], "unclassified": [1, 1, 0, 0, 0, 0],
    }
    assert table_rows(page, "table-region") == {
        "广东省": [2, 2, 2, 2, 1, 1], "北京市": [1, 1, 1, 1, 1, 0],
        FORMULA_REGION: [1, 0, 0, 0, 0, 0], "unknown": [1, 1, 0, 0, 0, 0],
    }
    conversion = re.search(rb'<tr id="conversion">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(rb'data-conversion="(\w+)">([^<]*)</td>', conversion)[1:] == [
        (b"needs_proposed", b"80%"), (b"needs_connected", b"75%"), (b"needs_intent", b"100%"),
        (b"needs_contract", b"67%"), (b"needs_completed", b"50%")]
    assert "汽车制造业".encode() in page
    assert b'data-total="open_needs"' in page
    # Charts: SVG rects whose widths were computed on the server; the largest bar is full width.
    assert page.count(b"<svg") >= 6 + 4 + 3 + 4
    assert b'class="dash-bar-fill dash-stage-1" x="0" y="0" width="100.0%"' in page
    assert b'class="dash-bar-posted" x="0" y="0" width="100.0%"' in page
    assert b"<script" not in page and b"style=" not in page
    assert b"/dashboard/export.csv?breakdown=region" in page


def test_admin_may_open_the_dashboard_and_an_empty_platform_renders(client, auth):
    auth.login_as("admin")
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert b'id="funnel"' in response.data and b'id="table-month"' not in response.data


def test_period_filter_applies_to_the_page_and_keeps_the_values(client, auth, funnel_data):
    auth.login_as("coordinator")
    response = client.get("/dashboard/?from=2024-03-01&to=2024-03-31")
    assert response.status_code == 200
    assert table_rows(response.data, "table-month") == {"2024-03": [2, 1, 1, 1, 1, 0]}
    assert b'value="2024-03-01"' in response.data and b'value="2024-03-31"' in response.data
    assert b"/dashboard/export.csv?breakdown=month&amp;from=2024-03-01&amp;to=2024-03-31" in response.data


@pytest.mark.parametrize(("query", "field"), [
    ("from=2024-13-01", "from"), ("to=not-a-date", "to"), ("from=2024-05-01&to=2024-01-01", "to"),
    ("from=%3Cscript%3Ealert(1)%3C/script%3E", "from"),
])
def test_a_bad_date_shows_an_error_not_a_server_error(client, auth, funnel_data, query, field):
    auth.login_as("coordinator")
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    assert b'id="period-error"' in response.data
    assert b"<script>alert" not in response.data


def test_reversed_dates_show_the_error_beside_the_field_and_still_the_page(client, auth, funnel_data):
    auth.login_as("coordinator")
    response = client.get("/dashboard/?from=2024-05-01&to=2024-01-01")
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    beside = text.split('id="period-to"')[1].split("</div>")[0]
    assert 'id="period-to-error"' in beside and "不得早于开始日期" in beside
    assert 'id="period-from-error"' not in text
    assert 'id="totals"' in text and 'id="funnel"' in text  # the page, not a blank form
    assert table_rows(response.data, "table-month")["2024-03"] == [2, 1, 1, 1, 1, 0]  # all time
    assert 'value="2024-05-01"' in text and 'value="2024-01-01"' in text  # kept for correcting


def test_periods_and_months_are_days_of_the_platform_time_zone(app, factory):
    owner = factory.user(role="enterprise")
    # 2024-03-31 20:00 UTC is 2024-04-01 04:00 in Beijing: an April need for a Chinese association.
    factory.need(owner, title="四月需求", created_at=datetime(2024, 3, 31, 20, 0, tzinfo=UTC))
    with app.app_context():
        assert [row["key"] for row in stats.funnel()["by_month"]] == ["2024-04"]
        assert stats.funnel(date(2024, 3, 1), date(2024, 3, 31))["overall"]["needs_posted"] == 0
        assert stats.funnel(date(2024, 4, 1), date(2024, 4, 1))["overall"]["needs_posted"] == 1


# --- CSV export ------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.data.startswith("\ufeff".encode())
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_csv_export_by_region_escapes_formulas(client, auth, funnel_data):
    auth.login_as("coordinator")
    rows = read_csv(client.get("/dashboard/export.csv?breakdown=region"))
    assert len(rows[0]) == 1 + len(STAGES) + len(stats.MEDIANS) + 1
    body = {row[0]: [int(v) for v in row[1:1 + len(STAGES)]] for row in rows[1:]}
    assert body["广东省"] == [2, 2, 2, 2, 1, 1]
    assert body["'" + FORMULA_REGION] == [1, 0, 0, 0, 0, 0]
    assert body["合计"] == [5, 4, 3, 3, 2, 1]  # the total row last
    assert FORMULA_REGION not in body
    assert not any(cell[:1] in "=+-@" for row in rows for cell in row if cell)
    assert len(rows) == 1 + 4 + 1


def test_csv_export_by_industry_has_code_and_name_columns(client, auth, funnel_data):
    auth.login_as("coordinator")
    rows = read_csv(client.get("/dashboard/export.csv?breakdown=industry"))
    assert len(rows[0]) == 2 + len(STAGES) + len(stats.MEDIANS) + 1
    assert rows[1][:2 + len(STAGES) + 1] == ["36", "汽车制造业", "3", "3", "3", "3", "2", "1", "0"]
    assert rows[2][0] == "01" and rows[3][0] == ""  # unclassified has no code
    assert len(rows) == 5


def test_csv_export_by_month_honours_the_period(client, auth, funnel_data):
    auth.login_as("coordinator")
    response = client.get("/dashboard/export.csv?breakdown=month&from=2024-01-01&to=2024-02-29")
    rows = read_csv(response)
    assert [row[:1 + len(STAGES)] for row in rows[1:]] == [["2024-01", "2", "2", "1", "1", "1", "1"],  # no need in February
                                                          ["合计", "2", "2", "1", "1", "1", "1"]]
    assert "funnel-month-2024-01-01-2024-02-29.csv" in response.headers["Content-Disposition"]


def test_csv_export_defaults_to_month(client, auth, funnel_data):
    auth.login_as("coordinator")
    rows = read_csv(client.get("/dashboard/export.csv"))
    assert [row[0] for row in rows[1:]] == ["2023-12", "2024-01", "2024-02", "2024-03", "合计"]


@pytest.mark.parametrize("query", ["breakdown=expert", "breakdown=month&from=31/12/2024", "from=2024-02-30"])
def test_csv_export_rejects_bad_parameters_with_400(client, auth, funnel_data, query):
    auth.login_as("coordinator")
    response = client.get(f"/dashboard/export.csv?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"


# --- access ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["enterprise", "expert"])
@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/export.csv?breakdown=region"])
def test_enterprises_and_experts_may_not_see_the_dashboard(client, auth, funnel_data, role, url):
    auth.login_as(role)
    response = client.get(url)
    assert response.status_code == 403
    assert "广东省".encode() not in response.data


@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/export.csv?breakdown=region"])
def test_anonymous_callers_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]

