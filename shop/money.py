"""Money is a whole number of cents everywhere; these turn it into text and back."""

from __future__ import annotations

from decimal import Decimal, DecimalException

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CHF": "CHF ", "JPY": "¥"}
MAX_CENTS = 10_000_000_00  # ten million: above this a price is a typo (and a 32-bit column overflows soon)
MAX_AMOUNT_TEXT = 32  # characters: far more than any amount anyone types
CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A text that is not an amount of money we accept."""


def parse_money(text: str) -> int:
    """'12.5' -> 1250 (cents). Refuses negatives, fractions of a cent, amounts over MAX_CENTS
    and whatever Decimal does not read, always with MoneyError.

    The size is checked before any arithmetic: Decimal reads '1e999999999', but multiplying
    it overflows (decimal.Overflow, which is not InvalidOperation), and every decimal error
    is caught besides. Fractions are found by an exact comparison, not by arithmetic that
    rounds to 28 digits.
    """
    shown = repr(text[:MAX_AMOUNT_TEXT]) if isinstance(text, str) else repr(text)
    cleaned = text.strip() if isinstance(text, str) else ""
    # Decimal also reads other scripts' digits ('١٢') and '1_000': only 0-9 are typed here.
    if not cleaned or len(cleaned) > MAX_AMOUNT_TEXT or not cleaned.isascii() or "_" in cleaned:
        raise MoneyError(f"{shown} is not an amount like 12.50")
    try:
        amount = Decimal(cleaned)
        if not amount.is_finite() or amount < 0:
            raise MoneyError(f"{shown} is not an amount like 12.50")
        if amount.adjusted() >= 8:  # 100 million or more: over MAX_CENTS, whatever the digits
            raise MoneyError(f"{shown} is too large")
        cents = amount.quantize(CENT)  # at most 10 digits here: exact
        if cents != amount:
            raise MoneyError(f"{shown} has fractions of a cent")
        whole = int(cents.scaleb(2))
    except (DecimalException, ValueError) as error:
        if isinstance(error, MoneyError):
            raise
        raise MoneyError(f"{shown} is not an amount like 12.50") from None
    if whole > MAX_CENTS:
        raise MoneyError(f"{shown} is too large")
    return whole


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
