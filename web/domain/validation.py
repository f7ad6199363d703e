"""Field cleaners shared by forms, the API and the importers, driven by the field specs.

:func:`clean_fields` checks a record against its :class:`~web.domain.fields.Spec`; a
:class:`Cleaner` collects every problem of one record before raising, so a user sees all of
them at once, each under the field's name.

Text is normalised before it is tested for emptiness or compared: zero-width characters
(U+200B–U+200D, U+2060, U+FEFF) are removed, names compared for uniqueness are NFKC-normalised,
and text-direction controls (U+202A–U+202E, U+2066–U+2069) are refused in one-line fields, where
they only serve to make a name look like another.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from matcher.taxonomy import load_taxonomy
from matcher.text import has_lone_surrogates
from models import CooperationMode

from . import fields as spec
from .errors import N_, FieldName, ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_EMAIL_LEN = 254

COOPERATION_MODES = [mode.value for mode in CooperationMode]


def normalise_text(value: str, *, identity: bool = False) -> str:
    """``value`` without control and zero-width characters; a name compared for uniqueness
    (``identity``) also in NFKC form, so that look-alike spellings of it are the same name."""
    value = _ZERO_WIDTH.sub("", _CONTROL.sub("", value))
    return unicodedata.normalize("NFKC", value) if identity else value


def is_blank(value: str) -> bool:
    """Nothing visible: only whitespace and invisible format characters (after NFKC)."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc") for ch in unicodedata.normalize("NFKC", value))


def has_bidi_controls(value: str) -> bool:
    return bool(_BIDI_CONTROL.search(value))


def is_email(value: str) -> bool:
    """The one e-mail rule of sign-up, profiles and imports (``value`` already normalised)."""
    return bool(EMAIL_RE.match(value)) and len(value) <= MAX_EMAIL_LEN


