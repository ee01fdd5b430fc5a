"""The forms of the admin's pages about people: a customer's data (export, erasure) and
the staff."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _address_field(label: str, field_id: str | None = None) -> StringField:
    # Not shop.forms.email_field: an address the shop holds may be one its forms would
    # refuse today (an older rule), and it must still be found.
    return StringField(
        label,
        id=field_id,  # two forms on one page: their fields need ids of their own
        filters=[_stripped],
        validators=[
            DataRequired(_l("Enter an email address.")),
            Length(max=254, message=_l("At most 254 characters.")),
        ],
    )


class CustomerForm(FlaskForm):
    """The customer's email address, to export what the shop holds about them."""

    email = _address_field(_l("Email address"))


class EraseCustomerForm(FlaskForm):
    """The address to erase, typed twice: an erasure cannot be undone."""

    email = _address_field(_l("Email address"), "erase-email")
    confirm = _address_field(_l("The same address again, to confirm"), "erase-confirm")

    def validate_confirm(self, field: StringField) -> None:
        if (field.data or "").lower() != (self.email.data or "").lower():
            raise ValidationError(_l("The two addresses differ."))


class StaffForm(FlaskForm):
    """The email address of an account to make a staff member, or a customer again."""

    email = _address_field(_l("Email address of the account"))
