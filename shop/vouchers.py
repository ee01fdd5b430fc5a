"""Vouchers: creating them, checking a code against the basket, and taking one use of it
with the order (and giving it back when the order is cancelled).

The check (`usable_voucher`) tells the shopper early why a code does not apply. The use is
taken by one conditional UPDATE inside the order's transaction (`take_voucher_use`), so
when 20 shoppers race for the last 5 uses, 5 orders get the discount and the others are
told, with nothing written.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from shop.audit import Actor, record_change, snapshot
from shop.clock import day_end, day_start, shop_date
from shop.database import transaction
from shop.extensions import db, get_settings
from shop.models import Voucher, utcnow
from shop.money import format_money
from shop.pricing import discount_cents, format_rate

# What the audit trail records of a new voucher.
AUDITED_FIELDS = ("code", "kind", "amount", "min_basket_cents", "valid_from", "valid_until", "usage_limit", "active")


class VoucherError(Exception):
    """This code cannot be used for this basket; the message is for the shopper."""


class VoucherCodeTaken(Exception):
    """Another voucher has this code."""


class VoucherNotFound(Exception):
    pass


def normalise_code(code: str) -> str:
    """' ab 10 ' -> 'AB10': codes are kept upper case, without spaces."""
    return "".join(code.split()).upper()


def create_voucher(
    code: str,
    kind: str,
    amount: int,
    min_basket_cents: int = 0,
    valid_from: date | None = None,
    valid_until: date | None = None,
    usage_limit: int | None = None,
    *,
    by: Actor | None,
) -> Voucher:
    """A new voucher, valid from the start of shop day `valid_from` to the end of shop day
    `valid_until` (SHOP_TIMEZONE, shop/clock.py; stored as the UTC times they begin and end).
    `kind` "percent": `amount` in hundredths of a percent; "fixed": in minor units.
    Recorded in the audit trail as created `by` this user. Raises VoucherCodeTaken."""
    voucher = Voucher(
        code=normalise_code(code),
        kind=kind,
        amount=amount,
        min_basket_cents=min_basket_cents,
        valid_from=day_start(valid_from) if valid_from else None,
        valid_until=day_end(valid_until) if valid_until else None,
        usage_limit=usage_limit,
    )
    try:
        with transaction():
            db.session.add(voucher)
            db.session.flush()
            after = snapshot(voucher, AUDITED_FIELDS)
            for moment in ("valid_from", "valid_until"):
                after[moment] = after[moment].isoformat() if after[moment] else None
            record_change(by, "voucher.created", "voucher", voucher.id, None, after)
    except IntegrityError:
        raise VoucherCodeTaken(code) from None
    return voucher


def set_voucher_active(voucher_id: int, active: bool, *, by: Actor | None) -> Voucher:
    """Switch a voucher on or off (recorded in the audit trail as done `by` this user, if
    it changed anything); the voucher. Raises VoucherNotFound."""
    with transaction():
        voucher = db.session.get(Voucher, voucher_id, with_for_update=True)
        if voucher is None:
            raise VoucherNotFound(voucher_id)
        if voucher.active != active:
            record_change(by, "voucher.changed", "voucher", voucher.id, {"active": voucher.active}, {"active": active})
        voucher.active = active
    return voucher


def all_vouchers() -> list[Voucher]:
    """Every voucher, newest first."""
    return list(db.session.execute(sa.select(Voucher).order_by(Voucher.id.desc())).scalars())


def usable_voucher(code: str, subtotal_cents: int, now: datetime | None = None) -> Voucher:
    """The active voucher `code` if it applies to goods worth `subtotal_cents` now.
    Raises VoucherError saying why not."""
    now = now or utcnow()
    voucher = db.session.execute(sa.select(Voucher).where(Voucher.code == normalise_code(code))).scalar_one_or_none()
    if voucher is None or not voucher.active:
        raise VoucherError(_("%(code)r is not a voucher code we know.", code=normalise_code(code)))
    if voucher.valid_from is not None and now < voucher.valid_from:
        raise VoucherError(
            _("Voucher %(code)s can be used from %(day)s.", code=voucher.code, day=shop_date(voucher.valid_from))
        )
    if voucher.valid_until is not None and now >= voucher.valid_until:
        raise VoucherError(_("Voucher %(code)s has expired.", code=voucher.code))
    if voucher.usage_limit is not None and voucher.times_used >= voucher.usage_limit:
        raise VoucherError(_("Voucher %(code)s has been used up.", code=voucher.code))
    if subtotal_cents < voucher.min_basket_cents:
        raise VoucherError(
            _(
                "Voucher %(code)s needs a basket of at least %(minimum)s.",
                code=voucher.code,
                minimum=format_money(voucher.min_basket_cents, get_settings().currency, get_settings().locale),
            )
        )
    return voucher


def take_voucher_use(voucher: Voucher) -> None:
    """Count one use, if one is left; in the caller's transaction. Raises VoucherError."""
    limit_left = sa.or_(Voucher.usage_limit.is_(None), Voucher.times_used < Voucher.usage_limit)
    taken = db.session.execute(
        sa.update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.active.is_(True), limit_left)
        .values(times_used=Voucher.times_used + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not taken:
        raise VoucherError(_("Voucher %(code)s has just been used up; nothing was ordered.", code=voucher.code))


def give_back_voucher_use(voucher_id: int | None) -> None:
    """A cancelled order did not use its voucher (`voucher_id`; None: it had none): the
    use counts for someone else. In the caller's transaction."""
    if voucher_id is not None:
        db.session.execute(
            sa.update(Voucher)
            .where(Voucher.id == voucher_id, Voucher.times_used > 0)
            .values(times_used=Voucher.times_used - 1)
            .execution_options(synchronize_session=False)
        )


def voucher_discount(voucher: Voucher, subtotal_cents: int) -> int:
    """What `voucher` takes off goods worth `subtotal_cents`, in cents."""
    return discount_cents(voucher.kind, voucher.amount, subtotal_cents)


def describe_voucher(voucher: Voucher) -> str:
    """'10 % off' or '€5.00 off', with the minimum basket if there is one, in the shop's
    currency and locale."""
    settings = get_settings()

    def money(minor_units: int) -> str:
        return format_money(minor_units, settings.currency, settings.locale)

    off = format_rate(voucher.amount) if voucher.kind == "percent" else money(voucher.amount)
    if voucher.min_basket_cents:
        return _("%(off)s off a basket of %(minimum)s or more", off=off, minimum=money(voucher.min_basket_cents))
    return _("%(off)s off", off=off)
