import re
from html import unescape as html_unescape

import sqlalchemy as sa

from models import Achievement, AchievementKind, EmailMessage, db
from tests.conftest import csrf_token
from web.infra.mail import deliver_pending, mask

PASTE = "\n".join((
    "[1] 陈志远, 李明. 荔枝花芽分化期低温调控的生理机制[J]. 园艺学报, 2021, 48(3): 401-410.",
    "黄海涛. 一种罗非鱼链球菌病灭活疫苗的制备方法: 中国, CN112345678A[P]. 2021-03-05.",
    "看不出是什么的一行",
    'L. Wang and M. Zhao, "Few-shot defect detection on assembly lines," in Proc. IEEE ICRA, 2022, pp. 881-887.',
))


def _achievements(app, expert) -> list[Achievement]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Achievement).where(Achievement.expert_id == expert.expert_id)
                                  .order_by(Achievement.id)).all()
        db.session.expunge_all()
        return rows


def _preview(client, text: str):
    page = client.get("/expert/profile")
    return client.post("/expert/achievements/bulk", data={"csrf_token": csrf_token(page), "publications": text})


def _form_of(response) -> dict:
    """The preview form's fields as the browser would send them (ticked boxes only)."""
    html = response.get_data(as_text=True)
    data = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                data[name.group(1)] = "on"
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = html_unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        data[name] = re.search(r'<option value="([^"]+)" selected', body).group(1)
    return data


def test_pasted_citations_are_previewed_and_nothing_is_stored_before_confirming(app, client, auth):
    expert = auth.login_as("expert")
    response = _preview(client, PASTE)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="bulk-preview"' in html
    assert _achievements(app, expert) == []  # the preview stores nothing
    form = _form_of(response)
    assert form["rows"] == "4"
    assert (form["r0-title"], form["r0-authors"], form["r0-venue"], form["r0-year"], form["r0-kind"]) == (
        "荔枝花芽分化期低温调控的生理机制", "陈志远, 李明", "园艺学报", "2021", "paper")
    assert (form["r1-kind"], form["r1-venue"]) == ("patent", "中国, CN112345678A")
    # The unreadable line is shown with its reason, its text kept, and left unticked.
    assert "r2-include" not in form and form["r2-title"] == "看不出是什么的一行"
    row = re.search(r'<tr id="bulk-row-3".*?</tr>', html, re.S).group(0)
    assert "GB/T 7714" in row or "APA" in row  # the reason names the styles that are read
    assert all(f"r{i}-include" in form for i in (0, 1, 3))


def test_confirming_stores_the_ticked_rows_as_edited(app, client, auth):
    expert = auth.login_as("expert")
    form = _form_of(_preview(client, PASTE))
    form["r0-title"] = "荔枝花芽分化的低温调控"  # the professor shortens a title
    form["r3-year"] = "2023"  # and fixes a year
    form["r3-kind"] = "award"
    del form["r1-include"]  # and drops the patent
    response = client.post("/expert/achievements/bulk/confirm", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/expert/profile#achievements")
    stored = [(a.title, a.kind, a.year, a.authors, a.venue) for a in _achievements(app, expert)]
    assert stored == [
        ("荔枝花芽分化的低温调控", AchievementKind.PAPER, 2021, "陈志远, 李明", "园艺学报"),
        ("Few-shot defect detection on assembly lines", AchievementKind.AWARD, 2023, "L. Wang and M. Zhao", "Proc. IEEE ICRA"),
    ]
    profile = client.get("/expert/profile").get_data(as_text=True)
    assert "园艺学报" in profile and "陈志远, 李明" in profile


def test_a_bad_row_is_named_and_nothing_is_stored(app, client, auth):
    expert = auth.login_as("expert")
    form = _form_of(_preview(client, PASTE))
    form["r1-year"] = "1850"
    form["r2-include"] = "on"  # ticks the unread line: its title is the pasted text, which is fine
    form["r3-title"] = "x" * 301
    response = client.post("/expert/achievements/bulk/confirm", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert _achievements(app, expert) == []
    assert "2, 4" in html  # the flash names the lines
    for line, words in ((2, "1950"), (4, "300")):
        row = re.search(rf'<tr id="bulk-row-{line}".*?</tr>', html, re.S).group(0)
        assert 'class="error bulk-problem"' in row and words in row, row
    assert "bulk-problem" not in re.search(r'<tr id="bulk-row-1".*?</tr>', html, re.S).group(0)
    assert 'value="x' in html  # the edits are kept for fixing
    form["r1-year"], form["r3-title"] = "2021", "A shorter title"
    assert client.post("/expert/achievements/bulk/confirm", data=form).status_code == 302
    assert len(_achievements(app, expert)) == 4


def test_the_preview_is_in_english_too(client, auth):
    auth.login_as("expert")
    page = client.get("/expert/profile")
    client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": "/expert/profile"})
    html = _preview(client, "看不出是什么的一行\nSmith, J. (2020). A title. Some Journal, 3(1), 1-2.").get_data(as_text=True)
    assert "Check the pasted achievements" in html and "Journal article" in html
    assert "not a citation we can read" in html


def test_an_empty_paste_or_too_many_lines_is_refused_without_a_preview(app, client, auth):
    expert = auth.login_as("expert")
    response = _preview(client, "  \n\n")
    assert response.status_code == 302
    assert "请至少粘贴一行" in client.get("/expert/profile").get_data(as_text=True)
    response = _preview(client, "\n".join(f"论文{i}, 期刊, 2020" for i in range(201)))
    assert response.status_code == 302
    assert "一次最多 200 行（当前 201 行）" in client.get("/expert/profile").get_data(as_text=True)
    assert _achievements(app, expert) == []


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


def test_an_achievement_is_edited_in_place_and_only_by_its_owner(app, client, auth, factory):
    expert = auth.login_as("expert")
    mine = factory.achievement(expert, title="旧题名", year=2019)
    other = factory.user(role="expert")
    theirs = factory.achievement(other, title="别人的成果")
    page = client.get("/expert/profile")
    assert f'action="/expert/achievements/{mine.id}/edit"' in page.get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "kind": "patent", "title": "新题名", "year": "2020",
            "authors": "陈志远", "venue": "CN112345678A", "abstract": "一段摘要"}
    response = client.post(f"/expert/achievements/{mine.id}/edit", data=form)
    assert response.headers["Location"].endswith(f"/expert/profile#achievement-{mine.id}")
    with app.app_context():
        a = db.session.get(Achievement, mine.id)
        assert (a.title, a.kind, a.year, a.authors, a.venue, a.abstract) == (
            "新题名", AchievementKind.PATENT, 2020, "陈志远", "CN112345678A", "一段摘要")
    assert client.post(f"/expert/achievements/{mine.id}/edit", data={**form, "year": "1800"}).status_code == 302
    assert client.post(f"/expert/achievements/{theirs.id}/edit", data=form).status_code == 404
    with app.app_context():
        assert db.session.get(Achievement, mine.id).year == 2020
        assert db.session.get(Achievement, theirs.id).title == "别人的成果"
