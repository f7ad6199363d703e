"""One field spec per input: every surface that knows a field's limits agrees with
``web.domain.fields`` — the service's cleaners, the database columns, the WTForms forms, the
OpenAPI document and the import columns. A limit written by hand in any of them (a
``String(150)``, a ``Length(max=300)``, a ``maxLength`` in the document) fails here.

The labels that pages show come from the spec too: the event form's name field and the import
preview's 职称 column (issue 12, bug 3).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from models import Base, Role
from web.api.openapi import document
from web.auth.forms import SignupForm
from web.coordinator.forms import EventForm
from web.domain import fields as spec
from web.domain.accounts import clean_sign_up
from web.domain.errors import ValidationError
from web.domain.events import clean_event
from web.domain.experts import clean_achievement, clean_profile
from web.domain.needs import clean_need
from web.enterprise.forms import NeedForm
from web.expert.forms import AchievementForm, ProfileForm
from web.formats.transfer_columns import COLUMNS

SPECS = [spec.NEED, spec.PROFILE, spec.ACHIEVEMENT, spec.SIGN_UP, spec.EVENT]
FIELDS = [pytest.param(s, f, id=f"{s.record}.{f.name}") for s in SPECS for f in s]
# Sign-up's e-mail and password are checked by normalise_email and the password policy (own tests).
CLEANED_FIELDS = [p for p in FIELDS if p.id not in ("sign-up.email", "sign-up.password", "sign-up.role")]
FORMS = {"need": NeedForm, "profile": ProfileForm, "achievement": AchievementForm, "sign-up": SignupForm, "event": EventForm}
TEXT_KINDS = (spec.TEXT, spec.MULTILINE, spec.EMAIL)


def _clean(record: str, data: dict) -> dict:
    """The service's cleaner of ``record``, on the fields of ``data`` only."""
    if record == "need":
        return clean_need(data, partial=True)
    if record == "profile":
        return clean_profile(data, partial=True)
    if record == "achievement":
        return clean_achievement(data, partial=True)
    if record == "event":
        return clean_event({"name": "对接会", "starts_at": "2030-01-01 09:30", **data})
    if record == "sign-up":
        return clean_sign_up(Role.EXPERT, **{"name": "张三", **{("organization_name" if k == "organization" else k): v
                                                                 for k, v in data.items()}})
    raise AssertionError(record)


def _refused(record: str, data: dict, field: str) -> bool:
    try:
        _clean(record, data)
    except ValidationError as exc:
        return field in exc.fields
    return False


def _sample(f: spec.Field, length: int) -> str:
    if f.kind == spec.EMAIL:
        return "a" * 64 + "@" + "b" * (length - 64 - len("@.cn")) + ".cn"
    return "汉" * length


# -- the service ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "f"), CLEANED_FIELDS)
def test_the_service_accepts_each_limit_and_refuses_one_beyond_it(app, fields, f):
    with app.test_request_context():
        if f.kind in TEXT_KINDS and f.max_len:
            assert not _refused(fields.record, {f.name: _sample(f, f.max_len)}, f.name)
            assert _refused(fields.record, {f.name: _sample(f, f.max_len + 1)}, f.name)
        if f.kind == spec.LIST:
            assert not _refused(fields.record, {f.name: ["汉" * f.max_len] + [f"k{i}" for i in range(f.max_items - 1)]}, f.name)
            assert _refused(fields.record, {f.name: [f"k{i}" for i in range(f.max_items + 1)]}, f.name)
            assert _refused(fields.record, {f.name: ["汉" * (f.max_len + 1)]}, f.name)
        if f.kind == spec.INTEGER:
            assert not _refused(fields.record, {f.name: f.min_value}, f.name)
            assert not _refused(fields.record, {f.name: f.max_value}, f.name)
            assert _refused(fields.record, {f.name: f.min_value - 1}, f.name)
            assert _refused(fields.record, {f.name: f.max_value + 1}, f.name)
        if f.kind == spec.CODES:
            codes = ["36", "37", "38", "39", "40", "41", "42", "43", "44", "45", "46"] if f.taxonomy == "industry" else \
                ["110", "120", "130", "140", "150", "160", "170", "180", "190", "210", "220"]
            assert not _refused(fields.record, {f.name: codes[: f.max_items]}, f.name)
            assert _refused(fields.record, {f.name: codes[: f.max_items + 1]}, f.name)
        if f.required and f.kind in TEXT_KINDS:
            assert _refused(fields.record, {f.name: "  "}, f.name)


