"""Import (CSV/XLSX → preview → confirm) and export for coordinators and administrators."""

from __future__ import annotations

import tempfile

from flask import Response, abort, flash, redirect, render_template, send_file, stream_with_context, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..access import STAFF, roles_required
from ..domain.errors import NotFound
from ..formats import exports, uploads
from ..formats.imports import ImportPlan, ImportRejected, commit_import, plan_import, read_import
from ..formats.spreadsheets import MAX_DATA_ROWS, FileRejected
from ..formats.transfer_columns import COLUMNS
from ..localtime import local_today
from . import bp
from .forms import ConfirmForm, UploadForm

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _index(form: UploadForm, status: int = 200):
    return render_template("transfer/index.html", form=form, columns=COLUMNS, max_rows=MAX_DATA_ROWS,
                           export_kinds=exports.EXPORT_KINDS), status


def _preview(plan: ImportPlan, filename: str, token: str | None = None):
    form = ConfirmForm(token=token) if token and plan.ok else None
    return render_template("transfer/preview.html", plan=plan, filename=filename, confirm_form=form)


@bp.route("/")
@roles_required(*STAFF)
def index():
    return _index(UploadForm())


@bp.route("/upload", methods=["POST"])
@roles_required(*STAFF)
def upload():
    """Check the file; when every row is valid keep it and show the preview with a confirm button."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, 400)
    upload_file = form.file.data
    try:
        table = read_import(form.kind.data, upload_file.filename, upload_file.read())
    except FileRejected as exc:
        form.file.errors = [exc.localized()]
        return _index(form, 400)
    plan = plan_import(form.kind.data, table)
    if not plan.ok:
        return _preview(plan, upload_file.filename or "")
    token = uploads.store(form.kind.data, upload_file.filename or "", table, current_user.id)
    return redirect(url_for("transfer.preview", token=token))


def _stored(token: str) -> uploads.StoredUpload:
    if not uploads.valid_token(token):
        abort(404)
    return uploads.load(token, current_user.id)


@bp.route("/preview/<token>")
@roles_required(*STAFF)
def preview(token: str):
    stored = _stored(token)
    return _preview(plan_import(stored.kind, stored.table), stored.filename, token)


@bp.route("/confirm", methods=["POST"])
@roles_required(*STAFF)
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        stored = uploads.claim(form.token.data, current_user.id)
    except NotFound:
        abort(404)
    try:
        plan = commit_import(stored.kind, stored.table, current_user, today=local_today())
    except ImportRejected as exc:
        uploads.release(stored)
        flash(_("The data changed since the preview; nothing was imported. Fix the rows below and upload the file again."),
              "error")
        return _preview(exc.plan, stored.filename)
    except BaseException:
        uploads.release(stored)
        raise
    uploads.discard(stored.token)
    if plan.kind == "experts":
        flash(_("Imported %(count)s experts with %(achievements)s achievements.", count=len(plan.rows),
                achievements=plan.achievement_count), "success")
    else:
        flash(_("Imported %(count)s needs.", count=len(plan.rows)), "success")
    return redirect(url_for("transfer.index"))


@bp.route("/export/<kind>.<fmt>")
@roles_required(*STAFF)
def export(kind: str, fmt: str):
    if kind not in exports.EXPORT_KINDS or fmt not in exports.FORMATS:
        abort(404)
    lang = str(get_locale() or "zh")
    filename = f"{kind}-{local_today():%Y%m%d}.{fmt}"
    if fmt == "csv":
        chunks = exports.export_csv(current_user, kind, lang)
        return Response(stream_with_context(chunks), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    exports.export_xlsx(current_user, kind, lang, spool)
    spool.seek(0)
    return send_file(spool, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename)
