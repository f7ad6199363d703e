"""Coordinators are told of new sign-ups awaiting approval and of new needs: in the app, and
by an e-mail digest of what is new since the last one (idempotent, in their language)."""

from __future__ import annotations

import sqlalchemy as sa

from models import DigestMark, EmailMessage, Notification, Role, User, db, write_transaction
from web.domain import accounts, needs

PASSWORD = "correct-horse-battery-staple-7"


def set_locale(app, user_id: int, locale: str) -> None:
    with app.app_context(), write_transaction() as session:
        session.get(User, user_id).locale = locale


def sign_up_expert(app, name: str = "新专家", email: str = "new.expert@uni.example.cn", phone: str = "13912345678") -> None:
    with app.app_context():
        accounts.sign_up(role=Role.EXPERT, email=email, password=PASSWORD, name=name, phone=phone)


def post_need(app, owner, title: str) -> int:
    with app.app_context():
        return needs.create_need(db.session.get(User, owner.id), {"title": title, "description": "说明"}).id


def notifications(app, kind: str) -> dict[int, list[int | None]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).where(Notification.kind == kind)).all()
        out: dict[int, list[int | None]] = {}
        for row in rows:
            out.setdefault(row.user_id, []).append(row.need_id)
        return out


def test_a_sign_up_tells_every_active_coordinator_in_the_app(app, client, auth, factory):
    first, second = factory.user(role="coordinator"), factory.user(role="coordinator")
    factory.user(role="coordinator", status="disabled")
    factory.user(role="admin")
    sign_up_expert(app)
    assert notifications(app, "signup_pending") == {first.id: [None], second.id: [None]}
    auth.login(first)
    page = client.get("/notifications").get_data(as_text=True)
    assert "有新账号等待审核。" in page and 'href="/coordinator/accounts"' in page


def test_a_sign_up_with_a_taken_address_tells_nobody(app, factory):
    factory.user(role="coordinator")
    taken = factory.user(role="expert")
    with app.app_context():
        assert accounts.sign_up(role=Role.EXPERT, email=taken.email, password=PASSWORD, name="冒名") is None
    assert notifications(app, "signup_pending") == {}


def test_a_new_need_tells_coordinators_with_a_link_to_it(app, client, auth, factory):
    coordinator = factory.user(role="coordinator")
    owner = factory.user(role="enterprise")
    need_id = post_need(app, owner, "荔枝保果技术需求")
    assert notifications(app, "need_posted") == {coordinator.id: [need_id]}
    auth.login(coordinator)
    page = client.get("/notifications").get_data(as_text=True)
    assert f'href="/coordinator/needs/{need_id}"' in page and "荔枝保果技术需求" in page and "有新需求发布" in page
    en = client.get("/notifications?lang=en").get_data(as_text=True)
    assert "A new need was posted. Please review it." in en


def test_a_need_posted_through_the_api_tells_coordinators_too(app, client, factory):
    coordinator = factory.user(role="coordinator")
    owner = factory.user(role="enterprise")
    token = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}).get_json()["token"]
    response = client.post("/api/v1/needs", json={"title": "接口发布的需求"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201
    assert notifications(app, "need_posted") == {coordinator.id: [response.get_json()["id"]]}


def digests(app) -> list[EmailMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(EmailMessage).where(EmailMessage.subject.contains("摘要")
                                                                | EmailMessage.subject.contains("digest"))
                                  .order_by(EmailMessage.id)).all()
        db.session.expunge_all()
        return rows


def test_the_digest_covers_what_is_new_once_in_each_coordinators_language(app, runner, factory):
    zh, en = factory.user(role="coordinator", name="张协调"), factory.user(role="coordinator", name="Ann")
    set_locale(app, en.id, "en")
    owner = factory.user(role="enterprise", organization=factory.organization(name="茂名荔枝合作社"))
    sign_up_expert(app, name="李新", email="li.new@uni.example.cn", phone="13900001111")
    need_id = post_need(app, owner, "荔枝保果")

    result = runner.invoke(args=["mail", "digest"])
    assert result.exit_code == 0 and "queued 2 digest(s)" in result.output
    letters = {m.recipient: m for m in digests(app)}
    assert set(letters) == {zh.email, en.email}
    chinese, english = letters[zh.email], letters[en.email]
    assert "1 条新需求" in chinese.subject and "1 个注册待审核" in chinese.subject
    assert "待审核的注册（1）" in chinese.body and "李新 · 专家" in chinese.body and "荔枝保果 · 茂名荔枝合作社" in chinese.body
    assert f"/coordinator/needs/{need_id}" in chinese.body and "/coordinator/accounts" in chinese.body
    assert "Sign-ups awaiting approval (1):" in english.body and "New needs (1):" in english.body
    assert "李新 · Expert" in english.body and "待审核" not in english.body
    for letter in (chinese, english):  # names and organisations only: no contact details
        for secret in ("li.new@uni.example.cn", "13900001111", owner.contacts["phone"], owner.contacts["email"]):
            assert secret not in letter.body and secret not in letter.subject

    again = runner.invoke(args=["mail", "digest"])
    assert "queued 0 digest(s)" in again.output and len(digests(app)) == 2

    later = post_need(app, owner, "罗非鱼病害")
    third = runner.invoke(args=["mail", "digest"])
    assert "queued 2 digest(s)" in third.output
    newest = [m for m in digests(app) if m.recipient == zh.email][-1]
    assert "罗非鱼病害" in newest.body and f"/coordinator/needs/{later}" in newest.body
    assert "荔枝保果" not in newest.body and "待审核的注册" not in newest.body
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DigestMark)) == 2


def test_an_approved_or_closed_item_is_no_longer_news(app, factory):
    coordinator = factory.user(role="coordinator")
    owner = factory.user(role="enterprise")
    sign_up_expert(app)
    factory.need(owner, title="已关闭", status="closed")
    with app.app_context():
        pending = db.session.scalar(sa.select(User).where(User.email == "new.expert@uni.example.cn"))
        accounts.set_account_status(db.session.get(User, coordinator.id), pending.id, pending.status.ACTIVE)
        from web.domain.coordinator_news import queue_digests

        assert queue_digests() == 0
    assert digests(app) == []


def test_the_digest_lists_at_most_twenty_of_each_and_says_how_many_more(app, factory):
    coordinator = factory.user(role="coordinator")
    owner = factory.user(role="enterprise")
    for i in range(23):
        post_need(app, owner, f"需求{i:02d}")
    with app.app_context():
        from web.domain.coordinator_news import queue_digests

        assert queue_digests() == 1
    (letter,) = digests(app)
    assert letter.recipient == coordinator.email
    assert "新需求（23）" in letter.body and "需求19" in letter.body and "需求20" not in letter.body and "另有 3 条" in letter.body
