from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from ..domain.fields import SIGN_UP
from ..forms import field_args


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    next = HiddenField()
    submit = SubmitField(_l("Sign in"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Sign out"))


class SignupForm(FlaskForm):
    role = RadioField(**field_args(SIGN_UP["role"], choices=[SelectChoice("enterprise", _l("An enterprise with a technical need")),
                                                             SelectChoice("expert", _l("An expert offering my know-how"))],
                                   default="enterprise"))
    name = StringField(**field_args(SIGN_UP["name"]))
    organization = StringField(**field_args(SIGN_UP["organization"]))
    phone = StringField(**field_args(SIGN_UP["phone"]))
    email = EmailField(**field_args(SIGN_UP["email"]))
    password = PasswordField(**field_args(SIGN_UP["password"]))
    submit = SubmitField(_l("Sign up"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=128)])
    new_password = PasswordField(_l("New password (at least 8 characters)"), validators=[DataRequired(), Length(max=128)])
    submit = SubmitField(_l("Change password"))
