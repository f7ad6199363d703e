"""Form helpers shared by blueprints."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from matcher.taxonomy import load_taxonomy

from .domain import fields as spec
from .domain.errors import FIELD_LABELS, ValidationError, localize
from .labels import COOPERATION_MODE


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ActionForm(FlaskForm):
    """A button that only carries the CSRF token (delete, withdraw, approve...)."""

    submit = SubmitField(_l("Confirm"))


def field_args(f: spec.Field, **extra) -> dict:
    """A form field's label and validators, from its field spec: required or optional, the
    length limit of text, the range of numbers. ``extra`` goes to the field as it is."""
    validators: list = []
    if f.required:
        validators.append(InputRequired() if f.kind in (spec.INTEGER, spec.DATE, spec.DATETIME, spec.BOOLEAN) else DataRequired())
    else:
        validators.append(Optional())
    if f.input_max_len is not None:
        validators.append(Length(max=f.input_max_len))
    if f.min_value is not None or f.max_value is not None:
        validators.append(NumberRange(min=f.min_value, max=f.max_value))
    return {"label": _l(f.form_label.msgid), "validators": validators, **extra}


def industry_picker(max_items: int | None) -> dict:
    """``render_kw`` of an industry multi-select that static/picker.js turns into a search box
    with checkboxes (the plain select stays as it is without JavaScript)."""
    return {"data-picker": "industry", "data-picker-max": str(max_items or 0),
            "data-picker-placeholder": _l("Type to search, e.g. 汽车 or 36"),
            "data-picker-hint": _l("Type part of a name or code, then tick; up to %(max)s.", max=max_items or 0),
            "data-picker-full": _l("The maximum is chosen; remove one to choose another.")}


def cooperation_mode_choices() -> list[SelectChoice]:
    return [SelectChoice(value, str(name)) for value, name in COOPERATION_MODE.items()]


def industry_choices(locale: str) -> list[SelectChoice]:
    return [SelectChoice(t.code, f"{t.code} {t.name(locale)}") for t in load_taxonomy().industry_divisions()]


def discipline_choices(locale: str) -> list[SelectChoice]:
    return [SelectChoice(t.code, f"{t.code} {t.name(locale)}") for t in load_taxonomy().first_level_disciplines()]


def apply_errors(form: FlaskForm, error: ValidationError, field_map: dict[str, str] | None = None) -> None:
    """Show a service's field errors next to the form fields they belong to."""
    field_map = field_map or {}
    for field, raw_problem in error.fields.items():
        problem = localize(raw_problem)
        name = field_map.get(field, field)
        target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors) + [problem]
        else:
            form.form_errors.append(f"{localize(FIELD_LABELS.get(field, field))}: {problem}")
