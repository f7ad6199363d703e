"""Domain exceptions; each surface maps them to a flash message or a JSON error once.

Messages are English — what the JSON API, the CLI and the logs show. Each message and field
problem is a :class:`Problem`: a ``str`` holding the English text that also remembers its
msgid and parameters, so the HTML pages can show it in the reader's language
(:func:`localize`). Write them as ``N_("must be at most %(max)s characters", max=200)``;
``N_`` is a keyword the message extractor knows.
"""

from __future__ import annotations


class Problem(str):
    """English text of a message, remembering its msgid and parameters for translation."""

    msgid: str
    params: dict

    def __new__(cls, msgid: str, **params):
        text = msgid % {k: str(v) for k, v in params.items()} if params else msgid
        obj = super().__new__(cls, text)
        obj.msgid = msgid
        obj.params = params
        return obj


def N_(msgid: str, **params) -> Problem:  # noqa: N802 - the conventional name of a translation marker
    return Problem(msgid, **params)


class FieldName(str):
    """A field's name (what the English message says) that knows its display label, taken
    from the field spec of the record it belongs to ("title" of a profile → "Professional title")."""

    label: Problem

    def __new__(cls, name: str, label: Problem):
        obj = super().__new__(cls, name)
        obj.label = label
        return obj


FIELD_LABELS = {  # noqa: RUF012
    # English labels of field names, for localized messages ("title" → "标题") and form errors
    # without a field of their own; a FieldName's own label (from its field spec) comes first.
    "title": N_("Title"), "description": N_("Description"), "industry_codes": N_("Industry"), "region": N_("Region"),
    "cooperation_modes": N_("Cooperation"), "budget_min": N_("Budget from (10,000 CNY)"), "budget_max": N_("Budget up to (10,000 CNY)"),
    "deadline": N_("Deadline"), "anonymous": N_("Anonymous"), "name": N_("Name"), "discipline_codes": N_("Disciplines"),
    "research_areas": N_("Research areas"), "keywords": N_("Keywords"), "summary": N_("Summary"), "capacity": N_("Capacity"),
    "available": N_("Available"), "phone": N_("Phone"), "email": N_("E-mail"), "wechat": N_("WeChat"), "kind": N_("Kind"), "abstract": N_("Abstract"),
    "year": N_("Year"), "password": N_("Password"), "new_password": N_("New password"), "current_password": N_("Current password"),
    "organization": N_("Organisation"), "reason": N_("Reason"), "note": N_("Note"), "status": N_("Status"), "starts_at": N_("Date and time"),
    "place": N_("Place"), "demand": N_("Experts wanted per need"), "publications": N_("Publication list"), "role": N_("Role"),
}


def localize(text) -> str:
    """``text`` in the current request's language (Problems and field names are translated)."""
    from flask_babel import gettext

    if isinstance(text, Problem):
        params = {}
        for key, value in text.params.items():
            if key == "field" and isinstance(value, FieldName):
                params[key] = localize(value.label)
            elif key == "field" and isinstance(value, str) and value in FIELD_LABELS:
                params[key] = localize(FIELD_LABELS[value])
            else:
                params[key] = localize(value) if isinstance(value, Problem) else value
        return gettext(text.msgid, **params) if params else gettext(text.msgid)
    return str(text)


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, fields: dict[str, str] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.fields = fields or {}

    def localized(self) -> str:
        return localize(self.message)


class ValidationError(DomainError):
    """Input that cannot be stored; ``fields`` maps each bad field to what is wrong."""

    status = 400
    code = "validation_error"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class IllegalTransition(DomainError):
    status = 409
    code = "illegal_transition"


class Conflict(DomainError):
    status = 409
    code = "conflict"
