"""Money is a whole number of cents everywhere; these turn it into text and back."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}
MAX_CENTS = 10_000_000_00  # ten million: above this a price is a typo (and a 32-bit column overflows soon)


class MoneyError(ValueError):
    """A text that is not an amount of money we accept."""


def parse_money(text: str) -> int:
    """'12.5' -> 1250. Refuses negatives, fractions of a cent, and absurd amounts."""
    try:
        amount = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise MoneyError(f"{text!r} is not an amount like 12.50") from None
    if not amount.is_finite() or amount < 0:
        raise MoneyError(f"{text!r} is not an amount like 12.50")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise MoneyError(f"{text!r} has fractions of a cent")
    if cents > MAX_CENTS:
        raise MoneyError(f"{text!r} is too large")
    return int(cents)


def format_money(cents: int, currency: str = "EUR") -> str:
    """1250 -> '€12.50'. No thousands separator, so the figure reads the same in any locale."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    if symbol is None:
        return f"{format_amount(cents)} {currency}"
    sign = "-" if cents < 0 else ""
    return f"{sign}{symbol}{format_amount(abs(cents))}"


def format_amount(cents: int) -> str:
    """1250 -> '12.50': the figure alone, as typed in forms and CSV files."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units}.{rest:02d}"
