"""The OpenAPI 3.0 description of /api/v1 (served at /api/v1/openapi.json).

The request and response schemas of needs, expert profiles and achievements are generated from
their field specs (:mod:`web.domain.fields`), so the document says exactly what the service
accepts; the paths and the other schemas are written here.
"""

from __future__ import annotations

from matcher.fusion import BANDS
from models import NeedStatus

from ..domain import fields as spec
from ..domain import lifecycle
from ..domain.lifecycle import FUNNEL_RANK
from ..domain.matches import CLOSE_REASONS, DECLINE_REASONS
from ..domain.needs import IN_PROGRESS, WAITING

# what the lifecycle table says, so the document never spells a state or an action by hand
MATCH_STATES = [state.status.value for state in lifecycle.STATES]
RECORDED = [lifecycle.RECORDS.get(a, a).value for a in lifecycle.RECORDED_ACTIONS]
CONFIRMABLE = sorted({step.value for step, _by in lifecycle.AWAITING_CONFIRMATION.values()})
REJECT_REASONS = list(lifecycle.RULE[lifecycle.confirmation_action(lifecycle.S.CONTRACT, False)].reasons)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return {"description": description, **_json(_ref("Error"))}


ERRORS = {
    "400": _error("Invalid input; error.fields names each bad field"),
    "401": _error("Not signed in (send Authorization: Bearer <token>)"),
    "403": _error("Signed in, but this role may not do this"),
    "404": _error("No such object, or not visible to this caller"),
    "409": _error("Illegal transition or conflict with the current state"),
    "413": _error("Request body too large"),
    "429": _error("Too many requests"),
}


def _responses(ok_code: str, ok: dict, *codes: str) -> dict:
    out = {ok_code: ok}
    for code in ("400", "401", "403", "404", "413", "429", *codes):
        out[code] = ERRORS[code]
    return out


BAND_NAMES = tuple(name for name, _floor in BANDS)
ID_PARAM = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

STRING_LIST = {"type": "array", "items": {"type": "string"}}


def input_property(f: spec.Field) -> dict:
    """The JSON schema of one field as the API accepts it, with the spec's limits."""
    if f.kind in (spec.TEXT, spec.MULTILINE, spec.EMAIL, spec.PASSWORD):
        schema: dict = {"type": "string"}
        if f.required:
            schema["minLength"] = 1
        if f.max_len is not None:
            schema["maxLength"] = f.max_len
    elif f.kind == spec.LIST:
        schema = {"type": "array", "items": {"type": "string", "maxLength": f.max_len}, "maxItems": f.max_items}
    elif f.kind == spec.CODES:
        schema = {**STRING_LIST, "maxItems": f.max_items}
    elif f.kind == spec.MODES:
        schema = {"type": "array", "items": {"type": "string", "enum": list(f.choices)}}
    elif f.kind == spec.INTEGER:
        schema = {"type": "integer", "minimum": f.min_value, "maximum": f.max_value}
    elif f.kind == spec.DECIMAL:
        schema = {"oneOf": [{"type": "number", "minimum": f.min_value, "maximum": f.max_value},
                            {"type": "string", "pattern": r"^\s*[0-9]+([.,][0-9]+)?\s*$"}]}
    elif f.kind == spec.DATE:
        schema = {"type": "string", "format": "date"}
    elif f.kind == spec.DATETIME:
        schema = {"type": "string", "format": "date-time"}
    elif f.kind == spec.BOOLEAN:
        schema = {"type": "boolean"}
    elif f.kind == spec.CHOICE:
        schema = {"type": "string", "enum": list(f.choices)}
    else:  # pragma: no cover - a spec with a kind nobody describes
        raise ValueError(f"unknown field kind {f.kind!r}")
    if not f.required and f.kind in (spec.INTEGER, spec.DECIMAL, spec.DATE, spec.DATETIME):
        schema["nullable"] = True
    if f.doc:
        schema["description"] = f.doc
    return schema


