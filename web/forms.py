"""Form helpers shared by blueprints."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, SubmitField, widgets
from wtforms.fields.choices import SelectChoice

from matcher.taxonomy import load_taxonomy

from .domain.errors import FIELD_LABELS, ValidationError, localize
from .labels import COOPERATION_MODE


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ActionForm(FlaskForm):
    """A button that only carries the CSRF token (delete, withdraw, approve...)."""

    submit = SubmitField(_l("Confirm"))


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
