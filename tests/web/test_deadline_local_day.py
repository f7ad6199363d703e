"""A need's deadline is "not in the past" by the platform's local day, not the server's.

The zone is chosen so that the local day differs from the server's (UTC) day at the moment the
test runs: UTC+14 after 10:00 UTC (local tomorrow), UTC−12 before (local yesterday). Then the
local day is accepted and the local day before it is refused, which fails with the server's
``date.today()`` either way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import User, db
from tests.web.test_transfer import NEED_HEADER_ZH, csv_bytes
from web.domain import needs as need_service
from web.domain.errors import ValidationError
from web.formats.imports import plan_import, read_import
from web.localtime import local_today


@pytest.fixture
def far_zone(app):
    app.config["MATCHER_TIMEZONE"] = "Etc/GMT-14" if datetime.now(UTC).hour >= 10 else "Etc/GMT+12"
    with app.app_context():
        today = local_today()
    assert today != datetime.now(UTC).date()  # the test means something only when the days differ
    return today


def test_posting_a_need_checks_the_deadline_against_the_local_day(app, factory, far_zone):
    owner = factory.user(role="enterprise")
    with app.app_context():
        actor = db.session.get(User, owner.id)
        need = need_service.create_need(actor, {"title": "弹簧断裂", "deadline": far_zone.isoformat()})
        assert need.deadline == far_zone
        with pytest.raises(ValidationError) as refused:
            need_service.create_need(actor, {"title": "弹簧断裂", "deadline": (far_zone - timedelta(days=1)).isoformat()})
        assert "deadline" in refused.value.fields


def test_the_api_refuses_a_deadline_before_the_local_day(app, client, factory, far_zone):
    owner = factory.user(role="enterprise")
    token = client.post("/api/v1/auth/login", json={"email": owner.email, "password": factory.PASSWORD}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    ok = client.post("/api/v1/needs", headers=headers, json={"title": "弹簧断裂", "deadline": far_zone.isoformat()})
    late = client.post("/api/v1/needs", headers=headers, json={"title": "弹簧断裂", "deadline": (far_zone - timedelta(days=1)).isoformat()})
    assert ok.status_code == 201 and late.status_code == 400 and "deadline" in late.get_json()["error"]["fields"]


def test_an_import_checks_deadlines_against_the_local_day(app, far_zone):
    rows = [["需求一", "描述", "36", "广东省", "技术开发", "", "", far_zone.isoformat(), "佛山焊接有限公司"],
            ["需求二", "描述", "36", "广东省", "技术开发", "", "", (far_zone - timedelta(days=1)).isoformat(), "佛山焊接有限公司"]]
    with app.test_request_context():
        plan = plan_import("needs", read_import("needs", "needs.csv", csv_bytes(NEED_HEADER_ZH, rows)))
    rows_with_problems = {problem.row for problem in plan.problems}
    assert rows_with_problems == {3}, plan.problems