def output_property(f: spec.Field) -> dict:
    """The JSON schema of one field as the API returns it (the stored, cleaned value)."""
    if f.kind in (spec.LIST, spec.CODES, spec.MODES):
        return dict(STRING_LIST)
    if f.kind == spec.INTEGER:
        return {"type": "integer"} if f.required else {"type": "integer", "nullable": True}
    if f.kind == spec.DATE:
        return {"type": "string", "nullable": True}
    if f.kind == spec.BOOLEAN:
        return {"type": "boolean"}
    return {"type": "string"}


def input_schema(fields: spec.Spec, *, partial: bool = False, closed: bool = False) -> dict:
    """A request body of ``fields``; contact fields go in a nested ``contacts`` object, as the
    API takes them."""
    properties = {f.name: input_property(f) for f in fields if not f.contact}
    contacts = [f for f in fields if f.contact]
    if contacts:
        properties["contacts"] = {"type": "object", "additionalProperties": False,
                                  "properties": {f.name: input_property(f) for f in contacts}}
    schema: dict = {"type": "object"}
    required = [f.name for f in fields if f.required and not partial]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    schema["properties"] = properties
    return schema


def output_schema(fields: spec.Spec, *, before: dict, after: dict, required_after: tuple[str, ...] = ()) -> dict:
    """A response object: ``before`` (the id...), the spec's non-contact fields, then ``after``."""
    properties = {**before, **{f.name: output_property(f) for f in fields if not f.contact}, **after}
    required = [*before, *(f.name for f in fields if f.required and not f.contact), *required_after]
    return {"type": "object", "required": required, "properties": properties}


