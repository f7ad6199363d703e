"""Import (CSV/XLSX → preview → confirm) and export for coordinators.

Every test file is built here (io.BytesIO, zipfile, openpyxl); no binary fixtures.
"""

from __future__ import annotations

import csv
import html
import io
import re
import secrets
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from models import Achievement, ExpertProfile, Match, MatchStatus, Need, Organization, OrganizationKind, db, write_transaction
from tests.conftest import csrf_token


@pytest.fixture(autouse=True)
def english_ui(client):
    """These tests read English messages; the UI is Chinese unless a user picks English."""
    with client.session_transaction() as session:
        session["lang"] = "en"


def chinese_ui(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "zh"

NEXT_YEAR = date.today().year + 1
EXPERT_HEADER_EN = ["name", "title", "organization", "region", "disciplines", "research_areas", "keywords", "summary",
                    "cooperation_modes", "capacity", "phone", "email", "wechat", "achievements"]
EXPERT_HEADER_ZH = ["姓名", "职称", "单位", "地区", "学科代码", "研究方向", "关键词", "简介", "合作方式", "可承接数", "电话",
                    "邮箱", "微信", "成果"]
NEED_HEADER_ZH = ["标题", "描述", "行业代码", "地区", "合作方式", "预算下限", "预算上限", "截止日期", "企业"]


def expert_rows() -> list[list]:
    return [
        ["王磊", "教授", "西北工业大学", "陕西省西安市", "460", "振动控制、减振器设计", "阻尼, 异响", "长期从事车辆减振研究。",
         "consulting, development", "3", "13800001111", "wanglei@example.cn", "wl_wx",
         f"论文|汽车减振器阻尼特性研究|2021|研究阻尼特性\npatent|一种低噪声减振器|{NEXT_YEAR - 3}|\n悬架异响诊断方法综述"],
        ["Alice Chen", "Professor", "Institute of Metal Research", "辽宁省沈阳市", "460, 530", "fatigue; fracture",
         "spring, fatigue", "Fatigue of automotive springs.", "技术咨询、技术转让", "", "", "", "", "Spring fatigue atlas"],
    ]


def csv_bytes(header: list[str], rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(header: list[str], rows: list[list]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(client, kind: str, filename: str, data: bytes):
    page = client.get("/transfer/")
    assert page.status_code == 200
    return client.post("/transfer/upload", data={"csrf_token": csrf_token(page), "kind": kind,
                                                 "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 302, response.data[:2000]
    match = re.search(r"/transfer/preview/([0-9a-f]{32})$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def confirm(client, token: str):
    page = client.get(f"/transfer/preview/{token}")
    assert page.status_code == 200
    return client.post("/transfer/confirm", data={"csrf_token": csrf_token(page), "token": token})


def problems(response) -> list[tuple[str, str, str]]:
    body = response.data.decode()
    table = re.search(r'<table class="list" id="problems">(.*?)</table>', body, re.S)
    assert table, "no problem table in page"
    rows = re.findall(r"<tr><td>(\d+)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1))
    return [(row, html.unescape(col), html.unescape(problem)) for row, col, problem in rows]


def counts(app) -> dict[str, int]:
    with app.app_context():
        return {model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                for model in (ExpertProfile, Achievement, Need, Organization)}


def stored_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return sorted(folder.iterdir()) if folder.exists() else []


# --- successful imports ---------------------------------------------------------------------

def test_expert_csv_is_previewed_then_imported_with_achievements(app, client, auth):
    auth.login_as("coordinator")
    before = counts(app)
    response = upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows()))
    token = token_of(response)
    preview = client.get(f"/transfer/preview/{token}")
    body = preview.data.decode()
    assert "王磊" in body and "Alice Chen" in body and "西北工业大学" in body
    assert 'id="confirm-form"' in body and 'id="problems"' not in body
    assert counts(app) == before, "nothing is written before the confirmation"
    assert len(stored_files(app)) == 2  # the upload and its metadata, under random names
    assert all(token in path.name for path in stored_files(app))

    done = confirm(client, token)
    assert done.status_code == 302
    after = counts(app)
    assert after["ExpertProfile"] == before["ExpertProfile"] + 2
    assert after["Achievement"] == before["Achievement"] + 4
    assert stored_files(app) == [], "the upload is deleted after the import"
    with app.app_context():
        wang = db.session.scalar(sa.select(ExpertProfile).where(ExpertProfile.name == "王磊"))
        assert wang.user_id is None
        assert wang.organization.name == "西北工业大学" and wang.organization.kind == OrganizationKind.UNIVERSITY
        assert wang.discipline_codes == ["460"] and wang.research_areas == ["振动控制", "减振器设计"]
        assert wang.cooperation_modes == ["consulting", "development"] and wang.capacity == 3
        assert wang.contacts() == {"phone": "13800001111", "email": "wanglei@example.cn", "wechat": "wl_wx"}
        kinds = [(a.kind.value, a.title, a.year) for a in wang.achievements]
        assert kinds == [("paper", "汽车减振器阻尼特性研究", 2021), ("patent", "一种低噪声减振器", NEXT_YEAR - 3),
                         ("paper", "悬架异响诊断方法综述", None)]
        alice = db.session.scalar(sa.select(ExpertProfile).where(ExpertProfile.name == "Alice Chen"))
        assert alice.cooperation_modes == ["consulting", "transfer"] and alice.lang == "en"
        assert alice.organization.kind == OrganizationKind.RESEARCH_INSTITUTE
    # a second confirmation of the same token finds nothing
    again = client.post("/transfer/confirm", data={"csrf_token": csrf_token(client.get("/transfer/")), "token": token})
    assert again.status_code == 404
    assert counts(app) == after


def test_expert_xlsx_with_chinese_headers_and_numeric_cells(app, client, auth):
    auth.login_as("admin")
    rows = expert_rows()
    rows[0][9] = 5  # capacity typed as a number
    rows[0][10] = 13800001111  # phone typed as a number
    rows[0][4] = 460
    token = token_of(upload(client, "experts", "专家.xlsx", xlsx_bytes(EXPERT_HEADER_ZH, rows)))
    assert confirm(client, token).status_code == 302
    with app.app_context():
        wang = db.session.scalar(sa.select(ExpertProfile).where(ExpertProfile.name == "王磊"))
        assert wang.capacity == 5 and wang.phone == "13800001111" and wang.discipline_codes == ["460"]
        assert len(wang.achievements) == 3


def test_needs_xlsx_with_chinese_headers_creates_the_enterprise(app, client, auth, factory):
    existing = factory.organization(name="茂名石化设备有限公司")
    auth.login_as("coordinator")
    rows = [
        ["减振器异响问题", "装车后低速过减速带有异响", "36", "广东省佛山市", "技术咨询，技术开发", 10, 30,
         datetime(NEXT_YEAR, 6, 30), "佛山弹簧制造有限公司"],
        ["换热器结垢", "换热效率一年下降三成", "25", "广东省茂名市", "consulting", None, None, None, "茂名石化设备有限公司"],
    ]
    before = counts(app)
    token = token_of(upload(client, "needs", "needs.xlsx", xlsx_bytes(NEED_HEADER_ZH, rows)))
    preview = client.get(f"/transfer/preview/{token}").data.decode()
    assert "佛山弹簧制造有限公司" in preview and "减振器异响问题" in preview
    assert confirm(client, token).status_code == 302
    after = counts(app)
    assert after["Need"] == before["Need"] + 2 and after["Organization"] == before["Organization"] + 1
    with app.app_context():
        first = db.session.scalar(sa.select(Need).where(Need.title == "减振器异响问题"))
        assert first.organization.kind == OrganizationKind.ENTERPRISE and first.created_by_id is None
        assert first.cooperation_modes == ["consulting", "development"] and first.industry_codes == ["36"]
        assert (first.budget_min, first.budget_max, first.deadline) == (10, 30, date(NEXT_YEAR, 6, 30))
        second = db.session.scalar(sa.select(Need).where(Need.title == "换热器结垢"))
        assert second.organization_id == existing.id and second.budget_min is None


def test_gb18030_csv_from_chinese_excel_is_read(app, client, auth):
    auth.login_as("coordinator")
    rows = [["需求一：焊缝开裂", "焊缝在低温下开裂", "36", "广东省", "技术开发", "5", "8", f"{NEXT_YEAR}/1/31", "佛山焊接有限公司"]]
    data = csv_bytes(NEED_HEADER_ZH, rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    token = token_of(upload(client, "needs", "needs.csv", data))
    assert confirm(client, token).status_code == 302
    with app.app_context():
        need = db.session.scalar(sa.select(Need))
        assert need.title == "需求一：焊缝开裂" and need.organization.name == "佛山焊接有限公司"
        assert need.deadline == date(NEXT_YEAR, 1, 31)


def test_utf8_csv_without_bom_is_read(app, client, auth):
    auth.login_as("coordinator")
    data = csv_bytes(EXPERT_HEADER_EN, expert_rows(), encoding="utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")
    token = token_of(upload(client, "experts", "experts.CSV", data))
    assert confirm(client, token).status_code == 302
    assert counts(app)["ExpertProfile"] == 2


# --- files that cannot be read --------------------------------------------------------------

def _truncated_sheet_xml() -> bytes:
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(EXPERT_HEADER_EN, expert_rows())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            target.writestr(item, content)
    return out.getvalue()


def _zip_without_content_types() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


MALFORMED = {
    "bad encoding": ("experts.csv", b"name,title\n\xff\xfe\xfa,x\n", "UTF-8 or GB18030"),
    "binary data as csv": ("experts.csv", b"name\n\x00\x01\x02", "binary"),
    "xlsx named csv": ("experts.csv", xlsx_bytes(["name"], [["x"]]), "not CSV text"),
    "not a zip": ("experts.xlsx", b"name,title\n\xe7\x8e\x8b,x\n", "not a zip archive"),
    "truncated xlsx": ("experts.xlsx", xlsx_bytes(EXPERT_HEADER_EN, expert_rows())[:900], "truncated"),
    "truncated sheet xml": ("experts.xlsx", _truncated_sheet_xml(), "damaged or truncated"),
    "zip but not a workbook": ("experts.xlsx", _zip_without_content_types(), "[Content_Types].xml"),
    "old xls": ("experts.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Only .csv and .xlsx"),
    "wrong extension": ("experts.txt", b"name\nx\n", "Only .csv and .xlsx"),
    "no extension": ("experts", b"name\nx\n", "Only .csv and .xlsx"),
    "empty file": ("experts.csv", b"", "The file is empty"),
    "header only": ("experts.csv", "\ufeffname,title\n".encode(), "no data rows"),
    "blank header": ("experts.csv", b"\n\nname\n", "first row must hold the column names"),
    "too many rows": ("experts.csv", csv_bytes(["name"], [[f"专家{i}"] for i in range(5001)]), "more than 5,000 data rows"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_unreadable_files_are_refused_with_a_clear_message(app, client, auth, case):
    filename, data, message = MALFORMED[case]
    auth.login_as("coordinator")
    before = counts(app)
    response = upload(client, "experts", filename, data)
    assert response.status_code == 400, response.data[:500]
    assert message in html.unescape(response.data.decode()), case
    assert counts(app) == before and stored_files(app) == []


def test_exactly_5000_rows_are_accepted(app, client, auth):
    auth.login_as("coordinator")
    data = csv_bytes(["name", "organization"], [[f"专家{i}", "某大学"] for i in range(5000)])
    token = token_of(upload(client, "experts", "experts.csv", data))
    assert "5000" in client.get(f"/transfer/preview/{token}").data.decode()


def test_oversized_upload_is_refused_with_413(app, client, auth):
    auth.login_as("coordinator")
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 5 * 1024 * 1024
    response = upload(client, "experts", "big.csv", b"name\n" + b"x" * limit)
    assert response.status_code == 413
    assert stored_files(app) == []


# --- XML attacks ----------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + "]>\n"
)


def _bomb_in(member: str) -> bytes:
    """A real billion-laughs workbook: the entities are declared and used in ``member``."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(EXPERT_HEADER_EN, expert_rows())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == member:
                body = content.decode().split("?>", 1)[-1]
                body = re.sub(r"<t>[^<]*</t>", "<t>&lol9;</t>", body, count=1)
                body = body.replace('name="Sheet"', 'name="&lol9;"')
                assert "&lol9;" in body
                content = (BILLION_LAUGHS + body).encode()
            target.writestr(item, content)
    return out.getvalue()


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml"])
def test_xml_entity_bomb_inside_xlsx_is_refused_quickly(app, client, auth, member):
    data = _bomb_in(member)
    assert b"<!ENTITY lol9" in zipfile.ZipFile(io.BytesIO(data)).read(member)
    auth.login_as("coordinator")
    before = counts(app)
    started = time.monotonic()
    response = upload(client, "experts", "bomb.xlsx", data)
    assert time.monotonic() - started < 10
    assert response.status_code == 400
    assert "XML entity declarations" in html.unescape(response.data.decode())
    assert counts(app) == before and stored_files(app) == []


def test_xlsx_is_refused_when_defusedxml_is_not_active(app, client, auth, monkeypatch):
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    auth.login_as("coordinator")
    response = upload(client, "experts", "experts.xlsx", xlsx_bytes(EXPERT_HEADER_EN, expert_rows()))
    assert response.status_code == 400
    assert "defusedxml" in response.data.decode()


# --- row problems ---------------------------------------------------------------------------

def test_every_row_problem_is_listed_with_row_column_and_problem_and_nothing_is_written(app, client, auth):
    auth.login_as("coordinator")
    rows = expert_rows()
    bad = [
        ["", "教授", "某大学", "", "", "", "", "", "", "", "", "", "", ""],  # row 2: no name
        ["李四", "", "某大学", "", "999", "", "", "", "teleport", "abc", "", "", "", ""],  # row 3: three problems
        ["赵六", "", "某大学", "", "", "", "", "", "", "", "", "", "", "论文|好题目|1800|\nvideo|另一题目||"],  # row 4
    ]
    data = csv_bytes(EXPERT_HEADER_ZH, [rows[0], *bad, rows[1]])
    before = counts(app)
    response = upload(client, "experts", "experts.csv", data)
    assert response.status_code == 200
    found = problems(response)
    assert ("3", "姓名", "must not be empty") in found
    assert any(row == "4" and col == "学科代码" and "unknown discipline code" in p and "999" in p for row, col, p in found)
    assert any(row == "4" and col == "合作方式" and "teleport" in p for row, col, p in found)
    assert ("4", "可承接数", "must be a whole number") in found
    assert any(row == "5" and col == "成果" and p.startswith("line 1: year") for row, col, p in found)
    assert any(row == "5" and col == "成果" and p.startswith("line 2: kind") for row, col, p in found)
    assert len(found) == 6
    assert 'id="confirm-form"' not in response.data.decode()
    assert counts(app) == before and stored_files(app) == []


def test_need_row_problems_name_their_columns(app, client, auth):
    auth.login_as("coordinator")
    rows = [
        ["", "x", "99", "", "", "50", "10", "2001-01-01", "企业甲"],
        ["标题", "", "36", "", "", "", "", "31/12/2030", ""],
    ]
    response = upload(client, "needs", "needs.csv", csv_bytes(NEED_HEADER_ZH, rows))
    found = problems(response)
    assert ("2", "标题", "must not be empty") in found
    assert any(r == "2" and c == "行业代码" and "99" in p for r, c, p in found)
    assert ("2", "预算上限", "must not be less than budget_min") in found
    assert any(r == "2" and c == "截止日期" and "must not be before" in p for r, c, p in found)
    assert ("3", "截止日期", "must be a date as YYYY-MM-DD") in found
    assert any(r == "3" and c == "企业" and "must not be empty" in p for r, c, p in found)
    assert counts(app)["Need"] == 0


@pytest.mark.parametrize("email", ["not-an-email", "wang@", "@example.cn", "wang@example", "wang lei@example.cn"])
def test_an_expert_email_that_is_no_address_is_a_row_error(app, client, auth, email):
    """Issue 12, bug 6: the importer holds an e-mail to the rule of sign-up."""
    auth.login_as("coordinator")
    rows = expert_rows()
    rows[1][11] = email
    response = upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_ZH, rows))
    assert response.status_code == 200, response.headers.get("Location")
    assert problems(response) == [("3", "邮箱", "not a valid e-mail address")]
    assert counts(app)["ExpertProfile"] == 0


def test_an_imported_expert_email_is_stored_as_sign_up_would_store_it(app, client, auth):
    auth.login_as("coordinator")
    rows = expert_rows()
    rows[0][11] = " WangLei@Example.CN "
    assert confirm(client, token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_ZH, rows)))).status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(ExpertProfile.email).where(ExpertProfile.name == "王磊")) == "wanglei@example.cn"


def test_duplicates_in_the_database_and_in_the_file_are_row_errors(app, client, auth, factory):
    owner = factory.user(role="enterprise", organization=factory.organization(name="佛山弹簧制造有限公司"))
    factory.need(owner, title="减振器异响问题")
    with app.app_context(), write_transaction() as session:
        org = Organization(name="西北工业大学", kind=OrganizationKind.UNIVERSITY)
        session.add(ExpertProfile(name="王磊", organization=org))
    auth.login_as("coordinator")
    expert_response = upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows() + expert_rows()[1:]))
    found = problems(expert_response)
    assert any(r == "2" and c == "name" and p.startswith("already exists") for r, c, p in found)
    assert ("4", "name", "appears twice in this file (also row 3)") in found

    need_rows = [["减振器异响问题", "", "36", "", "", "", "", "", "佛山弹簧制造有限公司"],
                 ["减振器异响问题", "", "36", "", "", "", "", "", "另一家企业"],
                 ["新需求", "", "36", "", "", "", "", "", "西北工业大学"]]
    found = problems(upload(client, "needs", "needs.csv", csv_bytes(NEED_HEADER_ZH, need_rows)))
    assert any(r == "2" and c == "标题" and p.startswith("already exists") for r, c, p in found)
    assert any(r == "4" and c == "企业" and "not an enterprise" in p for r, c, p in found)
    assert len(found) == 2  # the same title for another enterprise is fine
    assert counts(app)["Need"] == 1 and counts(app)["ExpertProfile"] == 1


def test_header_problems_are_reported_on_row_1(app, client, auth):
    auth.login_as("coordinator")
    found = problems(upload(client, "experts", "x.csv", csv_bytes(["title", "单位", "序号"], [["教授", "某大学", "1"]])))
    assert found == [("1", "姓名/name", "this required column is missing")]
    found = problems(upload(client, "experts", "x.csv", csv_bytes(["name", "姓名"], [["王磊", "王磊"]])))
    assert found == [("1", "姓名", "the same column appears twice (also column A)")]


def test_values_outside_named_columns_are_reported_and_unknown_columns_listed(app, client, auth):
    auth.login_as("coordinator")
    response = upload(client, "experts", "x.csv", csv_bytes(["序号", "name"], [["1", "王磊", "stray"]]))
    assert problems(response) == [("2", "column C", "has a value but the column has no name in row 1")]
    assert "序号" in response.data.decode().split('id="ignored-columns"')[1][:300]


def test_confirm_rechecks_and_writes_nothing_when_the_data_changed(app, client, auth):
    auth.login_as("coordinator")
    token = token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows())))
    with app.app_context(), write_transaction() as session:
        session.add(ExpertProfile(name="Alice Chen", organization=Organization(
            name="Institute of Metal Research", kind=OrganizationKind.RESEARCH_INSTITUTE)))
    before = counts(app)
    response = confirm(client, token)
    assert response.status_code == 200
    assert any(r == "3" and p.startswith("already exists") for r, _c, p in problems(response))
    assert counts(app) == before, "all or nothing: 王磊 was valid but is not written either"


def test_a_failure_halfway_through_the_write_rolls_everything_back(app, client, auth, monkeypatch):
    from web.formats import imports

    calls = []

    def failing_language(*texts):
        calls.append(texts)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return "zh"

    auth.login_as("coordinator")
    token = token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows())))
    monkeypatch.setattr(imports, "_language", failing_language)
    before = counts(app)
    assert confirm(client, token).status_code == 500
    assert counts(app) == before
    assert client.get(f"/transfer/preview/{token}").status_code == 200, "the upload is kept for another try"


# --- tokens and access ----------------------------------------------------------------------

@pytest.mark.parametrize("token,status", [
    (secrets.token_hex(16), 404),  # well-formed but unknown
    ("../../etc/passwd", 400),
    ("A" * 32, 400),
    ("", 400),
])
def test_confirm_with_a_forged_token_is_refused(app, client, auth, token, status):
    auth.login_as("coordinator")
    page = client.get("/transfer/")
    response = client.post("/transfer/confirm", data={"csrf_token": csrf_token(page), "token": token})
    assert response.status_code == status
    assert counts(app)["ExpertProfile"] == 0


def test_an_upload_belongs_to_the_coordinator_who_made_it(app, client, auth, factory):
    auth.login_as("coordinator")
    token = token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows())))
    other = app.test_client()
    colleague = factory.user(role="coordinator")
    login_page = other.get("/auth/login")
    other.post("/auth/login", data={"email": colleague.email, "password": factory.PASSWORD,
                                    "csrf_token": csrf_token(login_page)})
    assert other.get(f"/transfer/preview/{token}").status_code == 404
    response = other.post("/transfer/confirm", data={"csrf_token": csrf_token(other.get("/transfer/")), "token": token})
    assert response.status_code == 404
    assert counts(app)["ExpertProfile"] == 0
    assert client.get(f"/transfer/preview/{token}").status_code == 200


def test_confirm_without_csrf_token_is_refused(app, client, auth):
    auth.login_as("coordinator")
    token = token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows())))
    assert client.post("/transfer/confirm", data={"token": token}).status_code == 400
    assert counts(app)["ExpertProfile"] == 0


URLS = [("GET", "/transfer/"), ("POST", "/transfer/upload"), ("GET", f"/transfer/preview/{'0' * 32}"),
        ("POST", "/transfer/confirm"), ("GET", "/transfer/export/experts.csv"), ("GET", "/transfer/export/needs.xlsx")]


@pytest.mark.parametrize("role", ["enterprise", "expert"])
def test_enterprises_and_experts_are_refused(app, client, auth, role):
    auth.login_as(role)
    app.config["WTF_CSRF_ENABLED"] = False
    for method, url in URLS:
        response = client.open(url, method=method, data={})
        assert response.status_code == 403, (method, url)
        assert b"13800001111" not in response.data


def test_anonymous_callers_are_sent_to_login(app, client):
    app.config["WTF_CSRF_ENABLED"] = False
    for method, url in URLS:
        response = client.open(url, method=method, data={})
        assert response.status_code == 302, (method, url)
        assert "/auth/login" in response.headers["Location"]


# --- exports --------------------------------------------------------------------------------

FORMULAS = {
    "name": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "title": "+1+1",
    "summary": "-2+3",
    "phone": "@SUM(A1:A2)",
    "wechat": "\tcmd",
    "email": "\r=1",
}


def _formula_expert(app) -> None:
    with app.app_context(), write_transaction() as session:
        org = Organization(name="=org()", kind=OrganizationKind.UNIVERSITY)
        session.add(ExpertProfile(organization=org, keywords=["=kw"], **FORMULAS))


def test_csv_export_escapes_formulas_and_starts_with_a_bom(app, client, auth):
    chinese_ui(client)  # exports use the Chinese column names by default
    _formula_expert(app)
    auth.login_as("coordinator")
    response = client.get("/transfer/export/experts.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    header, row = rows[0], rows[1]
    record = dict(zip(header, row, strict=True))
    for field, value in FORMULAS.items():
        column = {"name": "姓名", "title": "职称", "summary": "简介", "phone": "电话", "wechat": "微信", "email": "邮箱"}[field]
        assert record[column] == "'" + value, field
    assert record["单位"] == "'=org()" and record["关键词"] == "'=kw"
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_xlsx_export_escapes_formulas(app, client, auth):
    _formula_expert(app)
    auth.login_as("admin")
    response = client.get("/transfer/export/experts.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells), "no cell is a formula"
    values = {cell.value for cell in cells if isinstance(cell.value, str)}
    for value in FORMULAS.values():
        assert "'" + value.replace("\r", "\n") in values  # XML reads a raw CR back as LF
    assert "'=org()" in values


def test_exports_of_needs_and_matches_hold_the_records(app, client, auth, factory):
    chinese_ui(client)  # exports use the Chinese column names by default
    owner = factory.user(role="enterprise", organization=factory.organization(name="佛山弹簧制造有限公司"))
    need = factory.need(owner, title="减振器异响问题", cooperation_modes=["consulting"], budget_min=5, budget_max=9)
    expert = factory.user(role="expert", name="王磊")
    with app.app_context(), write_transaction() as session:
        session.add(Match(need_id=need.id, expert_id=expert.expert_id, status=MatchStatus.PROPOSED, score=0.8123456))
    auth.login_as("coordinator")
    needs_csv = client.get("/transfer/export/needs.csv").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(needs_csv, newline="")))
    assert rows[0]["标题"] == "减振器异响问题" and rows[0]["企业"] == "佛山弹簧制造有限公司"
    assert rows[0]["合作方式"] == "技术咨询" and rows[0]["预算下限"] == "5" and rows[0]["状态"] == "待对接"
    english = client.get("/transfer/export/needs.csv?lang=en").data.decode("utf-8-sig")
    assert list(csv.DictReader(io.StringIO(english, newline="")))[0]["cooperation_modes"] == "consulting"
    matches = openpyxl.load_workbook(io.BytesIO(client.get("/transfer/export/matches.xlsx").data)).worksheets[0]
    values = list(matches.iter_rows(values_only=True))
    header = values[0]
    record = dict(zip(header, values[1], strict=True))
    assert record["需求标题"] == "减振器异响问题" and record["专家姓名"] == "王磊"
    assert record["状态"] == "已推荐对接" and record["匹配分"] == pytest.approx(0.8123, abs=1e-4)
    assert client.get("/transfer/export/secrets.csv").status_code == 404
    assert client.get("/transfer/export/needs.pdf").status_code == 404


def test_match_exports_show_display_names_readable_closing_reasons_and_local_times(app, client, auth, factory):
    owner = factory.user(role="enterprise")
    need = factory.need(owner, title="减振器异响问题", status="matched", created_at=datetime(2024, 3, 31, 20, 0, tzinfo=UTC))
    signed, closed = factory.user(role="expert"), factory.user(role="expert")
    with app.app_context(), write_transaction() as session:
        session.add(Match(need_id=need.id, expert_id=signed.expert_id, status=MatchStatus.CONTRACT,
                          created_at=datetime(2024, 4, 2, 18, 30, tzinfo=UTC)))
        session.add(Match(need_id=need.id, expert_id=closed.expert_id, status=MatchStatus.CLOSED,
                          closed_reason="not_feasible: 成本过高"))
    auth.login_as("coordinator")
    chinese_ui(client)
    zh = list(csv.DictReader(io.StringIO(client.get("/transfer/export/matches.csv").data.decode("utf-8-sig"), newline="")))
    en = list(csv.DictReader(io.StringIO(client.get("/transfer/export/matches.csv?lang=en").data.decode("utf-8-sig"), newline="")))
    assert [(r["状态"], r["关闭原因"]) for r in zh] == [("已签约", ""), ("已关闭", "不可行: 成本过高")]
    assert [(r["status"], r["closed_reason"]) for r in en] == [("Contract signed", ""), ("Closed", "Not feasible: 成本过高")]
    assert zh[0]["创建时间"] == "2024-04-03 02:30"  # Beijing time, not the stored UTC
    needs_zh = list(csv.DictReader(io.StringIO(client.get("/transfer/export/needs.csv").data.decode("utf-8-sig"), newline="")))
    assert needs_zh[0]["状态"] == "已对接" and needs_zh[0]["创建时间"] == "2024-04-01 04:00"


def test_an_exported_expert_file_is_understood_by_the_importer(app, client, auth):
    chinese_ui(client)  # exports use the Chinese column names by default
    auth.login_as("coordinator")
    token = token_of(upload(client, "experts", "experts.csv", csv_bytes(EXPERT_HEADER_EN, expert_rows())))
    confirm(client, token)
    exported = client.get("/transfer/export/experts.xlsx").data
    response = upload(client, "experts", "again.xlsx", exported)
    found = problems(response)
    assert [(r, c) for r, c, _p in found] == [("2", "姓名"), ("3", "姓名")]
    assert all(p.startswith("已存在") for _r, _c, p in found)  # the Chinese UI says "already exists"
    body = response.data.decode()
    assert "编号" in body.split('id="ignored-columns"')[1][:500]


def test_index_page_warns_that_expert_exports_hold_contacts(client, auth):
    auth.login_as("coordinator")
    body = client.get("/transfer/").data.decode()
    assert "contact details" in body and "/transfer/export/experts.csv" in body
    assert 'enctype="multipart/form-data"' in body