# -- the database -----------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "f"), FIELDS)
def test_each_column_holds_exactly_what_the_spec_allows(fields, f):
    if f.kind in TEXT_KINDS:
        assert f.columns, f"{fields.record}.{f.name} does not say where it is stored"
    for name in f.columns:
        table, column = name.split(".")
        column_type = Base.metadata.tables[table].c[column].type
        if isinstance(column_type, sa.String) and column_type.length is not None:
            assert column_type.length == f.max_len, f"{name} is String({column_type.length}), the spec says {f.max_len}"
        else:
            assert isinstance(column_type, sa.Text), f"{name}: {column_type!r}"


# -- the forms --------------------------------------------------------------------------------


def _validators(form_class, name: str) -> list:
    unbound = getattr(form_class, name, None)
    assert unbound is not None, f"{form_class.__name__} has no field {name}"
    return list(unbound.kwargs.get("validators") or (unbound.args[1] if len(unbound.args) > 1 else []))


@pytest.mark.parametrize(("fields", "f"), FIELDS)
def test_each_form_field_has_the_spec_limits_and_label(fields, f):
    form_class = FORMS[fields.record]
    validators = _validators(form_class, f.name)
    lengths = [v.max for v in validators if isinstance(v, Length)]
    assert lengths == ([f.input_max_len] if f.input_max_len is not None else []), f"{form_class.__name__}.{f.name}"
    ranges = [(v.min, v.max) for v in validators if isinstance(v, NumberRange)]
    assert ranges == ([(f.min_value, f.max_value)] if f.kind == spec.INTEGER else [])
    assert any(isinstance(v, (DataRequired, InputRequired)) for v in validators) == f.required
    label = getattr(form_class, f.name).kwargs["label"]  # a lazy translation of the spec's msgid
    assert label._args == (f.form_label.msgid,)


def test_every_form_field_with_a_limit_has_a_spec():
    for record, form_class in FORMS.items():
        for name in dir(form_class):
            unbound = getattr(form_class, name)
            if hasattr(unbound, "field_class") and any(isinstance(v, (Length, NumberRange)) for v in _validators(form_class, name)):
                assert name in spec.SPECS[record], f"{form_class.__name__}.{name} has a limit the {record} spec does not know"


# -- the OpenAPI document -----------------------------------------------------------------------

API_INPUTS = {"NeedInput": spec.NEED, "AchievementInput": spec.ACHIEVEMENT, "ExpertPatch": spec.PROFILE}


def _api_property(schema: dict, f: spec.Field) -> dict:
    if f.contact:
        return schema["properties"]["contacts"]["properties"][f.name]
    return schema["properties"][f.name]


@pytest.mark.parametrize("name", sorted(API_INPUTS))
def test_the_api_schemas_say_what_the_spec_says(name):
    fields = API_INPUTS[name]
    schema = document()["components"]["schemas"][name]
    described = set(schema["properties"]) - {"contacts"} | set(schema["properties"].get("contacts", {}).get("properties", {}))
    assert described == set(fields.names)
    for f in fields:
        prop = _api_property(schema, f)
        if f.kind in TEXT_KINDS:
            assert prop["maxLength"] == f.max_len, f.name
            assert prop.get("minLength", 0) == (1 if f.required else 0), f.name
        if f.kind == spec.LIST:
            assert (prop["maxItems"], prop["items"]["maxLength"]) == (f.max_items, f.max_len), f.name
        if f.kind == spec.CODES:
            assert prop["maxItems"] == f.max_items, f.name
        if f.kind == spec.INTEGER:
            assert (prop["minimum"], prop["maximum"]) == (f.min_value, f.max_value), f.name
        if f.kind in (spec.CHOICE, spec.MODES):
            assert (prop.get("enum") or prop["items"]["enum"]) == list(f.choices), f.name
    if name != "ExpertPatch":  # a patch sends only what changes
        assert sorted(schema.get("required", [])) == sorted(f.name for f in fields if f.required)


