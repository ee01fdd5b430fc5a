from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field
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
    low_stock_threshold = QuantityField(
        "Low-stock alert at",
        validators=[Optional(), NumberRange(0, 1_000_000, "Enter a whole number from 0 to 1000000.")],
    )
    category = StringField("Category", validators=[Optional(), Length(max=80)])
    image = FileField("Image (PNG, JPEG, GIF or WebP, up to 2 MB)")

    def validate_price(self, field: StringField) -> None:
        try:
            self.price_cents = parse_money(field.data or "")
        except MoneyError as error:
            raise ValidationError(str(error)) from None


LAST_DATE = date(9998, 12, 31)  # a day after it must exist: a range ends at the start of the next day


def before_the_last_date(form: FlaskForm, field: Field) -> None:
    if field.data is not None and field.data > LAST_DATE:
        raise ValidationError(f"Enter a date up to {LAST_DATE:%Y-%m-%d}.")


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
    date_from = DateField("From", validators=[Optional(), before_the_last_date])
    date_to = DateField("To", validators=[Optional(), before_the_last_date])


class VoucherForm(FlaskForm):
    min_basket_cents = 0  # when the optional field is left empty its validator does not run
    code = StringField(
        "Code",
        validators=[
            DataRequired("Enter a code."),
            Length(max=40, message="At most 40 characters."),
            Regexp(r"^[A-Za-z0-9_-]+$", message="Letters, digits, dashes and underscores."),
        ],
        filters=[lambda value: value.strip().upper() if isinstance(value, str) else value],
    )
    kind = SelectField("Kind", choices=[SelectChoice("percent", "Percentage off"), SelectChoice("fixed", "Amount off")])
    amount = StringField("Amount", validators=[DataRequired("Enter the amount, like 10 or 5.00.")])
    min_basket = StringField("Minimum basket", validators=[Optional()])
    valid_from = DateField("Valid from", validators=[Optional(), before_the_last_date])
    valid_until = DateField("Valid until (last day)", validators=[Optional(), before_the_last_date])
    usage_limit = QuantityField(
        "Number of uses", validators=[Optional(), NumberRange(1, 1_000_000, "Enter a whole number from 1.")]
    )

    def validate_amount(self, field: StringField) -> None:
        """Percent: 0.01 to 100, kept in hundredths of a percent; amount: money, in cents."""
        try:
            cents = parse_money(field.data or "")
        except MoneyError as error:
            if self.kind.data == "percent":
                raise ValidationError("Enter a percentage like 10 or 12.5 (at most two decimals).") from None
            raise ValidationError(str(error)) from None
        if cents <= 0:
            raise ValidationError("Enter more than 0.")
        if self.kind.data == "percent" and cents > 100_00:
            raise ValidationError("A percentage goes up to 100.")
        self.amount_value = cents  # 12.5 % -> 1250, €5.00 -> 500: both hundredths

    def validate_min_basket(self, field: StringField) -> None:
        try:
            self.min_basket_cents = parse_money(field.data) if field.data else 0
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def validate_valid_until(self, field: DateField) -> None:
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError("The last day comes before the first.")


class ActionForm(FlaskForm):
    """Only the CSRF token, for buttons that change one thing (deactivate, resend)."""
