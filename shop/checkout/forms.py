from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, Form, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, StopValidation, ValidationError

from shop.checkout.service import Choices, ShippingAddress
from shop.checkout.shown import Shown
from shop.countries import country_choices, country_name
from shop.extensions import get_settings
from shop.forms import email_field
from shop.payment import offered_payment_methods
from shop.shipping import offered_shipping_options, shipping_option
from shop.shipping_zones import shippable_countries


class AddressRequired:
    """Required unless the shipping option chosen needs no address (a pickup)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __call__(self, form: Form, field: Field) -> None:
        option = shipping_option(form.shipping_method.data or "")
        if option is not None and not option.needs_address:
            field.errors = []
            raise StopValidation()  # whatever was typed is not used
        DataRequired(self.message)(form, field)


def _summary(form: Form, field: Field) -> None:
    try:
        Shown.parse(field.data)
    except ValueError:
        raise ValidationError(_("This form was not recognised.")) from None


def _shippable(form: Form, field: Field) -> None:
    """A country no zone delivers to is refused here, with its name, before the order is
    tried (the list offers none; a form from before a zone changed may)."""
    if field.data not in form.shippable:
        name = country_name(field.data or "", get_settings().locale)
        raise ValidationError(
            _("We cannot deliver to %(country)s. Please choose a country from the list.", country=name)
        )


def _address(message: str, max_length: int) -> list:
    return [AddressRequired(message), Length(max=max_length, message=_l("At most %(max)d characters."))]


class CheckoutForm(FlaskForm):
    shipping_method = RadioField(_l("How should it reach you?"), validate_choice=True)
    full_name = StringField(
        _l("Full name"),
        validators=[
            DataRequired(_l("Enter your full name.")),
            Length(max=120, message=_l("At most %(max)d characters.")),
        ],
    )
    address = StringField(_l("Street address"), validators=_address(_l("Enter your street address."), 200))
    city = StringField(_l("Town or city"), validators=_address(_l("Enter your town or city."), 100))
    postal_code = StringField(
        _l("Postal code"),
        validators=[
            *_address(_l("Enter your postal code."), 20),
            Regexp(r"^[A-Za-z0-9][A-Za-z0-9 -]*$", message=_l("Use letters, digits, spaces and dashes.")),
        ],
    )
    # ISO codes, named in the shop's language; only the countries a zone delivers to.
    country = SelectField(
        _l("Country"), validators=[AddressRequired(_l("Enter your country.")), _shippable], validate_choice=False
    )
    payment_method = RadioField(_l("How will you pay?"), validate_choice=True)
    # The idempotency key, made when the form is shown: the same form submitted twice
    # (a double click, a reload, a retry after a timeout) makes one order.
    checkout_token = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{16,64}$")])
    # What the page showed (lines, prices, totals; shop/checkout/shown.py), set when it is
    # rendered: an order that would cost something else is not placed. A form from before
    # it existed has none, and is checked against the database alone.
    shown = HiddenField(validators=[Optional(), _summary])
    priced_for = HiddenField()  # the country the page's delivery costs were for ("" none)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        shipping = offered_shipping_options(settings)
        payment = offered_payment_methods(settings)
        self.shipping_method.choices = [(o.code, o.label) for o in shipping]
        self.shippable = shippable_countries()  # one query, for the list and its check
        self.country.choices = country_choices(self.shippable, settings.locale)
        self.payment_method.choices = [(m.code, m.label) for m in payment]
        # A browser sends the checked radio; check the first so the form is complete as shown.
        if not self.shipping_method.data:  # the first option some offered payment fits
            self.shipping_method.data = next(o.code for o in shipping if any(m.fits(o) for m in payment))
        if not self.payment_method.data:
            chosen = shipping_option(self.shipping_method.data)
            fitting = [m.code for m in payment if chosen is not None and m.fits(chosen)]
            self.payment_method.data = (fitting or [payment[0].code])[0]
        self.shipping_method.validators = [DataRequired(_("Choose how the order should reach you."))]
        self.payment_method.validators = [DataRequired(_("Choose how you will pay."))]

    def shipping_address(self) -> ShippingAddress:
        return ShippingAddress(
            full_name=(self.full_name.data or "").strip(),
            address=(self.address.data or "").strip(),
            city=(self.city.data or "").strip(),
            postal_code=(self.postal_code.data or "").strip(),
            country=(self.country.data or "").strip(),
        )

    def shown_summary(self) -> Shown | None:
        """What the page showed, or None when the form did not say (an older page)."""
        # Optional() stops the checks for a value of only spaces: that is no summary either.
        return Shown.parse(self.shown.data) if (self.shown.data or "").strip() else None

    def choices(self, voucher_code: str = "") -> Choices:
        return Choices(self.shipping_method.data, self.payment_method.data, voucher_code)


class GuestCheckoutForm(CheckoutForm):
    """Checkout without an account: the email address is where the order's emails go."""

    email = email_field()


class VoucherForm(FlaskForm):
    code = StringField(
        _l("Voucher code"),
        validators=[
            DataRequired(_l("Enter the voucher's code.")),
            Length(max=40, message=_l("At most %(max)d characters.")),
            Regexp(r"^[A-Za-z0-9 _-]+$", message=_l("A code has letters, digits and dashes only.")),
        ],
    )
