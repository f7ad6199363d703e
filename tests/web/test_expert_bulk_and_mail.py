import sqlalchemy as sa

from models import Achievement, AchievementKind, EmailMessage, db
from tests.conftest import csrf_token
from web.domain.experts import parse_publication_list
from web.infra.mail import deliver_pending, mask


def test_publication_lines_become_achievements_with_year_and_kind():
    items = parse_publication_list("""
        1. 罗非鱼无乳链球菌病灭活疫苗的研制，水产学报，2021
        一种荔枝保鲜的方法，发明专利 ZL201910000000.1 (2020)
        - NY/T 1234-2018 荔枝栽培技术规程
        广东省重点领域研发计划项目：南药种植 2019-2022

        Damping valve modelling for shock absorbers, SAE paper 2023
    """)
    assert [(i["kind"], i["year"]) for i in items] == [("paper", 2021), ("patent", 2020), ("standard", 2018),
                                                        ("project", 2019), ("paper", 2023)]
    assert items[0]["title"].startswith("罗非鱼无乳链球菌病灭活疫苗的研制")


def test_bulk_paste_adds_every_line_or_none(app, client, auth):
    expert = auth.login_as("expert")
    page = client.get("/expert/profile")
    response = client.post("/expert/achievements/bulk", data={"csrf_token": csrf_token(page),
                                                               "publications": "论文一 2020\n专利二 2021\n"})
    assert response.status_code == 302
    with app.app_context():
        rows = db.session.scalars(sa.select(Achievement).where(Achievement.expert_id == expert.expert_id)).all()
        assert sorted((a.title, a.kind) for a in rows) == [("专利二 2021", AchievementKind.PATENT), ("论文一 2020", AchievementKind.PAPER)]
    too_long = "x" * 301
    client.post("/expert/achievements/bulk", data={"csrf_token": csrf_token(client.get("/expert/profile")),
                                                   "publications": f"好的一行 2022\n{too_long}"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Achievement)) == 2


def test_mail_dispatcher_logs_in_demo_mode_and_records_delivery(ctx, caplog):
    with db.session.begin():
        db.session.add(EmailMessage(recipient="zhang.san@univ.example.cn", subject="s", body="b"))
    caplog.set_level("INFO", logger="matcher.mail")
    assert deliver_pending({"MAIL_SERVER": ""}) == 1
    assert db.session.scalar(sa.select(EmailMessage.sent_at)) is not None
    assert "zhang.san@univ.example.cn" not in caplog.text and mask("zhang.san@univ.example.cn") in caplog.text
    assert deliver_pending({"MAIL_SERVER": ""}) == 0


def test_unreachable_smtp_server_is_retried_not_lost(ctx):
    with db.session.begin():
        db.session.add(EmailMessage(recipient="a@b.example.cn", subject="s", body="b"))
    config = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": 1, "MAIL_SENDER": "x@y.cn", "MAIL_USE_TLS": False}
    assert deliver_pending(config) == 0
    message = db.session.scalar(sa.select(EmailMessage))
    assert message.sent_at is None and message.attempts == 1 and "Error" in message.last_error
