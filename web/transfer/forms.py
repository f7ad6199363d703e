from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, RadioField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Regexp

from ..formats.uploads import TOKEN_PATTERN


class UploadForm(FlaskForm):
    kind = RadioField(_l("The file contains"), choices=[SelectChoice("experts", _l("Experts")), SelectChoice("needs", _l("Needs"))],
                      default="experts", validators=[DataRequired()])
    file = FileField(_l("File (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file to upload."))])
    submit = SubmitField(_l("Check the file"))


class ConfirmForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Regexp(rf"\A{TOKEN_PATTERN}\Z")])
    submit = SubmitField(_l("Import everything"))
