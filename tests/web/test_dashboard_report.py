"""The dashboard as the 科协's yearly report (issue 12, gap 5): every stage counts needs, with the
conversion between stages, median days to the first proposal and to connection, and the value of
confirmed contracts only — overall and by month, industry and region, on the page and in the CSV."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from models import Match, MatchEvent, MatchStatus, write_transaction
from tests.web.test_dashboard import STAGES, add_match, at, counts, read_csv
from web.domain import stats


def add_outcome(app, match_id: int, step: str, state: str, amount_yuan: int | None) -> None:
    from models import MatchOutcome

    with app.app_context(), write_transaction() as session:
        # the step's own state once it counts; the state awaiting confirmation while it did not
        event = MatchEvent(match_id=match_id, to_status=step if state == "counted" else f"{step}_by_expert", actor_role="system")
        session.add(event)
        session.flush()
        session.add(MatchOutcome(match_id=match_id, event_id=event.id, step=step, occurred_on=date(2024, 2, 1),
                                 amount_yuan=amount_yuan, recorded_side="expert", state=state))


@pytest.fixture
def report_data(app, factory):
    """NA (Jan, 36, 广东): proposed after 2 days, connected after 6, a confirmed contract of 50 万元
    and a rejected one of 99 万元 on another match; NB (Jan, 36, 北京): 4 and 10 days, a contract
    of 30 万元 only the expert recorded; NC (Feb, 01, 广东): proposed after 1 day; ND (Feb): nothing."""
    owner = factory.user(role="enterprise")
    e = [factory.user(role="expert").expert_id for _ in range(3)]
    na = factory.need(owner, title="NA", created_at=at("2024-01-10T08:00:00"), industry_codes=["36"], region="广东省茂名市")
    nb = factory.need(owner, title="NB", created_at=at("2024-01-20T08:00:00"), industry_codes=["36"], region="北京市")
    nc = factory.need(owner, title="NC", created_at=at("2024-02-05T08:00:00"), industry_codes=["01"], region="广东省广州市")
    factory.need(owner, title="ND", created_at=at("2024-02-10T08:00:00"), industry_codes=[], region="")
    m1 = add_match(app, na.id, e[0], "contract", created_at=at("2024-01-12T08:00:00"), connected_at=at("2024-01-16T08:00:00"))
    add_outcome(app, m1, "contract", "counted", 500_000)
    m4 = add_match(app, na.id, e[1], "intent", ("proposed", "enterprise_accepted", "connected", "intent"),
                   created_at=at("2024-01-13T08:00:00"), connected_at=at("2024-01-18T08:00:00"))
    add_outcome(app, m4, "contract", "rejected", 990_000)
    m2 = add_match(app, nb.id, e[0], "contract_by_expert", created_at=at("2024-01-24T08:00:00"),
                   connected_at=at("2024-01-30T08:00:00"))
    add_outcome(app, m2, "contract", "pending", 300_000)
    add_match(app, nc.id, e[2], "proposed", created_at=at("2024-02-06T08:00:00"))


def test_the_yearly_report_has_conversions_medians_and_confirmed_contract_values(app, report_data):
    with app.app_context():
        report = stats.funnel()
    overall = report["overall"]
    assert {stage: overall[stage] for stage in STAGES} == counts(4, 3, 2, 2, 1, 0)
    assert overall["conversion"] == {"needs_proposed": 0.75, "needs_connected": 0.6667, "needs_intent": 1.0,
                                     "needs_contract": 0.5, "needs_completed": 0.0}
    assert (overall["days_to_first_proposal"], overall["days_to_connection"]) == (2.0, 8.0)
    assert overall["contract_value_wan"] == 50  # neither the pending 30 nor the rejected 99
    figures = ("needs_contract", "contract_value_wan", "days_to_first_proposal", "days_to_connection")

    def rows(name):
        return {row["key"]: tuple(row[f] for f in figures) for row in report[f"by_{name}"]}

    assert rows("month") == {"2024-01": (1, 50, 3.0, 8.0), "2024-02": (0, 0, 1.0, None)}
    assert rows("industry") == {"36": (1, 50, 3.0, 8.0), "01": (0, 0, 1.0, None), stats.UNCLASSIFIED: (0, 0, None, None)}
    assert rows("region") == {"广东省": (1, 50, 1.5, 6.0), "北京市": (0, 0, 4.0, 10.0), stats.UNKNOWN: (0, 0, None, None)}


def test_confirming_the_pending_contract_adds_it_to_the_figures(app, report_data):
    from models import MatchOutcome, db

    with app.app_context(), write_transaction() as session:
        record = session.scalar(sa.select(MatchOutcome).where(MatchOutcome.state == "pending"))
        record.state = "counted"
        session.get(Match, record.match_id).status = MatchStatus.CONTRACT
    with app.app_context():
        overall = stats.funnel()["overall"]
        db.session.remove()
    assert (overall["needs_contract"], overall["contract_value_wan"]) == (2, 80)


def test_the_page_and_the_csv_show_the_report_figures(client, auth, report_data):
    auth.login_as("coordinator")
    page = client.get("/dashboard/").get_data(as_text=True)
    figures = page.split('id="figures"')[1].split("</dl>")[0]
    assert re.search(r'data-figure="contract_value_wan"><dt>[^<]+</dt><dd>50</dd>', figures)
    assert re.search(r'data-figure="days_to_connection"><dt>[^<]+</dt><dd>8.0</dd>', figures)
    rows = read_csv(client.get("/dashboard/export.csv?breakdown=industry"))
    assert rows[0][-3:] == ["合同金额（万元）", "至首次推荐的天数（中位数）", "至对接成功的天数（中位数）"]
    assert rows[1] == ["36", "汽车制造业", "2", "2", "2", "2", "1", "0", "50", "3.0", "8.0"]
    assert rows[-1][0] == "合计" and rows[-1][-3:] == ["50", "2.0", "8.0"]
