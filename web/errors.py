"""One error handler per surface: JSON under /api/, a generic page elsewhere."""

from __future__ import annotations

import logging

from flask import Flask, flash, jsonify, make_response, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from .access import wants_json
from .domain.errors import DomainError

log = logging.getLogger("matcher.web")


def json_error(status: int, code: str, message: str, fields: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    return jsonify(body), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError):
        if wants_json():
            return json_error(exc.status, exc.code, exc.message, exc.fields)
        if exc.status == 400 and request.method == "POST":
            flash(exc.localized(), "error")
            return redirect(request.full_path.rstrip("?"))
        return _page(exc.status)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        log.warning("csrf_rejected path=%s", request.path)
        if wants_json():
            return json_error(400, "csrf_failed", exc.description)
        return _page(400, _("The form expired or was sent from elsewhere. Please reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code == 429:
            logging.getLogger("matcher.security").warning("rate_limited path=%s endpoint=%s", request.path, request.endpoint)
        if wants_json():
            code = (exc.name or "error").lower().replace(" ", "_")
            response = make_response(json_error(exc.code or 500, code, exc.description or exc.name))
        else:
            response = make_response(_page(exc.code or 500))
        # The exception's own headers (Allow on a 405, WWW-Authenticate...) go with either body.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # Two people created the same thing at the same moment (a unique constraint caught what
        # the service's own check could not see yet). The transaction was rolled back. The
        # database's message is not logged: it quotes the conflicting values (an e-mail, say).
        constraint = getattr(getattr(exc.orig, "diag", None), "constraint_name", None) or "unknown"
        log.warning("integrity_conflict path=%s constraint=%s", request.path, constraint)
        if wants_json():
            return json_error(409, "conflict", "the same record was changed at the same moment by someone else; reload and try again")
        return _page(409, _("Someone else changed this at the same moment. Please reload the page and try again."))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled_error path=%s", request.path)
        if wants_json():
            return json_error(500, "internal_error", "internal error")
        return _page(500)


def _page(status: int, message: str | None = None):
    titles = {
        400: _("Bad request"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        404: _("Page not found"),
        405: _("Method not allowed"),
        409: _("Conflict"),
        413: _("Upload too large"),
        429: _("Too many requests"),
    }
    title = titles.get(status, _("Something went wrong"))
    return render_template("errors/error.html", status=status, title=title, message=message), status
