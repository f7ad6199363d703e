"""The coordinator's review queue: search, filters, sorting and paging in SQL, bookmarkable,
with a clear message for bad parameters and for an empty result."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from models import Match, MatchStatus, Need, User, db, utcnow, write_transaction
from tests.conftest import recorded_statements
from web.domain import queue as queue_service


def shown(response) -> list[int]:
    """The need ids of the queue table, in order."""
    return [int(i) for i in re.findall(r'<tr data-need="(\d+)">', response.get_data(as_text=True))]


def backdate(app, need_id: int, days: int) -> None:
    with app.app_context(), write_transaction() as session:
        session.get(Need, need_id).created_at = utcnow() - timedelta(days=days)


def propose_raw(app, need_id: int, expert_id: int) -> None:
    with app.app_context(), write_transaction() as session:
        session.add(Match(need_id=need_id, expert_id=expert_id, status=MatchStatus.PROPOSED))


@pytest.fixture
def queue_world(app, factory):
    """Five needs that differ in every filtered field."""
    car_org = factory.organization(name="佛山汽配厂")
    farm_org = factory.organization(name="茂名荔枝合作社")
    car, farm = factory.user(role="enterprise", organization=car_org), factory.user(role="enterprise", organization=farm_org)
    experts = [factory.user(role="expert") for _ in range(3)]
    needs = {
        "spring": factory.need(car, title="悬架弹簧断裂", description="两万公里后断裂", industry_codes=["36"],
                               region="广东省佛山市", deadline=date(2027, 3, 1)),
        "damper": factory.need(car, title="减振器异响", description="低速过减速带有钛合金摩擦声", industry_codes=["36", "34"],
                               region="广东省佛山市", deadline=date(2027, 1, 15)),
        "lychee": factory.need(farm, title="荔枝保果", description="落果严重", industry_codes=["01"], region="广东省茂名市"),
        "fish": factory.need(farm, title="罗非鱼病害", description="链球菌", industry_codes=["04"], region="广东省茂名市",
                             deadline=date(2027, 2, 1)),
        "closed": factory.need(farm, title="已关闭的弹簧需求", status="closed", industry_codes=["36"], region="广东省茂名市"),
    }
    for key, days in {"spring": 40, "damper": 20, "lychee": 3, "fish": 100, "closed": 50}.items():
        backdate(app, needs[key].id, days)
    propose_raw(app, needs["damper"].id, experts[0].expert_id)
    propose_raw(app, needs["damper"].id, experts[1].expert_id)
    propose_raw(app, needs["lychee"].id, experts[2].expert_id)
    return {k: v.id for k, v in needs.items()}


CASES = [  # (query string, expected needs in order)
    ("", ["fish", "spring", "damper", "lychee"]),  # open needs, oldest first
    ("?q=弹簧", ["spring"]),  # title (the closed one is not open)
    ("?q=钛合金", ["damper"]),  # description
    ("?q=荔枝合作社", ["fish", "lychee"]),  # organisation
    ("?industry=36", ["spring", "damper"]),
    ("?industry=36+汽车制造业", ["spring", "damper"]),  # what the picker offers
    ("?industry=34", ["damper"]),
    ("?region=茂名", ["fish", "lychee"]),
    ("?age=new", ["lychee"]),
    ("?age=over30", ["fish", "spring"]),
    ("?age=over90", ["fish"]),
    ("?state=closed", ["closed"]),
    ("?state=all&industry=36", ["closed", "spring", "damper"]),
    ("?proposals=with", ["damper", "lychee"]),
    ("?proposals=without", ["fish", "spring"]),
    ("?sort=newest", ["lychee", "damper", "spring", "fish"]),
    ("?sort=deadline", ["damper", "fish", "spring", "lychee"]),  # soonest first, none last
    ("?sort=most_proposals", ["damper", "lychee", "fish", "spring"]),
    ("?sort=fewest_proposals", ["fish", "spring", "lychee", "damper"]),
    ("?q=弹簧&state=all&sort=newest", ["spring", "closed"]),
    ("?region=佛山&proposals=without&q=断裂", ["spring"]),
]


@pytest.mark.parametrize(("query", "expected"), CASES)
def test_search_filters_and_sorting_select_and_order_the_right_needs(client, auth, queue_world, query, expected):
    auth.login_as("coordinator")
    response = client.get("/coordinator/queue" + query)
    assert response.status_code == 200
    assert shown(response) == [queue_world[k] for k in expected]


def test_the_filters_are_refilled_and_kept_in_the_pager_links(app, client, auth, factory):
    owner = factory.user(role="enterprise")
    for i in range(27):
        factory.need(owner, title=f"弹簧需求{i:02d}", industry_codes=["36"])
    factory.need(owner, title="别的需求", industry_codes=["01"])
    auth.login_as("coordinator")
    first = client.get("/coordinator/queue?industry=36&q=弹簧")
    text = first.get_data(as_text=True)
    assert len(shown(first)) == 25 and "共 27 条" in text
    assert 'value="36 汽车制造业"' in text and 'value="弹簧"' in text  # the form shows the view
    next_link = re.search(r'href="([^"]+)" rel="next"', text).group(1).replace("&amp;", "&")
    assert "industry=36" in next_link and "page=2" in next_link
    second = client.get(next_link)
    assert len(shown(second)) == 2 and not set(shown(second)) & set(shown(first))
    assert 'rel="next"' not in second.get_data(as_text=True) and 'rel="prev"' in second.get_data(as_text=True)


def test_paging_boundaries(app, factory):
    owner = factory.user(role="enterprise")
    coordinator = factory.user(role="coordinator")
    ids = [factory.need(owner, title=f"需求{i}").id for i in range(5)]
    with app.app_context():
        me = db.session.get(User, coordinator.id)
        pages = [queue_service.queue_page(me, queue_service.QueueQuery(page=p), per_page=2) for p in (1, 2, 3, 4)]
        assert [[r.need.id for r in page.rows] for page in pages[:3]] == [ids[0:2], ids[2:4], ids[4:5]]
        assert [p.pages for p in pages] == [3, 3, 3, 3] and pages[2].first == 5 and pages[2].last == 5
        assert pages[3].past_end and pages[3].rows == []
        exact = queue_service.queue_page(me, queue_service.QueueQuery(page=2), per_page=3)  # 5 = 3 + 2
        assert [r.need.id for r in exact.rows] == ids[3:5] and not exact.past_end
        empty = queue_service.queue_page(me, queue_service.QueueQuery(q="没有这样的需求"), per_page=2)
        assert empty.total == 0 and empty.pages == 1 and not empty.past_end and empty.rows == []


@pytest.mark.parametrize(("query", "param"), [
    ("page=-1", "page"), ("page=abc", "page"), ("page=0", "page"), ("page=99999999999", "page"), ("page=1.5", "page"),
    ("industry=ZZ99", "industry"), ("industry=99", "industry"), ("age=forever", "age"), ("sort=title", "sort"),
    ("state=lost", "state"), ("proposals=maybe", "proposals"), ("q=" + "长" * 101, "q"),
])
def test_bad_parameters_get_a_message_naming_the_parameter_never_a_500(client, auth, query, param):
    auth.login_as("coordinator")
    response = client.get("/coordinator/queue?" + query)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    error = text.split('id="queue-error"')[1].split("</div>")[0]
    assert f"<code>{param}</code>" in error
    assert 'id="queue"' not in text


def test_a_page_past_the_end_says_how_many_pages_there_are(client, auth, factory):
    owner = factory.user(role="enterprise")
    factory.need(owner)
    auth.login_as("coordinator")
    response = client.get("/coordinator/queue?page=7&sort=newest")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "第 7 页不存在" in text and "共 1 页" in text
    assert 'href="/coordinator/queue?sort=newest"' in text  # back to the last page, filters kept


def test_no_results_is_said_plainly_with_a_way_back(client, auth, factory):
    owner = factory.user(role="enterprise")
    factory.need(owner, title="弹簧")
    auth.login_as("coordinator")
    response = client.get("/coordinator/queue?q=不存在的词")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="queue"' not in text
    assert "没有符合这些条件的需求" in text and "清除筛选" in text
    en = client.get("/coordinator/queue?q=nothing&lang=en").get_data(as_text=True)
    assert "No needs match these filters." in en


def test_wildcards_in_the_search_are_plain_text(client, auth, factory):
    owner = factory.user(role="enterprise")
    factory.need(owner, title="弹簧")
    auth.login_as("coordinator")
    assert shown(client.get("/coordinator/queue?q=%25")) == [] and shown(client.get("/coordinator/queue?q=_")) == []


def test_the_queue_counts_and_pages_in_sql_whatever_the_number_of_needs(app, client, auth, factory):
    """The number of statements does not grow with the number of needs: nothing is loaded
    per need, and only one page of rows is fetched."""
    owner = factory.user(role="enterprise")
    expert = factory.user(role="expert")
    auth.login_as("coordinator")

    def statements() -> int:
        with recorded_statements(app) as seen:
            assert client.get("/coordinator/queue?sort=fewest_proposals").status_code == 200
        return len(seen)

    for i in range(3):
        propose_raw(app, factory.need(owner, title=f"少{i}").id, expert.expert_id)
    few = statements()
    assert few > 0  # the recorder sees the page's statements
    for i in range(40):  # from many organisations: nothing may be loaded per row either
        factory.need(factory.user(role="enterprise") if i % 2 else owner, title=f"多{i}")
    assert statements() == few


@pytest.mark.parametrize("role", ["enterprise", "expert"])
def test_only_coordinators_see_the_queue_and_expert_pages(client, auth, factory, role):
    expert = factory.user(role="expert")
    auth.login_as(role)
    assert client.get("/coordinator/queue?q=x").status_code == 403
    assert client.get(f"/coordinator/experts/{expert.expert_id}").status_code == 403


def test_the_coordinator_reads_an_experts_profile_with_matches(app, client, auth, factory):
    expert = factory.user(role="expert", name="钛丁", title="教授", keywords=["钛合金", "锻造"])
    factory.achievement(expert, title="钛合金锻造工艺")
    owner = factory.user(role="enterprise")
    need = factory.need(owner, title="钛合金锻件开裂")
    propose_raw(app, need.id, expert.expert_id)
    auth.login_as("coordinator")
    text = client.get(f"/coordinator/experts/{expert.expert_id}").get_data(as_text=True)
    assert "钛丁" in text and "钛合金锻造工艺" in text and "钛合金、锻造" in text
    assert f'href="/coordinator/needs/{need.id}"' in text and "已推荐" in text
    assert expert.contacts["phone"] in text  # a coordinator sees the contacts
    assert client.get("/coordinator/experts/999999").status_code == 404


def test_control_characters_in_the_parameters_never_reach_the_database(client, auth, factory):
    """NUL is refused by PostgreSQL text: it is dropped before the query (run with --db postgresql)."""
    owner = factory.user(role="enterprise")
    need = factory.need(owner, title="弹簧断裂")
    auth.login_as("coordinator")
    response = client.get("/coordinator/queue?q=%E5%BC%B9%00%E7%B0%A7&region=%00&industry=36%00")
    assert response.status_code == 200 and shown(response) == []  # 36 is a valid code; the need has none
    assert shown(client.get("/coordinator/queue?q=%E5%BC%B9%00%E7%B0%A7")) == [need.id]
    assert client.get(f"/coordinator/needs/{need.id}?find=%00%E5%BC%B9").status_code == 200
