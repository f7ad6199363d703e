"""The first vertical slice: an enterprise posts a need, a coordinator sees it, an expert
edits a profile."""

import sqlalchemy as sa

from models import Achievement, ExpertProfile, Need, NeedStatus, db
from tests.conftest import csrf_token


def test_enterprise_posts_a_need_and_coordinator_sees_it_in_the_queue(app, client, auth, factory):
    owner = auth.login_as("enterprise")
    form = client.get("/enterprise/needs/new")
    assert form.status_code == 200
    response = client.post("/enterprise/needs/new", data={
        "csrf_token": csrf_token(form), "title": "弹簧跑两万公里就断", "description": "断口在第二圈附近，想找专家分析原因",
        "industry_codes": ["36"], "region": "广东省佛山市", "cooperation_modes": ["consulting", "development"],
        "budget_min": "10", "budget_max": "30", "deadline": "2030-01-31",
    })
    assert response.status_code == 302
    with app.app_context():
        need = db.session.scalar(sa.select(Need))
        assert need.title == "弹簧跑两万公里就断" and need.organization_id == owner.organization_id
        assert need.status == NeedStatus.OPEN and need.industry_codes == ["36"]
        assert need.cooperation_modes == ["consulting", "development"] and need.budget_max == 30

    client.post("/auth/logout", data={"csrf_token": csrf_token(client.get("/enterprise/needs"))})
    auth.login_as("coordinator")
    queue = client.get("/coordinator/queue")
    assert queue.status_code == 200
    row = queue.get_data(as_text=True).split("弹簧跑两万公里就断")[1].split("</tr>")[0]
    assert "36 汽车制造业" in row  # the industry by name
    assert [c.strip() for c in row.split('<td class="nowrap">')[1:]][0].startswith("0<")  # nobody proposed yet


def test_need_form_reports_each_bad_field_and_stores_nothing(app, client, auth):
    auth.login_as("enterprise")
    form = client.get("/enterprise/needs/new")
    response = client.post("/enterprise/needs/new", data={
        "csrf_token": csrf_token(form), "title": "有效标题", "industry_codes": ["36"],
        "budget_min": "50", "budget_max": "10",
    })
    assert response.status_code == 200
    assert b"budget_min" in response.data or "不能少于".encode() in response.data or b"less than" in response.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Need)) == 0


def test_enterprise_cannot_read_another_enterprises_need(client, auth, factory):
    other = factory.user(role="enterprise")
    need = factory.need(other, title="别人的需求")
    auth.login_as("enterprise")
    response = client.get(f"/enterprise/needs/{need.id}")
    assert response.status_code == 404
    assert "别人的需求".encode() not in response.data


def test_expert_edits_profile_and_adds_an_achievement(app, client, auth):
    expert = auth.login_as("expert")
    page = client.get("/expert/profile")
    assert page.status_code == 200
    response = client.post("/expert/profile", data={
        "csrf_token": csrf_token(page), "name": "王磊", "title": "教授", "region": "陕西省宝鸡市",
        "discipline_codes": ["430"], "research_areas": "钛合金, 锻造", "keywords": "TC4，近β锻造",
        "summary": "钛合金锻造工艺", "cooperation_modes": ["development"], "capacity": "4", "available": "y",
        "phone": "13800001111", "email": "wl@example.cn", "wechat": "wl_ti",
    })
    assert response.status_code == 302
    with app.app_context():
        profile = db.session.scalar(sa.select(ExpertProfile).where(ExpertProfile.user_id == expert.id))
        assert profile.name == "王磊" and profile.capacity == 4
        assert profile.research_areas == ["钛合金", "锻造"] and profile.keywords == ["TC4", "近β锻造"]
    page = client.get("/expert/profile")
    response = client.post("/expert/achievements", data={
        "csrf_token": csrf_token(page), "kind": "patent", "title": "一种TC4钛合金近β锻造方法", "abstract": "", "year": "2023",
    })
    assert response.status_code == 302
    with app.app_context():
        profile = db.session.get(ExpertProfile, expert.expert_id)
        assert [a.title for a in profile.achievements] == ["一种TC4钛合金近β锻造方法"]


def test_expert_cannot_delete_someone_elses_achievement(app, client, auth, factory):
    other = factory.user(role="expert")
    achievement = factory.achievement(other)
    auth.login_as("expert")
    page = client.get("/expert/profile")
    response = client.post(f"/expert/achievements/{achievement.id}/delete", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(Achievement, achievement.id) is not None