def test_the_api_responses_list_the_spec_fields():
    schemas = document()["components"]["schemas"]
    for name, fields in (("Need", spec.NEED), ("Achievement", spec.ACHIEVEMENT), ("Expert", spec.PROFILE)):
        assert {f.name for f in fields if not f.contact} <= set(schemas[name]["properties"]), name
    assert set(schemas["Contacts"]["properties"]) == {f.name for f in spec.PROFILE if f.contact}


# -- the import columns ---------------------------------------------------------------------------


def test_import_columns_are_the_fields_of_the_specs():
    records = {"experts": spec.PROFILE, "needs": spec.NEED}
    for kind, columns in COLUMNS.items():
        for column in columns:
            if column.field in records[kind]:
                assert column.spec is records[kind][column.field], f"{kind}.{column.field}"
            else:
                assert column.field in ("organization", "achievements"), f"{kind}.{column.field} has no field spec"
        required = {c.field for c in columns if c.required}
        expected = {f.name for f in records[kind] if f.required} - {"capacity"}  # capacity has a default
        assert expected <= required, kind
    organization = {c.field: c.spec for c in COLUMNS["experts"]}["organization"]
    assert organization.max_len == spec.SIGN_UP["organization"].max_len == spec.ORGANIZATION.max_len


# -- labels on the pages (issue 12, bug 3) ------------------------------------------------------


def _chinese(client) -> None:
    with client.session_transaction() as session:
        session["lang"] = "zh"


def test_the_event_name_field_is_labelled_event_name(client, auth):
    auth.login_as("coordinator")
    _chinese(client)
    page = client.get("/coordinator/events").data.decode()
    label = re.search(r'<label for="name">(.*?)</label>', page)
    assert label and label.group(1) == "活动名称", label
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get("/coordinator/events").data.decode()
    assert re.search(r'<label for="name">(.*?)</label>', page).group(1) == "Event name"


def test_the_import_preview_labels_the_professional_title_column(client, auth):
    from tests.web.test_transfer import csv_bytes, upload

    auth.login_as("coordinator")
    _chinese(client)
    response = upload(client, "experts", "experts.csv", csv_bytes(["姓名", "职称", "单位"], [["王磊", "教授", "西北工业大学"]]))
    assert response.status_code == 302, response.data[:500]
    page = client.get(response.headers["Location"]).data.decode()
    header = re.search(r'<table class="list small" id="preview-rows">\s*<thead>(.*?)</thead>', page, re.S).group(1)
    cells = re.findall(r"<th>(.*?)</th>", header)
    assert cells[:4] == ["行号", "姓名", "职称", "单位"], cells
    assert "标题" not in cells
    with client.session_transaction() as session:
        session["lang"] = "en"
    page = client.get(response.headers["Location"]).data.decode()
    assert "<th>Professional title</th>" in page and "<th>Title</th>" not in page


def test_import_preview_of_needs_labels_the_title_column_title(client, auth):
    from tests.web.test_transfer import NEED_HEADER_ZH, csv_bytes, upload

    auth.login_as("coordinator")
    _chinese(client)
    row = ["减振器异响", "装车后异响", "36", "广东省", "技术咨询", "", "", "", "茂名减振器有限公司"]
    response = upload(client, "needs", "needs.csv", csv_bytes(NEED_HEADER_ZH, [row]))
    assert response.status_code == 302, response.data[:500]
    page = client.get(response.headers["Location"]).data.decode()
    header = re.search(r'id="preview-rows">\s*<thead>(.*?)</thead>', page, re.S).group(1)
    assert re.findall(r"<th>(.*?)</th>", header)[:3] == ["行号", "标题", "企业"]


def test_a_field_error_names_the_field_with_its_spec_label(app):
    from web.domain.errors import localize

    with app.test_request_context():  # the UI is Chinese by default
        try:
            clean_event({"name": "", "starts_at": "2030-01-01 09:30"})
        except ValidationError as exc:
            message = localize(exc.message)
        else:
            raise AssertionError("an event without a name was accepted")
    assert message.startswith("活动名称"), message
    assert "姓名" not in message
