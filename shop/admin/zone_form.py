"""The shipping zone form of /admin/shipping-zones (shop/admin/zones.py)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from shop.countries import all_country_codes, country_choices
from shop.extensions import get_settings
from shop.models import ShippingZone
from shop.money import MoneyError, format_amount, parse_money
from shop.shipping import ZoneRate
from shop.shipping_zones import ZoneValues


class ZoneForm(FlaskForm):
    name = StringField(
        _l("Name"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[DataRequired(), Length(max=80)],
    )
    countries = SelectMultipleField(_l("Countries"))
    rate = StringField(_l("Flat rate"), validators=[DataRequired()])
    free_over = StringField(_l("Free from (goods worth at least)"), validators=[Optional()])
    rest_of_world = BooleanField(_l("Rest of the world: every country in no other zone"))
    free_over_cents: int | None = None  # set by validate_free_over; None: left empty, never free

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.countries.choices = country_choices(all_country_codes(), get_settings().locale)[1:]

    def _amount(self, text: str) -> int:
        settings = get_settings()
        try:
            return parse_money(text, settings.currency, settings.locale)
        except MoneyError as error:
            raise ValidationError(str(error)) from None

    def validate_rate(self, field: StringField) -> None:
        self.rate_cents = self._amount(field.data or "")

    def validate_free_over(self, field: StringField) -> None:
        self.free_over_cents = self._amount(field.data) if field.data else None

    def validate_countries(self, field: SelectMultipleField) -> None:
        if not field.data and not self.rest_of_world.data:
            raise ValidationError(_l("Choose the zone's countries, or make it the rest of the world."))

    def values(self) -> ZoneValues:
        """What the (validated) form says the zone is."""
        return ZoneValues(
            name=self.name.data,
            countries=frozenset(self.countries.data or ()),
            rate_cents=self.rate_cents,
            free_over_cents=self.free_over_cents,
            rest_of_world=bool(self.rest_of_world.data),
        )


def zone_form_data(zone: ShippingZone) -> dict[str, Any]:
    """The form's fields for `zone`; a zone that follows the settings shows their amounts
    (saving it fixes them in the zone)."""
    settings = get_settings()
    rate = (
        ZoneRate.from_settings(settings)
        if zone.follows_settings
        else ZoneRate(zone.rate_cents or 0, zone.free_over_cents)
    )

    def amount(minor_units: int | None) -> str:
        return "" if minor_units is None else format_amount(minor_units, settings.currency, settings.locale)

    return {
        "name": zone.name,
        "countries": zone.country_codes,
        "rate": amount(rate.rate_cents),
        "free_over": amount(rate.free_over_cents),
        "rest_of_world": zone.rest_of_world,
    }
