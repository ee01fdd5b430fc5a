from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from shop.forms import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, email_field


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        _l("Password"),
        validators=[
            DataRequired(_l("Choose a password.")),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=_l("Use %(min)d to %(max)d characters."),
            ),
        ],
    )
    confirm = PasswordField(
        _l("Repeat the password"),
        validators=[DataRequired(_l("Repeat the password.")), EqualTo("password", _l("The two passwords differ."))],
    )
    return password, confirm


def check_not_like_email(password: str, email: str | None) -> None:
    """A password that is (or contains) the account's email is the first one guessed:
    raises ValidationError for one."""
    email = (email or "").lower()
    local_part = email.partition("@")[0]
    if email and (password.lower() == email or (len(local_part) >= 4 and local_part in password.lower())):
        raise ValidationError(_("Choose a password that does not contain your email address."))


class RegisterForm(FlaskForm):
    email = email_field()
    password, confirm = _new_password_fields()

    def validate_password(self, field: PasswordField) -> None:
        check_not_like_email(field.data, self.email.data)


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me signed in on this device"))


class ResetRequestForm(FlaskForm):
    email = email_field()


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields()


class LogoutForm(FlaskForm):
    """Only the CSRF token: signing out is a POST, so no other site can sign you out."""


class ClaimOrdersForm(FlaskForm):
    """Only the CSRF token: adding the orders is a POST."""


class ConfirmEmailForm(FlaskForm):
    """Only the CSRF token: confirming the address is a POST (a mail scanner's GET is not one)."""
