"""Look-alike and invisible text (issue 13, item 7): zero-width characters and NFKC variants
no longer slip past uniqueness checks and emptiness tests, and text-direction controls are
refused in names and titles with an error naming the field.

Each test runs the attack the probe reported through the real entry point (the service, the
sign-up page or the JSON API) and checks that it no longer succeeds.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import Need, Organization, Role, User, db
from web.domain.accounts import sign_up
from web.domain.errors import ValidationError

PASSWORD = "correct horse battery"
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]


def _token(client, user) -> dict:
    from tests.factories import Factory

    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": Factory.PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _attempt_sign_up(**fields) -> None:
    """Sign up; a refusal is one acceptable outcome (what matters is what was stored)."""
    try:
        sign_up(password=PASSWORD, **fields)
    except ValidationError:
        pass


@pytest.mark.parametrize("invisible", ZERO_WIDTH)
def test_organisation_name_with_an_invisible_character_collides_with_the_real_one(app, factory, invisible):
    factory.organization(name="茂名减振器有限公司")
    with app.app_context():
        _attempt_sign_up(role=Role.ENTERPRISE, email="fake@attacker.example", name="王五",
                         organization_name="茂名减振器有限公司" + invisible)
        assert db.session.scalars(sa.select(Organization.name)).all() == ["茂名减振器有限公司"]


def test_organisation_name_in_full_width_letters_collides_with_the_real_one(app, factory):
    factory.organization(name="ABC科技有限公司")
    with app.app_context():
        _attempt_sign_up(role=Role.ENTERPRISE, email="fake@attacker.example", name="王五", organization_name="ＡＢＣ科技有限公司")
        assert db.session.scalars(sa.select(Organization.name)).all() == ["ABC科技有限公司"]


def test_email_with_an_invisible_character_is_the_same_account(app, factory):
    factory.user(role="expert", email="li@univ.example.cn")
    with app.app_context():
        _attempt_sign_up(role=Role.EXPERT, email="li\u200b@univ.example.cn", name="李四")
        assert db.session.scalars(sa.select(User.email).where(User.email.like("li%"))).all() == ["li@univ.example.cn"]


@pytest.mark.parametrize("title", ["\u200b\u200b", "\ufeff", " \u2060 \u200d ", "\u3000\u200b"])
def test_need_titled_only_with_invisible_characters_is_refused_as_empty(app, client, factory, title):
    enterprise = factory.user(role="enterprise")
    response = client.post("/api/v1/needs", json={"title": title}, headers=_token(client, enterprise))
    assert response.status_code == 400, response.get_json()
    assert "title" in response.get_json()["error"]["fields"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Need)) == 0


def test_zero_width_characters_are_removed_from_a_stored_title(app, client, factory):
    enterprise = factory.user(role="enterprise")
    response = client.post("/api/v1/needs", json={"title": "减振器\u200b异响\ufeff"}, headers=_token(client, enterprise))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["title"] == "减振器异响"


@pytest.mark.parametrize("control", BIDI)
def test_need_title_with_a_text_direction_control_is_refused(app, client, factory, control):
    enterprise = factory.user(role="enterprise")
    response = client.post("/api/v1/needs", json={"title": f"报告{control}fdp.exe"}, headers=_token(client, enterprise))
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert "text-direction" in error["fields"]["title"] and error["message"].startswith("title ")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Need)) == 0


def test_expert_name_with_a_right_to_left_override_is_refused(app, client, factory):
    expert = factory.user(role="expert", name="李教授")
    response = client.patch("/api/v1/experts/me", json={"name": "李\u202e授教"}, headers=_token(client, expert))
    assert response.status_code == 400, response.get_json()
    assert "name" in response.get_json()["error"]["fields"]
    assert client.get("/api/v1/experts/me", headers=_token(client, expert)).get_json()["name"] == "李教授"


@pytest.mark.parametrize("field", ["name", "organization_name"])
def test_sign_up_names_with_a_text_direction_control_are_refused(app, field):
    fields = {"name": "王五", "organization_name": "佛山弹簧制造有限公司"}
    fields[field] = fields[field][:2] + "\u2067" + fields[field][2:]
    with app.app_context():
        with pytest.raises(ValidationError) as refused:
            sign_up(role=Role.ENTERPRISE, email="wang@spring.example.cn", password=PASSWORD, **fields)
        assert set(refused.value.fields) == {"organization" if field == "organization_name" else "name"}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_the_sign_up_page_shows_the_text_direction_error_beside_the_field(client):
    from tests.web.pages import submit

    with client.session_transaction() as session:
        session["lang"] = "en"
    response = submit(client, client.get("/auth/signup"), "signup-form", {
        "role": "enterprise", "name": "王五", "organization": "佛山\u202e弹簧", "phone": "", "email": "wang@spring.example.cn",
        "password": PASSWORD})
    assert response.status_code == 200
    assert "must not contain text-direction control characters" in response.data.decode()


def test_descriptions_may_still_hold_right_to_left_text(app, client, factory):
    """Free text may quote Arabic or Hebrew with its direction marks; only one-line names and
    titles refuse them."""
    enterprise = factory.user(role="enterprise")
    response = client.post("/api/v1/needs", json={"title": "阿拉伯语说明书翻译", "description": "\u2067مرحبا\u2069 说明书"},
                           headers=_token(client, enterprise))
    assert response.status_code == 201, response.get_json()