ID = {"id": {"type": "integer"}}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
    },
    "NeedInput": input_schema(spec.NEED),
    "Need": output_schema(spec.NEED, before=ID, required_after=("status",), after={
        "status": {"type": "string", "enum": [s.value for s in NeedStatus]},
        "organization": {"type": "string", "nullable": True}, "created_at": {"type": "string", "nullable": True},
        "progress": {**_ref("NeedProgress"), "description": "only for the enterprise that posted the need and coordinators"}}),
    "NeedProgress": {
        "type": "object", "required": ["stage", "locked", "matches"],
        "properties": {
            "stage": {"type": "string", "enum": [WAITING, IN_PROGRESS, *(s.value for s in FUNNEL_RANK)],
                      "description": "the state of the match furthest along (connected, intent, contract, completed), "
                                     "else in_progress while a proposal is open, else waiting"},
            "locked": {"type": "boolean", "description": "a match is past intent: the need can no longer be edited or withdrawn"},
            "matches": {"type": "array", "items": {"type": "object", "required": ["id", "status", "expert"], "properties": {
                "id": {"type": "integer"}, "status": {"type": "string", "enum": MATCH_STATES},
                "expert": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                                            "title": {"type": "string"}}},
                "updated_at": {"type": "string", "nullable": True}}}}},
    },
    "RecommendedNeed": {
        "type": "object", "required": ["need", "relevance", "band", "reasons", "evidence", "interested"],
        "properties": {
            "need": {**_ref("Need"), "description": "an anonymous need comes without its organization"},
            "score": {"type": "number"}, "relevance": {"type": "number", "description": "calibrated chance of relevance, 0..1"},
            "band": {"type": "string", "enum": list(BAND_NAMES)},
            "reasons": {"type": "array", "items": {"type": "object"}}, "evidence": {"type": "object"}, "flags": STRING_LIST,
            "interested": {"type": "boolean"}},
    },
    "Interest": {
        "type": "object", "required": ["need_id", "expert_id"],
        "properties": {"need_id": {"type": "integer"}, "expert_id": {"type": "integer"},
                       "relevance": {"type": "number", "nullable": True}, "created_at": {"type": "string", "nullable": True}},
    },
    "Contacts": {"type": "object", "properties": {f.name: {"type": "string"} for f in spec.PROFILE if f.contact}},
    "Achievement": output_schema(spec.ACHIEVEMENT, before=ID, after={}),
    "AchievementInput": input_schema(spec.ACHIEVEMENT),
    "Expert": output_schema(spec.PROFILE, before=ID, after={
        "organization": {"type": "string", "nullable": True},
        "achievements": {"type": "array", "items": _ref("Achievement")},
        "contacts": {**_ref("Contacts"), "description": "only for the expert, coordinators, or the enterprise of a connected match"}}),
    "ExpertPatch": input_schema(spec.PROFILE, partial=True, closed=True),
    "Suggestion": {
        "type": "object",
        "required": ["expert_id", "score", "reasons", "evidence", "flags"],
        "properties": {
            "expert_id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"},
            "reasons": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "value": {"type": "number"}, "weight": {"type": "number"}, "contribution": {"type": "number"}}}},
            "evidence": {"type": "object"}, "flags": STRING_LIST,
            "dismissed": {"type": "object", "nullable": True, "properties": {"reason": {"type": "string"}, "note": {"type": "string"}},
                          "description": "the coordinators' standing dismissal of this expert for the need (only with "
                                         "include_dismissed), else null"},
        },
    },
    "OutcomeInput": {**input_schema(spec.OUTCOME), "required": ["status"], "properties": {
        "status": {"type": "string", "enum": RECORDED}, "reason": {"type": "string", "enum": list(CLOSE_REASONS)},
        **input_schema(spec.OUTCOME)["properties"]}},
    "MatchEvent": {"type": "object", "properties": {
        "to": {"type": "string", "enum": MATCH_STATES}, "from": {"type": "string", "nullable": True},
        "at": {"type": "string"}, "actor_role": {"type": "string"}, "actor": {"type": "string", "nullable": True},
        "reason": {"type": "string", "nullable": True}, "note": {"type": "string", "nullable": True},
        "outcome": {"type": "object", "description": "the date, amount (万元) and note recorded with this step, and who "
                    "confirmed or rejected it", "properties": {
                        "step": {"type": "string"}, "date": {"type": "string", "format": "date"},
                        "amount_wan": {"type": "string", "nullable": True},
                        "state": {"type": "string", "enum": ["pending", "counted", "rejected"]},
                        "decided_side": {"type": "string", "nullable": True}, "decided_by": {"type": "string", "nullable": True},
                        "decided_at": {"type": "string", "nullable": True}, "reject_reason": {"type": "string", "nullable": True},
                        "reject_note": {"type": "string", "nullable": True}}}}},
    "Match": {
        "type": "object",
        "required": ["id", "status", "need_id", "expert_id"],
        "properties": {
            "id": {"type": "integer"}, "status": {"type": "string", "enum": MATCH_STATES},
            "need_id": {"type": "integer"}, "expert_id": {"type": "integer"}, "need": _ref("Need"), "expert": _ref("Expert"),
            "expert_accepted": {"type": "boolean"}, "enterprise_accepted": {"type": "boolean"},
            "closed_reason": {"type": "string", "nullable": True}, "events": {"type": "array", "items": _ref("MatchEvent")},
            "awaiting_confirmation": {"type": "object", "nullable": True, "description": "a contract or completion one side "
                                      "recorded, which counts once the other side (or a coordinator) confirms it",
                                      "properties": {"step": {"type": "string", "enum": CONFIRMABLE}, "by": STRING_LIST}},
            "stepper": {"type": "array", "items": {"type": "object", "properties": {
                "key": {"type": "string"}, "state": {"type": "string", "enum": ["done", "waiting", "todo"]},
                "waiting_for": STRING_LIST}}},
            "contacts": {"type": "object", "description": "present only once connected (always for coordinators)",
                         "properties": {"expert": _ref("Contacts"), "enterprise": {"type": "object"}}},
        },
    },
}


