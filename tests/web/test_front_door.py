"""The anonymous home page says what the platform does and how each side starts (issue 12, gap 10)."""

from __future__ import annotations

import re

from tests.conftest import csrf_token


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_home_page_tells_each_side_how_to_start_in_chinese(client):
    response = client.get("/")
    assert response.status_code == 200
    html, text = response.get_data(as_text=True), _text(response)
    assert 'href="/auth/signup?role=enterprise"' in html and 'href="/auth/signup?role=expert"' in html
    for words in ("注册为企业", "注册为专家", "怎样开始",
                  "协调员审核", "发布需求",  # enterprise: approval, then posting a need
                  "完善个人资料",  # expert: completing the profile
                  "协调员", "推荐",  # a coordinator proposes
                  "双方都接受", "电话、电子邮箱和微信"):  # both accept, contacts revealed
        assert words in text, words
    steps = re.findall(r'<ol class="steps">(.*?)</ol>', html, re.S)
    assert [s.count("<li>") for s in steps] == [5, 4]


def test_the_home_page_in_english(client):
    page = client.get("/")
    client.post("/lang/en", data={"csrf_token": csrf_token(page), "next": "/"})
    text = _text(client.get("/"))
    for words in ("Sign up as an enterprise", "Sign up as an expert", "How it works",
                  "A coordinator of the association checks and approves the account",
                  "Post a need in your own words", "Complete your profile",
                  "proposes you for an enterprise's need", "When you and the expert have both accepted"):
        assert words in text, words
    assert not re.search(r"[\u4e00-\u9fff]", text.replace("中文", "")), "Chinese left on the English home page"


def test_the_sign_up_buttons_preselect_the_side(client):
    html = client.get("/auth/signup?role=expert").get_data(as_text=True)
    assert re.search(r'<input checked[^>]*value="expert"|<input[^>]*value="expert"[^>]*checked', html), "expert not preselected"
    assert not re.search(r'<input[^>]*checked[^>]*value="enterprise"', html)
    default = client.get("/auth/signup").get_data(as_text=True)
    odd = client.get("/auth/signup?role=coordinator").get_data(as_text=True)  # only the two public sides
    roles = [re.search(r'<ul id="role".*?</ul>', html, re.S).group(0) for html in (default, odd)]
    assert roles[0] == roles[1]


def test_a_signed_in_user_goes_to_their_own_start_page(client, auth):
    auth.login_as("expert")
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/expert/profile")
