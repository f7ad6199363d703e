"""One field spec per input: the type, limits, required flag, choices and display label of every
field a form, the JSON API or an import file can set.

Every surface reads these specs instead of repeating a number: the service's validation
(:func:`web.domain.validation.clean_fields`), the WTForms forms (:func:`web.forms.field_args`),
the OpenAPI document (:mod:`web.api.openapi`) and the import columns
(:mod:`web.formats.transfer_columns`). The database cannot import ``web``, so the column sizes in
``models/`` are checked against ``Field.columns`` by ``tests/web/test_field_spec.py``.
Changing a limit means editing it here (and the column size, with a migration, if it grows).

Labels are English msgids (``N_``) translated where they are shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from models import AchievementKind, CooperationMode

from .errors import N_, Problem

# Kinds of field: how a value is read, checked and described.
TEXT = "text"  # one line; runs of whitespace become one space
MULTILINE = "multiline"  # free text keeping its line breaks
LIST = "list"  # a list of short texts (or one text separated by commas)
CODES = "codes"  # taxonomy codes (industry or discipline)
MODES = "modes"  # cooperation modes
INTEGER = "integer"
DECIMAL = "decimal"  # a number with at most ``places`` decimals (amounts in 万元)
DATE = "date"
DATETIME = "datetime"
BOOLEAN = "boolean"
CHOICE = "choice"  # one value of ``choices``
EMAIL = "email"  # text that must be an e-mail address when not empty
PASSWORD = "password"  # kept as typed; the password policy checks it

COOPERATION_MODES = tuple(mode.value for mode in CooperationMode)
ACHIEVEMENTS_PER_PROFILE = 500


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: Problem  # short display label: table headers, error messages
    required: bool = False
    max_len: int | None = None  # characters, after cleaning (per item for LIST)
    min_value: int | None = None
    max_value: int | None = None
    max_items: int | None = None
    places: int = 0  # decimals a DECIMAL may have
    choices: tuple[str, ...] = ()
    taxonomy: str = ""  # "industry" | "discipline" for CODES
    prompt: Problem | None = None  # a longer label for the form, when the short one says too little
    identity: bool = False  # a name compared for uniqueness: NFKC-normalised before storing
    contact: bool = False  # a contact detail (kept private until a match is connected)
    doc: str = ""  # a note for the API description
    columns: tuple[str, ...] = ()  # "table.column" where the value is stored (sizes checked by a test)

    @property
    def form_label(self) -> Problem:
        return self.prompt or self.label

    @property
    def input_max_len(self) -> int | None:
        """Characters a form's text box may hold: a LIST is typed as one text, its items
        separated by a comma and a space."""
        if self.kind == LIST and self.max_items and self.max_len:
            return self.max_items * (self.max_len + 2)
        return self.max_len

    @property
    def single_line(self) -> bool:
        return self.kind in (TEXT, EMAIL)


class Spec:
    """The fields of one input, in the order forms show them."""

    def __init__(self, record: str, *fields: Field) -> None:
        self.record = record
        self.fields = {f.name: f for f in fields}

    def __getitem__(self, name: str) -> Field:
        return self.fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields.values())

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.fields)


ORGANIZATION = Field("organization", TEXT, N_("Organisation"), max_len=200, identity=True, columns=("organizations.name",))

NEED = Spec(
    "need",
    Field("title", TEXT, N_("Title"), required=True, max_len=200, columns=("needs.title",)),
    Field("description", MULTILINE, N_("Description"), max_len=10000, prompt=N_("Describe the problem in your own words"),
          columns=("needs.description",)),
    Field("industry_codes", CODES, N_("Industry"), max_items=5, taxonomy="industry",
          doc='GB/T 4754-2017 division codes, e.g. "36"'),
    Field("region", TEXT, N_("Region"), max_len=100, columns=("needs.region",)),
    Field("cooperation_modes", MODES, N_("Cooperation"), choices=COOPERATION_MODES, prompt=N_("Kind of cooperation wanted")),
    Field("budget_min", INTEGER, N_("Budget from (10,000 CNY)"), min_value=0, max_value=1_000_000, doc="10,000 CNY"),
    Field("budget_max", INTEGER, N_("Budget up to (10,000 CNY)"), min_value=0, max_value=1_000_000),
    Field("deadline", DATE, N_("Deadline")),
    Field("anonymous", BOOLEAN, N_("Anonymous"), prompt=N_("Hide our company name from experts until both sides accept")),
)

PROFILE = Spec(
    "profile",
    Field("name", TEXT, N_("Name"), required=True, max_len=100, identity=True, columns=("expert_profiles.name",)),
    Field("title", TEXT, N_("Professional title"), max_len=100, columns=("expert_profiles.title",)),
    Field("region", TEXT, N_("Region"), max_len=100, columns=("expert_profiles.region",)),
    Field("discipline_codes", CODES, N_("Disciplines"), max_items=6, taxonomy="discipline"),
    Field("research_areas", LIST, N_("Research areas"), max_items=20, max_len=60,
          prompt=N_("Research areas (separated by commas)")),
    Field("keywords", LIST, N_("Keywords"), max_items=40, max_len=40, prompt=N_("Keywords (separated by commas)")),
    Field("summary", MULTILINE, N_("Summary"), max_len=5000, prompt=N_("What you can do for enterprises"),
          columns=("expert_profiles.summary",)),
    Field("cooperation_modes", MODES, N_("Cooperation"), choices=COOPERATION_MODES, prompt=N_("Kinds of cooperation you accept")),
    Field("capacity", INTEGER, N_("Capacity"), required=True, min_value=0, max_value=50,
          prompt=N_("Engagements you can take at once")),
    Field("available", BOOLEAN, N_("Available"), prompt=N_("Available for new engagements")),
    Field("phone", TEXT, N_("Phone"), max_len=40, contact=True, prompt=N_("Phone (private)"), columns=("expert_profiles.phone",)),
    Field("email", EMAIL, N_("E-mail"), max_len=200, contact=True, prompt=N_("E-mail (private)"), columns=("expert_profiles.email",)),
    Field("wechat", TEXT, N_("WeChat"), max_len=100, contact=True, prompt=N_("WeChat (private)"), columns=("expert_profiles.wechat",)),
)

ACHIEVEMENT = Spec(
    "achievement",
    Field("kind", CHOICE, N_("Kind"), required=True, choices=tuple(k.value for k in AchievementKind)),
    Field("title", TEXT, N_("Title"), required=True, max_len=300, columns=("achievements.title",)),
    Field("abstract", MULTILINE, N_("Abstract"), max_len=5000, columns=("achievements.abstract",)),
    Field("year", INTEGER, N_("Year"), min_value=1950, max_value=2100),
    Field("authors", TEXT, N_("Authors"), max_len=500, columns=("achievements.authors",)),
    Field("venue", TEXT, N_("Venue"), max_len=300, prompt=N_("Journal, proceedings, publisher or patent number"),
          columns=("achievements.venue",)),
)

SIGN_UP = Spec(
    "sign-up",
    Field("role", CHOICE, N_("Role"), required=True, choices=("enterprise", "expert"), prompt=N_("I am")),
    Field("name", TEXT, N_("Name"), required=True, max_len=100, identity=True, prompt=N_("Your name"),
          columns=("users.name", "expert_profiles.name", "organizations.contact_name")),
    replace(ORGANIZATION, prompt=N_("Enterprise name (enterprises only)")),  # required for enterprises: see sign_up()
    Field("phone", TEXT, N_("Phone"), max_len=40, contact=True, prompt=N_("Phone (private)"),
          columns=("organizations.contact_phone", "expert_profiles.phone")),
    Field("email", EMAIL, N_("E-mail"), required=True, max_len=254, contact=True, columns=("users.email",)),
    Field("password", PASSWORD, N_("Password"), required=True, max_len=128, prompt=N_("Password (at least 8 characters)")),
)

EVENT = Spec(
    "event",
    Field("name", TEXT, N_("Event name"), required=True, max_len=200, columns=("matchmaking_events.name",)),
    Field("starts_at", DATETIME, N_("Date and time"), required=True, prompt=N_("Date and time (platform time zone)")),
    Field("place", TEXT, N_("Place"), max_len=200, columns=("matchmaking_events.place",)),
    Field("online", BOOLEAN, N_("Online")),
    Field("industry_codes", CODES, N_("Industry"), max_items=10, taxonomy="industry", prompt=N_("Industry focus")),
)

OUTCOME = Spec(
    "outcome",
    Field("date", DATE, N_("Date"), prompt=N_("Date (signed, agreed or finished)"),
          doc="the local calendar day it happened, YYYY-MM-DD; not in the future; default: today"),
    Field("amount", DECIMAL, N_("Amount (10,000 CNY)"), min_value=0, max_value=10_000_000, places=4,
          doc="in 万元 (10,000 CNY); required for a contract, optional for an intent, not taken otherwise"),
    Field("note", MULTILINE, N_("Note"), max_len=2000, columns=("match_outcomes.note",)),
)

# Columns of import files that are no field of the record itself.
ACHIEVEMENT_LINES = Field("achievements", MULTILINE, N_("Achievements"), max_items=ACHIEVEMENTS_PER_PROFILE)
ENTERPRISE = replace(ORGANIZATION, label=N_("Enterprise"), required=True)

SPECS = {spec.record: spec for spec in (NEED, PROFILE, ACHIEVEMENT, SIGN_UP, EVENT, OUTCOME)}