def _op(summary: str, responses: dict, *, body: dict | None = None, params: list | None = None, secured: bool = True) -> dict:
    op = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    if not secured:
        op["security"] = []
    return op


def document() -> dict:
    list_of = lambda name: {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": _ref(name)}}}  # noqa: E731
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Industry–academia matchmaking API", "version": "1.0.0",
                 "description": "Contacts of either side are absent until both sides accept a match."},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": SCHEMAS, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/auth/login": {"post": _op(
                "Exchange e-mail and password for a bearer token",
                {"200": {"description": "Signed in", **_json({"type": "object", "required": ["token"], "properties": {
                    "token": {"type": "string"}, "role": {"type": "string"}, "user_id": {"type": "integer"}}})},
                 "400": ERRORS["400"], "401": ERRORS["401"],
                 "403": _error("Right password, but the account is pending approval (error.code account_pending) "
                               "or disabled (account_disabled)"),
                 "413": ERRORS["413"], "429": ERRORS["429"]},
                body={"type": "object", "required": ["email", "password"], "properties": {
                    "email": {"type": "string"}, "password": {"type": "string"}}}, secured=False)},
            "/auth/logout": {"post": _op("Revoke the bearer token (ends every session and token of the account)",
                                         {"204": {"description": "Revoked"}, "401": ERRORS["401"], "429": ERRORS["429"]})},
            "/needs": {
                "get": _op("Needs the caller may see", _responses("200", {"description": "Needs", **_json(list_of("Need"))}),
                           params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in NeedStatus]}},
                                   limit, {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}]),
                "post": _op("Post a need (enterprise)", _responses("201", {"description": "Created", **_json(_ref("Need"))}),
                            body=_ref("NeedInput")),
            },
            "/needs/{need_id}": {
                "parameters": [{"name": "need_id", **ID_PARAM}],
                "get": _op("One need: its enterprise and coordinators; an expert proposed for it, or one who may discover it "
                           "(open, deadline not passed, no hard constraint), read-only: an anonymous need names no enterprise",
                           _responses("200", {"description": "The need", **_json(_ref("Need"))})),
                "patch": _op("Edit a need (its enterprise)", _responses("200", {"description": "Updated", **_json(_ref("Need"))}),
                             body={"type": "object", "properties": SCHEMAS["NeedInput"]["properties"]}),
            },
            "/needs/{need_id}/interest": {
                "parameters": [{"name": "need_id", **ID_PARAM}],
                "post": _op("Say I am interested in an open need (expert); its coordinator sees it",
                            {**_responses("201", {"description": "Recorded", **_json(_ref("Interest"))}, "409"),
                             "200": {"description": "Already recorded: the existing interest", **_json(_ref("Interest"))}}),
                "delete": _op("Withdraw my interest (expert)", _responses("204", {"description": "Withdrawn (or there was none)"})),
            },
            "/experts/me/recommended-needs": {
                "get": _op("Open needs ranked for my profile, with the reasons (expert)",
                           {**_responses("200", {"description": "Recommended needs", **_json(list_of("RecommendedNeed"))}),
                            "503": _error("The index is still being built")},
                           params=[{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]),
            },
            "/needs/{need_id}/suggestions": {
                "parameters": [{"name": "need_id", **ID_PARAM}],
                "get": _op("Ranked experts with reasons (coordinator)",
                           {**_responses("200", {"description": "Suggestions", **_json(list_of("Suggestion"))}),
                            "503": _error("The index is still being built")},
                           params=[{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
                                   {"name": "include_dismissed", "in": "query",
                                    "description": "also list experts a coordinator dismissed for this need (hidden by default, "
                                                   "as on the need's page); they carry their dismissal",
                                    "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}}]),
            },
            "/experts/me": {
                "get": _op("My profile with contacts (expert)", _responses("200", {"description": "Profile", **_json(_ref("Expert"))})),
                "patch": _op("Edit my profile (expert)", _responses("200", {"description": "Profile", **_json(_ref("Expert"))}),
                             body=_ref("ExpertPatch")),
            },
            "/experts/me/achievements": {
                "post": _op("Add an achievement (expert)", _responses("201", {"description": "Created", **_json(_ref("Achievement"))}),
                            body=_ref("AchievementInput")),
            },
            "/experts/me/achievements/{achievement_id}": {
                "parameters": [{"name": "achievement_id", **ID_PARAM}],
                "delete": _op("Remove an achievement (expert)", _responses("204", {"description": "Removed"})),
            },
            "/experts/{expert_id}": {
                "parameters": [{"name": "expert_id", **ID_PARAM}],
                "get": _op("An expert (contacts for coordinators or the enterprise of a connected match)",
                           _responses("200", {"description": "Expert", **_json(_ref("Expert"))})),
            },
            "/matches": {
                "get": _op("Matches the caller takes part in", _responses("200", {"description": "Matches", **_json(list_of("Match"))}),
                           params=[limit]),
                "post": _op("Propose an expert for a need (coordinator)",
                            {**_responses("201", {"description": "Proposed", **_json(_ref("Match"))}, "409"),
                             "200": {"description": "Already proposed: the existing match", **_json(_ref("Match"))}},
                            body={"type": "object", "required": ["need_id", "expert_id"], "properties": {
                                "need_id": {"type": "integer", "minimum": 1}, "expert_id": {"type": "integer", "minimum": 1}}}),
            },
            "/matches/{match_id}": {
                "parameters": [{"name": "match_id", **ID_PARAM}],
                "get": _op("One match; contacts only once connected", _responses("200", {"description": "Match", **_json(_ref("Match"))})),
            },
            "/matches/{match_id}/respond": {
                "parameters": [{"name": "match_id", **ID_PARAM}],
                "post": _op("Accept or decline (the match's expert or the need's enterprise)",
                            _responses("200", {"description": "Match", **_json(_ref("Match"))}, "409"),
                            body={"type": "object", "required": ["accept"], "properties": {
                                "accept": {"type": "boolean"}, "reason": {"type": "string", "enum": list(DECLINE_REASONS)},
                                "note": {"type": "string", "maxLength": 2000}}}),
            },
            "/matches/{match_id}/outcome": {
                "parameters": [{"name": "match_id", **ID_PARAM}],
                "post": _op("Record intent, contract or completion (date, amount in 万元, note), or close with a reason. "
                            "A contract or completion recorded by the expert or the enterprise awaits the other side's "
                            "confirmation (POST .../confirmation) before it counts",
                            _responses("200", {"description": "Match", **_json(_ref("Match"))}, "409"),
                            body=_ref("OutcomeInput")),
            },
            "/matches/{match_id}/confirmation": {
                "parameters": [{"name": "match_id", **ID_PARAM}],
                "post": _op("Confirm or reject (with a reason) the contract or completion the other side recorded "
                            "(the other side of the match, or a coordinator)",
                            _responses("200", {"description": "Match", **_json(_ref("Match"))}, "409"),
                            body={"type": "object", "required": ["status", "confirm"], "properties": {
                                "status": {"type": "string", "enum": CONFIRMABLE}, "confirm": {"type": "boolean"},
                                "reason": {"type": "string", "enum": REJECT_REASONS,
                                           "description": "required when rejecting"},
                                "note": {"type": "string", "maxLength": 2000}}}),
            },
            "/stats": {
                "get": _op("Counts and funnel by month, industry and region (coordinator)",
                           _responses("200", {"description": "Statistics", **_json({"type": "object", "properties": {
                               "summary": {"type": "object"}, "funnel": {"type": "object"}}})}),
                           params=[{"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
                                   {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}}]),
            },
        },
    }
