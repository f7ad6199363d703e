from flask import Blueprint

bp = Blueprint("transfer", __name__, url_prefix="/transfer")

from . import routes  # noqa: E402,F401
