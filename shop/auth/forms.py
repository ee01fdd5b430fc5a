from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


def email_field() -> EmailField:
    """An address the shop can send to. Letters beyond ASCII before the @ (jörg@...) need a
    mail server that offers SMTPUTF8 (RFC 6531), so they are accepted only with
    MAIL_SMTPUTF8 on; a domain beyond ASCII is always fine: it is sent as IDNA (xn--...)."""
    from flask import current_app

    def sendable(form: object, field: EmailField) -> None:
        local_part = (field.data or "").rpartition("@")[0]
        if not local_part.isascii() and not current_app.config["MAIL_SMTPUTF8"]:
            raise ValidationError(
                "This shop cannot send email to an address with letters like ö or é before the @; "
                "please give another address."
            )

    return EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254, message="At most 254 characters."),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
            sendable,
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )


def _new_password_fields() -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Choose a password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=MAX_PASSWORD_LENGTH,
                message=f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
            ),
        ],
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired("Repeat the password."), EqualTo("password", "The two passwords differ.")],
    )
    return password, confirm


def check_not_like_email(password: str, email: str | None) -> None:
    """A password that is (or contains) the account's email is the first one guessed."""
    email = (email or "").lower()
    local_part = email.partition("@")[0]
    if email and (password.lower() == email or (len(local_part) >= 4 and local_part in password.lower())):
        raise ValidationError("Choose a password that does not contain your email address.")


class RegisterForm(FlaskForm):
    email = email_field()
    password, confirm = _new_password_fields()

    def validate_password(self, field: PasswordField) -> None:
        check_not_like_email(field.data, self.email.data)


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in on this device")


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