class Cleaner:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data or {}
        self.errors: dict[str, str] = {}
        self.clean: dict[str, Any] = {}
        self.labels: dict[str, Any] = {}

    def fail(self, field: str, problem: str) -> None:
        self.errors.setdefault(field, problem)

    def present(self, field: str) -> bool:
        return field in self.data

    def _list_input(self, field: str) -> Any:
        """The field's raw value, with absent, null, "" and [] all meaning an empty list (other
        falsy values such as 0 or false stay, and fail the type check)."""
        value = self.data.get(field)
        return [] if value is None or value == "" or value == [] else value

    def text(self, field: str, *, max_len: int, required: bool = False, multiline: bool = False,
             identity: bool = False) -> None:
        value = self.data.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(field, N_("must be text"))
            return
        if has_lone_surrogates(value):
            self.fail(field, N_("contains characters that are not valid text"))
            return
        if not multiline and has_bidi_controls(value):
            self.fail(field, N_("must not contain text-direction control characters (U+202A–U+202E, U+2066–U+2069)"))
            return
        value = normalise_text(value, identity=identity).strip()
        if not multiline:
            value = " ".join(value.split())
        if is_blank(value):
            value = ""
        if required and not value:
            self.fail(field, N_("must not be empty"))
        elif len(value) > max_len:
            self.fail(field, N_("must be at most %(max)s characters (got %(got)s)", max=max_len, got=len(value)))
        else:
            self.clean[field] = value

    def email(self, field: str, *, max_len: int, required: bool = False) -> None:
        self.text(field, max_len=max_len, required=required)
        value = self.clean.get(field)
        if value:
            value = unicodedata.normalize("NFKC", value).lower()
            if is_email(value):
                self.clean[field] = value
            else:
                del self.clean[field]
                self.fail(field, N_("not a valid e-mail address"))

    def string_list(self, field: str, *, max_items: int, max_len: int) -> None:
        value = self._list_input(field)
        if has_lone_surrogates(value):
            self.fail(field, N_("contains characters that are not valid text"))
            return
        if isinstance(value, str):
            value = [part for part in re.split(r"[,，;；、\n]+", value)]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(field, N_("must be a list of text items"))
            return
        if any(has_bidi_controls(item) for item in value):
            self.fail(field, N_("must not contain text-direction control characters (U+202A–U+202E, U+2066–U+2069)"))
            return
        items: list[str] = []
        for item in value:
            item = " ".join(normalise_text(item).split())
            if item and not is_blank(item) and item not in items:
                items.append(item)
        if len(items) > max_items:
            self.fail(field, N_("must have at most %(max)s items (got %(got)s)", max=max_items, got=len(items)))
        elif any(len(item) > max_len for item in items):
            self.fail(field, N_("each item must be at most %(max)s characters", max=max_len))
        else:
            self.clean[field] = items

    def codes(self, field: str, *, kind: str, max_items: int = 5) -> None:
        value = self._list_input(field)
        if isinstance(value, str):
            value = [part.strip() for part in re.split(r"[,，\s]+", value) if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(field, N_("must be a list of codes"))
            return
        taxonomy = load_taxonomy()
        known = taxonomy.industries if kind == "industry" else taxonomy.disciplines
        unknown = [code for code in value if code not in known]
        if unknown:
            codes = ", ".join(unknown[:5])
            self.fail(field, N_("unknown industry code(s): %(codes)s", codes=codes) if kind == "industry"
                      else N_("unknown discipline code(s): %(codes)s", codes=codes))
        elif len(value) > max_items:
            self.fail(field, N_("must have at most %(max)s codes", max=max_items))
        else:
            self.clean[field] = list(dict.fromkeys(value))

    def modes(self, field: str) -> None:
        value = self._list_input(field)
        if isinstance(value, str):
            value = [part.strip() for part in re.split(r"[,，\s]+", value) if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(field, N_("must be a list of cooperation modes"))
            return
        unknown = [mode for mode in value if mode not in COOPERATION_MODES]
        if unknown:
            self.fail(field, N_("unknown cooperation mode(s) %(modes)s; allowed: %(allowed)s",
                                modes=", ".join(unknown[:5]), allowed=", ".join(COOPERATION_MODES)))
        else:
            self.clean[field] = [mode for mode in COOPERATION_MODES if mode in value]

    def integer(self, field: str, *, minimum: int, maximum: int, required: bool = False) -> None:
        value = self.data.get(field)
        if value is None or value == "":
            if required:
                self.fail(field, N_("must not be empty"))
            else:
                self.clean[field] = None
            return
        if isinstance(value, bool):
            self.fail(field, N_("must be a whole number"))
            return
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"-?\d{1,12}", value):
                self.fail(field, N_("must be a whole number"))
                return
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            self.fail(field, N_("must be a whole number"))
        elif not minimum <= value <= maximum:
            self.fail(field, N_("must be between %(min)s and %(max)s", min=minimum, max=maximum))
        else:
            self.clean[field] = value

    def decimal(self, field: str, *, minimum: int, maximum: int, places: int, required: bool = False) -> None:
        """A number (JSON number or text; a comma as decimal separator is read too) with at most
        ``places`` decimals, kept as a :class:`~decimal.Decimal`."""
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(field, N_("must not be empty"))
            else:
                self.clean[field] = None
            return
        text = value.strip().replace("，", ",").replace(",", ".") if isinstance(value, str) else value
        if isinstance(text, bool) or not isinstance(text, int | float | str) or (isinstance(text, str) and len(text) > 30):
            self.fail(field, N_("must be a number"))
            return
        try:
            number = Decimal(str(text))
        except InvalidOperation:
            self.fail(field, N_("must be a number"))
            return
        if not number.is_finite():
            self.fail(field, N_("must be a number"))
        elif number < minimum:
            self.fail(field, N_("must not be negative") if minimum == 0 else N_("must be at least %(min)s", min=minimum))
        elif number > maximum:
            self.fail(field, N_("must be at most %(max)s", max=maximum))
        elif -number.as_tuple().exponent > places and number != number.quantize(Decimal(1).scaleb(-places)):
            self.fail(field, N_("must have at most %(places)s decimal places", places=places))
        else:
            self.clean[field] = number

    def iso_date(self, field: str, *, not_before: date | None = None) -> None:
        value = self.data.get(field)
        if value is None or value == "":
            self.clean[field] = None
            return
        if isinstance(value, date):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = date.fromisoformat(value.strip())
            except ValueError:
                self.fail(field, N_("must be a date as YYYY-MM-DD"))
                return
        else:
            self.fail(field, N_("must be a date as YYYY-MM-DD"))
            return
        if not_before and parsed < not_before:
            self.fail(field, N_("must not be before %(date)s", date=not_before.isoformat()))
        else:
            self.clean[field] = parsed

    def iso_datetime(self, field: str, *, required: bool = False) -> None:
        value = self.data.get(field)
        if value is None or value == "":
            if required:
                self.fail(field, N_("must be a date and time as YYYY-MM-DD HH:MM"))
            else:
                self.clean[field] = None
            return
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                pass
        if isinstance(value, datetime):
            self.clean[field] = value
        else:
            self.fail(field, N_("must be a date and time as YYYY-MM-DD HH:MM"))

    def choice(self, field: str, *, choices: tuple[str, ...], required: bool = False) -> None:
        value = self.data.get(field)
        if (value is None or value == "") and not required:
            self.clean[field] = None
        elif value not in choices:
            self.fail(field, N_("must be one of %(allowed)s", allowed=", ".join(choices)))
        else:
            self.clean[field] = value

    def password(self, field: str, *, max_len: int, required: bool = False) -> None:
        """Kept exactly as typed (the password policy judges it)."""
        value = self.data.get(field) or ""
        if not isinstance(value, str) or has_lone_surrogates(value):
            self.fail(field, N_("must be text"))
        elif required and not value:
            self.fail(field, N_("must not be empty"))
        elif len(value) > max_len:
            self.fail(field, N_("must be at most %(max)s characters (got %(got)s)", max=max_len, got=len(value)))
        else:
            self.clean[field] = value

    def field(self, f: spec.Field, *, today: date | None = None) -> None:
        """Check one field as its spec says; the error names the field with its spec's label."""
        self.labels[f.name] = f.label
        if f.kind in (spec.TEXT, spec.MULTILINE):
            self.text(f.name, max_len=f.max_len, required=f.required, multiline=f.kind == spec.MULTILINE, identity=f.identity)
        elif f.kind == spec.EMAIL:
            self.email(f.name, max_len=f.max_len, required=f.required)
        elif f.kind == spec.LIST:
            self.string_list(f.name, max_items=f.max_items, max_len=f.max_len)
        elif f.kind == spec.CODES:
            self.codes(f.name, kind=f.taxonomy, max_items=f.max_items)
        elif f.kind == spec.MODES:
            self.modes(f.name)
        elif f.kind == spec.INTEGER:
            self.integer(f.name, minimum=f.min_value, maximum=f.max_value, required=f.required)
        elif f.kind == spec.DECIMAL:
            self.decimal(f.name, minimum=f.min_value, maximum=f.max_value, places=f.places, required=f.required)
        elif f.kind == spec.DATE:
            self.iso_date(f.name, not_before=today)
        elif f.kind == spec.DATETIME:
            self.iso_datetime(f.name, required=f.required)
        elif f.kind == spec.BOOLEAN:
            self.boolean(f.name)
        elif f.kind == spec.CHOICE:
            self.choice(f.name, choices=f.choices, required=f.required)
        elif f.kind == spec.PASSWORD:
            self.password(f.name, max_len=f.max_len, required=f.required)
        else:  # pragma: no cover - a spec with a kind nobody reads
            raise ValueError(f"unknown field kind {f.kind!r}")

    def boolean(self, field: str) -> None:
        value = self.data.get(field, False)
        if isinstance(value, bool):
            self.clean[field] = value
        elif isinstance(value, str) and value.lower() in {"1", "true", "yes", "on", "y", "0", "false", "no", "off", "n", ""}:
            self.clean[field] = value.lower() in {"1", "true", "yes", "on", "y"}
        else:
            self.fail(field, N_("must be true or false"))

    def finish(self, record: str = "input") -> dict[str, Any]:
        if self.errors:
            name, problem = next(iter(self.errors.items()))
            field = FieldName(name, self.labels[name]) if name in self.labels else name
            if len(self.errors) > 1:
                message = N_("%(field)s %(problem)s (and %(more)s more)", field=field, problem=problem, more=len(self.errors) - 1)
            else:
                message = N_("%(field)s %(problem)s", field=field, problem=problem)
            raise ValidationError(message, fields=dict(self.errors))
        return self.clean


def clean_fields(fields: spec.Spec, data: dict[str, Any], *, partial: bool = False, today: date | None = None,
                 only: tuple[str, ...] | None = None) -> Cleaner:
    """A Cleaner holding ``data`` checked against ``fields`` (with ``partial`` only the fields
    present); the caller adds the checks that span fields, then calls ``finish``."""
    cleaner = Cleaner(data)
    for f in fields:
        if (only is None or f.name in only) and (not partial or cleaner.present(f.name)):
            cleaner.field(f, today=today)
    return cleaner


MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """A database id from user input (a form field or a JSON value), or None if it cannot be
    one: bools, non-numbers, zero, negative and out-of-range numbers are all refused."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit() or len(value) > 10:
            return None
        value = int(value)
    if isinstance(value, int) and 1 <= value <= MAX_ID:
        return value
    return None
