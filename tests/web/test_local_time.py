"""The platform time zone (MATCHER_TIMEZONE): validated at start-up, used by every page that
prints a stored moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models import Notification, write_transaction
from tests.conftest import make_app
from web.config import check_timezone
from web.templating import localdate, localtime


def test_an_unknown_time_zone_stops_the_start_with_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match=r"MATCHER_TIMEZONE must be an IANA time zone name.*'Mars/Olympus'"):
        make_app(tmp_path, f"sqlite:///{tmp_path / 'x.db'}", MATCHER_TIMEZONE="Mars/Olympus")
    with pytest.raises(RuntimeError, match="MATCHER_TIMEZONE"):
        check_timezone("../etc/passwd")


def test_the_default_zone_is_beijing_time_and_another_zone_can_be_chosen(app, tmp_path):
    moment = datetime(2026, 12, 19, 17, 30, tzinfo=UTC)
    with app.app_context():
        assert app.config["MATCHER_TIMEZONE"] == "Asia/Shanghai"
        assert localtime(moment) == "2026-12-20 01:30" and localdate(moment) == "2026-12-20"
        assert localtime("2026-12-19T17:30:00+00:00", "%H:%M") == "01:30"  # ISO text from the presenters
        assert localtime(None) == ""
    berlin = make_app(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", MATCHER_TIMEZONE="Europe/Berlin")
    with berlin.app_context():
        assert localtime(moment) == "2026-12-19 18:30"


def test_notifications_show_local_times(app, client, auth, factory):
    user = auth.login_as("expert")
    with app.app_context(), write_transaction() as session:
        session.add(Notification(user_id=user.id, kind="match_proposed", created_at=datetime(2026, 12, 19, 17, 30, tzinfo=UTC)))
    page = client.get("/notifications").get_data(as_text=True)
    assert "2026-12-20 01:30" in page and "2026-12-19 17:30" not in page
