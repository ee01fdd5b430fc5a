from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from shop.cart.forms import QuantityField
from shop.models import OrderStatus
from shop.money import MoneyError, parse_money


class ProductForm(FlaskForm):
    sku = StringField(
        "SKU",
        validators=[
            DataRequired("Enter a SKU."),
            Length(max=64, message="At most 64 characters."),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", message="Letters, digits, dots, dashes and underscores."),
        ],
    )
    name = StringField("Name", validators=[DataRequired("Enter a name."), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    price = StringField("Price", validators=[DataRequired("Enter a price, like 12.50.")])
    stock = QuantityField(
        "Stock",
        validators=[
            InputRequired("Enter the stock (0 or more)."),
            NumberRange(0, 1_000_000, "Enter a whole number from 0 to 1000000."),
        ],
    )
    category = StringField("Category", validators=[Optional(), Length(max=80)])
    image = FileField("Image (PNG, JPEG, GIF or WebP, up to 2 MB)")

    def validate_price(self, field: StringField) -> None:
        try:
            self.price_cents = parse_money(field.data or "")
        except MoneyError as error:
            raise ValidationError(str(error)) from None


class CsvImportForm(FlaskForm):
    file = FileField("CSV file (sku,name,description,price,stock,category)")


def status_choices(statuses: tuple[str, ...]) -> list[SelectChoice]:
    return [SelectChoice(s, OrderStatus.label(s)) for s in statuses]


class OrderStatusForm(FlaskForm):
    to_status = SelectField("New status", choices=status_choices(OrderStatus.ALL))
    note = StringField(
        "Note (e.g. the tracking number; sent to the customer when shipping)", validators=[Optional(), Length(max=500)]
    )


class OrderFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    status = SelectField("Status", choices=[SelectChoice("", "Any"), *status_choices(OrderStatus.ALL)])
    customer = StringField("Customer email", validators=[Optional(), Length(max=254)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class ActionForm(FlaskForm):
    """Only the CSRF token, for buttons that change one thing (deactivate, resend)."""
