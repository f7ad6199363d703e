"""Field cleaners shared by forms, the API and the importers.

Each cleaner takes the field name so that the error says exactly which field is wrong; a
:class:`Cleaner` collects every problem of one record before raising, so a user sees all of
them at once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from matcher.taxonomy import load_taxonomy
from matcher.text import has_lone_surrogates
from models import CooperationMode

from .errors import N_, ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


COOPERATION_MODES = [mode.value for mode in CooperationMode]


class Cleaner:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data or {}
        self.errors: dict[str, str] = {}
        self.clean: dict[str, Any] = {}

    def fail(self, field: str, problem: str) -> None:
        self.errors.setdefault(field, problem)

    def present(self, field: str) -> bool:
        return field in self.data

    def _list_input(self, field: str) -> Any:
        """The field's raw value, with absent, null, "" and [] all meaning an empty list (other
        falsy values such as 0 or false stay, and fail the type check)."""
        value = self.data.get(field)
        return [] if value is None or value == "" or value == [] else value

    def text(self, field: str, *, max_len: int, required: bool = False, multiline: bool = False) -> None:
        value = self.data.get(field)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.fail(field, N_("must be text"))
            return
        if has_lone_surrogates(value):
            self.fail(field, N_("contains characters that are not valid text"))
            return
        value = _CONTROL.sub("", value).strip()
        if not multiline:
            value = " ".join(value.split())
        if required and not value:
            self.fail(field, N_("must not be empty"))
        elif len(value) > max_len:
            self.fail(field, N_("must be at most %(max)s characters (got %(got)s)", max=max_len, got=len(value)))
        else:
            self.clean[field] = value

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
        items: list[str] = []
        for item in value:
            item = " ".join(_CONTROL.sub("", item).split())
            if item and item not in items:
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
            field, problem = next(iter(self.errors.items()))
            if len(self.errors) > 1:
                message = N_("%(field)s %(problem)s (and %(more)s more)", field=field, problem=problem, more=len(self.errors) - 1)
            else:
                message = N_("%(field)s %(problem)s", field=field, problem=problem)
            raise ValidationError(message, fields=dict(self.errors))
        return self.clean


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
