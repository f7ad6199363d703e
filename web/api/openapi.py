"""The OpenAPI 3.0 description of /api/v1 (served at /api/v1/openapi.json)."""

from __future__ import annotations

from models import AchievementKind, CooperationMode, MatchStatus, NeedStatus

from ..domain.matches import CLOSE_REASONS, DECLINE_REASONS


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


ID_PARAM = {"in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}

STRING_LIST = {"type": "array", "items": {"type": "string"}}
MODES = {"type": "array", "items": {"type": "string", "enum": [m.value for m in CooperationMode]}}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
    },
    "NeedInput": {
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "maxLength": 10000},
            "industry_codes": {**STRING_LIST, "maxItems": 5, "description": "GB/T 4754-2017 division codes, e.g. \"36\""},
            "region": {"type": "string", "maxLength": 100},
            "cooperation_modes": MODES,
            "budget_min": {"type": "integer", "minimum": 0, "nullable": True, "description": "10,000 CNY"},
            "budget_max": {"type": "integer", "minimum": 0, "nullable": True},
            "deadline": {"type": "string", "format": "date", "nullable": True},
            "anonymous": {"type": "boolean"},
        },
    },
    "Need": {
        "type": "object",
        "required": ["id", "title", "status"],
        "properties": {
            "id": {"type": "integer"}, "title": {"type": "string"}, "description": {"type": "string"},
            "industry_codes": STRING_LIST, "region": {"type": "string"}, "cooperation_modes": STRING_LIST,
            "budget_min": {"type": "integer", "nullable": True}, "budget_max": {"type": "integer", "nullable": True},
            "deadline": {"type": "string", "nullable": True}, "status": {"type": "string", "enum": [s.value for s in NeedStatus]},
            "anonymous": {"type": "boolean"}, "organization": {"type": "string", "nullable": True},
            "created_at": {"type": "string", "nullable": True},
        },
    },
    "Contacts": {"type": "object", "properties": {"phone": {"type": "string"}, "email": {"type": "string"}, "wechat": {"type": "string"}}},
    "Achievement": {
        "type": "object",
        "required": ["id", "kind", "title"],
        "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "title": {"type": "string"},
                       "abstract": {"type": "string"}, "year": {"type": "integer", "nullable": True}},
    },
    "AchievementInput": {
        "type": "object",
        "required": ["kind", "title"],
        "properties": {
            "kind": {"type": "string", "enum": [k.value for k in AchievementKind]},
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "abstract": {"type": "string", "maxLength": 5000},
            "year": {"type": "integer", "minimum": 1950, "maximum": 2100, "nullable": True},
        },
    },
    "Expert": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "title": {"type": "string"},
            "organization": {"type": "string", "nullable": True}, "region": {"type": "string"},
            "discipline_codes": STRING_LIST, "research_areas": STRING_LIST, "keywords": STRING_LIST,
            "summary": {"type": "string"}, "cooperation_modes": STRING_LIST, "capacity": {"type": "integer"},
            "available": {"type": "boolean"}, "achievements": {"type": "array", "items": _ref("Achievement")},
            "contacts": {**_ref("Contacts"), "description": "only for the expert, coordinators, or the enterprise of a connected match"},
        },
    },
    "ExpertPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100}, "title": {"type": "string", "maxLength": 100},
            "summary": {"type": "string", "maxLength": 5000}, "keywords": {**STRING_LIST, "maxItems": 40},
            "research_areas": {**STRING_LIST, "maxItems": 20}, "discipline_codes": {**STRING_LIST, "maxItems": 6},
            "region": {"type": "string", "maxLength": 100}, "capacity": {"type": "integer", "minimum": 0, "maximum": 50},
            "available": {"type": "boolean"}, "cooperation_modes": MODES,
            "contacts": {"type": "object", "additionalProperties": False, "properties": {
                "phone": {"type": "string", "maxLength": 40}, "email": {"type": "string", "maxLength": 200},
                "wechat": {"type": "string", "maxLength": 100}}},
        },
    },
    "Suggestion": {
        "type": "object",
        "required": ["expert_id", "score", "reasons", "evidence", "flags"],
        "properties": {
            "expert_id": {"type": "integer"}, "name": {"type": "string"}, "score": {"type": "number"},
            "reasons": {"type": "array", "items": {"type": "object", "properties": {
                "code": {"type": "string"}, "value": {"type": "number"}, "weight": {"type": "number"}, "contribution": {"type": "number"}}}},
            "evidence": {"type": "object"}, "flags": STRING_LIST,
        },
    },
    "Match": {
        "type": "object",
        "required": ["id", "status", "need_id", "expert_id"],
        "properties": {
            "id": {"type": "integer"}, "status": {"type": "string", "enum": [s.value for s in MatchStatus]},
            "need_id": {"type": "integer"}, "expert_id": {"type": "integer"}, "need": _ref("Need"), "expert": _ref("Expert"),
            "expert_accepted": {"type": "boolean"}, "enterprise_accepted": {"type": "boolean"},
            "closed_reason": {"type": "string", "nullable": True}, "events": {"type": "array", "items": {"type": "object"}},
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
            "/needs": {
                "get": _op("Needs the caller may see", _responses("200", {"description": "Needs", **_json(list_of("Need"))}),
                           params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": [s.value for s in NeedStatus]}},
                                   limit, {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}]),
                "post": _op("Post a need (enterprise)", _responses("201", {"description": "Created", **_json(_ref("Need"))}),
                            body=_ref("NeedInput")),
            },
            "/needs/{need_id}": {
                "parameters": [{"name": "need_id", **ID_PARAM}],
                "get": _op("One need", _responses("200", {"description": "The need", **_json(_ref("Need"))})),
                "patch": _op("Edit a need (its enterprise)", _responses("200", {"description": "Updated", **_json(_ref("Need"))}),
                             body={"type": "object", "properties": SCHEMAS["NeedInput"]["properties"]}),
            },
            "/needs/{need_id}/suggestions": {
                "parameters": [{"name": "need_id", **ID_PARAM}],
                "get": _op("Ranked experts with reasons (coordinator)",
                           {**_responses("200", {"description": "Suggestions", **_json(list_of("Suggestion"))}),
                            "503": _error("The index is still being built")},
                           params=[{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]),
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
                "post": _op("Record intent, contract, completion, or close with a reason",
                            _responses("200", {"description": "Match", **_json(_ref("Match"))}, "409"),
                            body={"type": "object", "required": ["status"], "properties": {
                                "status": {"type": "string", "enum": ["intent", "contract", "completed", "closed"]},
                                "reason": {"type": "string", "enum": list(CLOSE_REASONS)}, "note": {"type": "string", "maxLength": 2000}}}),
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
