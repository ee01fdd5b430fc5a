"""Money is a whole number of the currency's minor units everywhere; these turn it into text
and back, in the shop's locale, with Babel.

A minor unit is what ISO 4217 says the currency divides into (Babel's
`get_currency_precision`): a cent of EUR (2 decimals), a yen (JPY, none), a fils of BHD (3).
Columns keep their historical names (`price_cents`, `total_cents`): they hold minor units of
SHOP_CURRENCY. The shop's arithmetic (shop/pricing.py) never needs to know how many there are.

Amounts are shown with Babel's `format_currency` in SHOP_LOCALE (de: '12,50 €', en:
'€12.50', JPY: '¥1,000'), and read as the owner types them in that locale (`parse_money`:
'12,50' in de), refusing anything ambiguous ('1.234' in de could be a thousand or a typo
for 1,234) with a message that says what to type.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, localcontext

from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    parse_decimal,
)
from flask_babel import gettext as _

# Above this many minor units a price is a typo, and PostgreSQL's 32-bit integer columns
# (prices, order totals) are near: ten million units of a currency without decimals, a
# billion minor units otherwise (ten million euros, a million dinars).
MAX_MINOR_UNITS = 1_000_000_000
MAX_AMOUNT_TEXT = 32  # characters: far more than any amount anyone types
# Spaces some locales group thousands with (fr: narrow no-break space); typed as plain spaces.
SPACES = {" ", "\u00a0", "\u202f"}


class MoneyError(ValueError):
    """A text that is not an amount of money we accept; str() is the message for the owner."""


def decimals(currency: str) -> int:
    """The currency's number of decimals by ISO 4217, as Babel knows them: EUR 2, JPY 0,
    BHD 3; 2 for a code Babel does not know."""
    return get_currency_precision(currency)


def max_minor_units(currency: str) -> int:
    """The largest amount parse_money accepts, in minor units of `currency`."""
    return min(MAX_MINOR_UNITS, 10_000_000 * 10 ** decimals(currency))


def to_decimal(minor_units: int, currency: str) -> Decimal:
    """1250 EUR -> Decimal('12.50'), 1000 JPY -> Decimal('1000'), 1234 BHD -> Decimal('1.234'):
    exact, with as many decimals as the currency has (for JSON-LD and Babel)."""
    return Decimal(minor_units).scaleb(-decimals(currency))


def format_money(minor_units: int, currency: str, locale: str) -> str:
    """1250, 'EUR', 'de' -> '12,50 €'; 1250, 'EUR', 'en' -> '€12.50'; 1000, 'JPY', 'en' ->
    '¥1,000': Babel's format_currency with the currency's own decimals."""
    return format_currency(to_decimal(minor_units, currency), currency, locale=locale, currency_digits=True)


def format_amount(minor_units: int, currency: str, locale: str) -> str:
    """1250, 'EUR', 'de' -> '12,50': the figure alone, without thousands separators, as the
    owner types it in forms and CSV files (parse_money reads it back)."""
    places = decimals(currency)
    pattern = "0" + ("." + "0" * places if places else "")
    return format_decimal(to_decimal(minor_units, currency), format=pattern, locale=locale, group_separator=False)


def parse_money(text: str, currency: str, locale: str) -> int:
    """'12,50' (de) or '12.50' (en) -> 1250 minor units of EUR; '1000' -> 1000 JPY.

    Read as parse_scaled reads it, with the currency's decimals and max_minor_units(currency)
    as the largest amount. Raises MoneyError with a message that shows what to type.
    """
    example = format_amount(1250 * 10 ** decimals(currency) // 100, currency, locale)  # 12.50, 12, 12.500
    return parse_scaled(text, decimals(currency), locale, max_minor_units(currency), example, currency)


def parse_scaled(text: str, places: int, locale: str, maximum: int, example: str, unit: str = "") -> int:
    """A non-negative decimal typed in `locale` with at most `places` decimals, times
    10**places: '12,5' (de), 2 -> 1250. `example` ('12,50') and `unit` ('EUR') go into the
    messages.

    Read with Babel's parse_decimal(strict=True): digits 0-9, the locale's decimal sign, and
    its thousands separator where it belongs ('1.234,50' in de). Raises MoneyError for
    anything else (signs, exponents, other scripts' digits), more decimals than `places`,
    more than `maximum`, and the ambiguous: a lone thousands separator followed by three
    digits ('1.234' in de, '1,234' in en), which someone used to the other convention means
    as a decimal point (unless there are no decimals to mean: '1,000' yen is a thousand).
    """
    shown = repr(text[:MAX_AMOUNT_TEXT]) if isinstance(text, str) else repr(text)
    not_amount = MoneyError(_("%(text)s is not an amount like %(example)s", text=shown, example=example))
    cleaned = "".join(" " if c in SPACES else c for c in text.strip()) if isinstance(text, str) else ""
    decimal_sign, group_sign = get_decimal_symbol(locale), get_group_symbol(locale)
    group_sign = " " if group_sign in SPACES else group_sign
    allowed = set("0123456789") | {decimal_sign, group_sign}
    if not cleaned or len(cleaned) > MAX_AMOUNT_TEXT or not set(cleaned) <= allowed or not cleaned[0].isdigit():
        raise not_amount
    whole, _sign, fraction = cleaned.partition(decimal_sign)
    if places and not fraction and whole.count(group_sign) == 1 and len(whole.rpartition(group_sign)[2]) == 3:
        raise MoneyError(
            _(
                "%(text)s is ambiguous: write it without thousands separators, like %(example)s",
                text=shown,
                example=example,
            )
        )
    try:
        # parse_decimal knows the locale's own space (fr: U+202F), not the one typed.
        typed = cleaned.replace(" ", get_group_symbol(locale)) if group_sign == " " else cleaned
        amount = parse_decimal(typed, locale, strict=True)
    except (NumberFormatError, DecimalException):
        raise not_amount from None
    if amount.adjusted() >= 12:  # far over any maximum: refused before any arithmetic on it
        raise MoneyError(_("%(text)s is too large", text=shown))
    with localcontext() as exact:  # at most MAX_AMOUNT_TEXT digits: 64 keeps every one
        exact.prec = 64
        scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        if not places:
            raise MoneyError(_("%(text)s must be a whole number: %(unit)s has no decimals", text=shown, unit=unit))
        raise MoneyError(_("%(text)s has more than %(n)s decimals", text=shown, n=places))
    if int(scaled) > maximum:
        raise MoneyError(_("%(text)s is too large", text=shown))
    return int(scaled)
