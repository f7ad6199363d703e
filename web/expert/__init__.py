from flask import Blueprint

bp = Blueprint("expert", __name__, url_prefix="/expert")

from . import routes  # noqa: E402,F401
