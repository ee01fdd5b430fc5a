"""Vouchers: checking a code against the basket, and taking one use of it with the order.

The check (`usable_voucher`) tells the shopper early why a code does not apply. The use is
taken by one conditional UPDATE inside the order's transaction (`take_voucher_use`), so
when 20 shoppers race for the last 5 uses, 5 orders get the discount and the others are
told, with nothing written.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from shop.checkout.pricing import discount_cents, format_rate
from shop.extensions import db, get_settings
from shop.models import Voucher, utcnow
from shop.money import format_money


class VoucherError(Exception):
    """This code cannot be used for this basket; the message is for the shopper."""


def normalise_code(code: str) -> str:
    return "".join(code.split()).upper()


def usable_voucher(code: str, subtotal_cents: int, now: datetime | None = None) -> Voucher:
    """The active voucher `code` if it applies to goods worth `subtotal_cents` now."""
    now = now or utcnow()
    voucher = db.session.execute(sa.select(Voucher).where(Voucher.code == normalise_code(code))).scalar_one_or_none()
    if voucher is None or not voucher.active:
        raise VoucherError(f"{normalise_code(code)!r} is not a voucher code we know.")
    if voucher.valid_from is not None and now < voucher.valid_from:
        raise VoucherError(f"Voucher {voucher.code} can be used from {voucher.valid_from:%d %b %Y}.")
    if voucher.valid_until is not None and now >= voucher.valid_until:
        raise VoucherError(f"Voucher {voucher.code} has expired.")
    if voucher.usage_limit is not None and voucher.times_used >= voucher.usage_limit:
        raise VoucherError(f"Voucher {voucher.code} has been used up.")
    if subtotal_cents < voucher.min_basket_cents:
        raise VoucherError(
            f"Voucher {voucher.code} needs a basket of at least "
            f"{format_money(voucher.min_basket_cents, get_settings().currency)}."
        )
    return voucher


def take_voucher_use(voucher: Voucher) -> None:
    """Count one use, if one is left; in the caller's transaction."""
    limit_left = sa.or_(Voucher.usage_limit.is_(None), Voucher.times_used < Voucher.usage_limit)
    taken = db.session.execute(
        sa.update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.active.is_(True), limit_left)
        .values(times_used=Voucher.times_used + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise VoucherError(f"Voucher {voucher.code} has just been used up; nothing was ordered.")


def voucher_discount(voucher: Voucher, subtotal_cents: int) -> int:
    return discount_cents(voucher.kind, voucher.amount, subtotal_cents)


def describe_voucher(voucher: Voucher, currency: str = "EUR") -> str:
    """'10 % off' or '€5.00 off', with the minimum basket if there is one."""
    off = format_rate(voucher.amount) if voucher.kind == "percent" else format_money(voucher.amount, currency)
    minimum = (
        f" a basket of {format_money(voucher.min_basket_cents, currency)} or more" if voucher.min_basket_cents else ""
    )
    return f"{off} off{minimum}"
