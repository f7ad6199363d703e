"""The Chinese catalogue is complete and the UI language can be chosen.

The UI is Chinese by default; English msgids are the English text. The compiled ``.mo``
files are git-ignored and normally built by ``make`` (``translations`` target); the
``compiled_catalogues`` fixture builds them itself when they are missing or older than the
``.po``, so these tests do not depend on ``make`` having run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "web" / "translations"
ZH_PO = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"

# A Python %-format conversion: "%(name)s", "%s", "%d", "%%"...
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _strings(value) -> tuple[str, ...]:
    """msgid or msgstr as a tuple (plural messages have several forms)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text or ""))


@pytest.fixture(scope="session")
def extracted(tmp_path_factory):
    """A fresh template extracted from the code exactly as ``make extract-messages`` does."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(pot), "."],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"pybabel extract failed:\n{result.stdout}\n{result.stderr}"
    return _read(pot)


@pytest.fixture(scope="session")
def zh_catalogue():
    return _read(ZH_PO, locale="zh")


@pytest.fixture(scope="session")
def compiled_catalogues():
    """Compile every catalogue whose .mo is missing or older than its .po (atomically)."""
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        catalogue = _read(po, locale=po.parent.parent.name)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as handle:
                write_mo(handle, catalogue)
            os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the server may run as another user
            os.replace(tmp, mo)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


# -- (a) completeness ---------------------------------------------------------------------


def test_every_extracted_message_has_a_chinese_translation(extracted, zh_catalogue):
    missing = []
    for message in extracted:
        if not message.id:
            continue
        translated = zh_catalogue.get(message.id)
        where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
        if translated is None:
            missing.append(f"{_strings(message.id)[0]!r} ({where}): not in the catalogue")
        elif translated.fuzzy:
            missing.append(f"{_strings(message.id)[0]!r} ({where}): fuzzy")
        elif not all(s.strip() for s in _strings(translated.string)):
            missing.append(f"{_strings(message.id)[0]!r} ({where}): empty msgstr")
    assert not missing, (
        f"{len(missing)} message(s) lack a Chinese translation in {ZH_PO.relative_to(ROOT)} "
        "(run `make extract-messages`, then translate):\n  " + "\n  ".join(missing)
    )


def test_the_chinese_catalogue_has_plural_forms_and_no_stale_entries(extracted, zh_catalogue):
    assert zh_catalogue.num_plurals == 1
    current = {message.id for message in extracted if message.id}
    stale = sorted(_strings(m.id)[0] for m in zh_catalogue if m.id and m.id not in current)
    assert not stale, "entries no longer in the code (run `make extract-messages`):\n  " + "\n  ".join(stale)


# -- (b) placeholders ---------------------------------------------------------------------


def test_placeholders_match_between_msgid_and_msgstr(zh_catalogue):
    wrong = []
    for message in zh_catalogue:
        if not message.id or not message.string:
            continue
        ids, strings = _strings(message.id), _strings(message.string)
        expected = _placeholders(ids[-1])  # the plural msgid names every placeholder
        for form in strings:
            if form and _placeholders(form) != expected:
                wrong.append(f"{ids[0]!r}: {sorted(expected.elements())} != {sorted(_placeholders(form).elements())} in {form!r}")
    assert not wrong, "placeholders differ:\n  " + "\n  ".join(wrong)


def test_no_translation_holds_a_bare_percent_sign(zh_catalogue):
    """Jinja's gettext formats every string with ``%`` (even one without placeholders), so a bare
    "100%" in a translation is a 500 on the page that shows it; "%%" or placeholders only."""
    bare = [f"{_strings(m.id)[0]!r}: {text!r}" for m in zh_catalogue if m.id for text in _strings(m.string)
            if "%" in re.sub(r"%\([a-z_]+\)[sd]|%%", "", text or "")]
    assert not bare, "\n".join(bare)


def test_babel_format_checks_pass(zh_catalogue):
    problems = [f"{_strings(message.id)[0]!r}: {'; '.join(map(str, errors))}" for message, errors in zh_catalogue.check()]
    assert not problems, "\n".join(problems)


# -- (c) the language of the pages ----------------------------------------------------------


def _text(response) -> str:
    return response.get_data(as_text=True)


def test_the_default_ui_is_chinese(client, compiled_catalogues):
    page = _text(client.get("/auth/login"))
    assert '<html lang="zh-CN">' in page
    assert "登录" in page and "电子邮箱" in page  # a template string and a form label
    assert "Sign in" not in page


def test_lang_parameter_gives_english(client, compiled_catalogues):
    page = _text(client.get("/auth/login?lang=en"))
    assert '<html lang="en">' in page
    assert "Sign in" in page and "E-mail" in page
    assert "登录" not in page
    # only for that request: nothing was stored
    assert "登录" in _text(client.get("/auth/login"))


def test_unknown_lang_parameter_falls_back_to_chinese(client, compiled_catalogues):
    page = _text(client.get("/auth/login?lang=fr"))
    assert '<html lang="zh-CN">' in page and "登录" in page


def test_switching_the_language_applies_to_later_requests(client, compiled_catalogues):
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/lang/en", data={"csrf_token": token, "next": "/auth/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/auth/login")
    page = _text(client.get("/auth/login"))
    assert "Sign in" in page and "登录" not in page
    assert "English" not in page and "中文" in page  # the switch now offers Chinese
    assert "Sign in" in _text(client.get("/"))

    token = csrf_token(client.get("/auth/login"))
    client.post("/lang/zh", data={"csrf_token": token, "next": "/auth/login"})
    assert "登录" in _text(client.get("/auth/login"))


def test_switching_to_an_unsupported_language_changes_nothing(client, compiled_catalogues):
    token = csrf_token(client.get("/auth/login"))
    response = client.post("/lang/fr", data={"csrf_token": token})
    assert response.status_code == 302
    assert "登录" in _text(client.get("/auth/login"))


def test_switching_the_language_needs_a_csrf_token(client, compiled_catalogues):
    assert client.post("/lang/en", data={"next": "/auth/login"}).status_code == 400
    assert "登录" in _text(client.get("/auth/login"))


def test_messages_from_python_code_are_translated(client, factory, compiled_catalogues):
    user = factory.user(role="coordinator")
    token = csrf_token(client.get("/auth/login"))
    page = _text(client.post("/auth/login", data={"email": user.email, "password": "wrong-password-123", "csrf_token": token}))
    assert "邮箱或密码错误，或账号尚未启用。" in page

    token = csrf_token(client.get("/auth/login"))
    client.post("/lang/en", data={"csrf_token": token})
    token = csrf_token(client.get("/auth/login"))
    page = _text(client.post("/auth/login", data={"email": user.email, "password": "wrong-password-123", "csrf_token": token}))
    assert "Wrong e-mail or password, or the account is not active yet." in page


def test_the_chosen_language_survives_signing_in(client, auth, factory, compiled_catalogues):
    token = csrf_token(client.get("/auth/login"))
    client.post("/lang/en", data={"csrf_token": token})
    auth.login_as("coordinator")
    page = _text(client.get("/coordinator/queue"))
    assert "Review queue" in page and "待处理需求" not in page


def test_signed_in_users_get_chinese_labels_by_default(client, auth, compiled_catalogues):
    auth.login_as("coordinator")
    page = _text(client.get("/coordinator/queue"))
    assert "待处理需求" in page and "协调员" in page  # nav text and the role label (labels.ROLE)
    assert "Review queue" not in page
