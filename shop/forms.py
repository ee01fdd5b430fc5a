"""Form fields and rules shared by several areas: a quantity typed in digits, an email
address, and the length a new password must have (forms and `flask shop create-admin`)."""

from __future__ import annotations

import re
from typing import Any

from wtforms import EmailField, IntegerField
from wtforms.validators import DataRequired, Email, Length

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


class QuantityField(IntegerField):
    """A whole number typed with the digits 0-9 (int() would also take '٣' or '1_0')."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist and not re.fullmatch(r"\s*[0-9]{1,9}\s*", str(valuelist[0])):
            self.data = None
            raise ValueError("Enter a whole number, like 2.")
        super().process_formdata(valuelist)


def email_field() -> EmailField:
    """An email address, required, at most 254 characters (RFC 5321's limit on a path),
    stripped and lower-cased."""
    return EmailField(
        "Email",
        validators=[
            DataRequired("Enter your email address."),
            Length(max=254, message="At most 254 characters."),
            Email("Enter an email address like name@example.com.", check_deliverability=False),
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
