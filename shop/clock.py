"""The shop's days: times are stored as naive UTC (shop.models.utcnow); a day, though, is
a day in SHOP_TIMEZONE (an IANA name, default UTC), from its midnight to the next.

An order placed at 23:30 UTC in a shop in Europe/Berlin is placed on the next day; a shop
day is 23 hours long on the last Sunday of March and 25 on the last Sunday of October
there. Everything that counts days asks this module: the dashboard's "today", "this week"
and chart, the admin's date filters, a voucher's first and last day, the cancel-unpaid age
and the date in the order number. Pages and emails show times in the shop's zone with
`shop_datetime`, through Babel in the shop's locale.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from shop.extensions import get_settings
from shop.models import utcnow


def shop_zone() -> ZoneInfo:
    """SHOP_TIMEZONE as a zone (config.py checked the name when the shop started)."""
    return ZoneInfo(get_settings().timezone)


def shop_time(utc: datetime) -> datetime:
    """A stored naive UTC time as an aware time in the shop's zone."""
    return utc.replace(tzinfo=UTC).astimezone(shop_zone())


def shop_day_of(utc: datetime) -> date:
    """The shop day a stored naive UTC time falls on: 2026-03-28 23:30 UTC -> 2026-03-29
    in Europe/Berlin."""
    return shop_time(utc).date()


def shop_today(now: datetime | None = None) -> date:
    """Today in the shop's zone (`now`: a naive UTC time instead of the clock's)."""
    return shop_day_of(now or utcnow())


def day_start(day: date) -> datetime:
    """The naive UTC time `day` begins at in the shop's zone: its midnight (or, where the
    clocks jump over midnight, the first moment it has), as stored times compare with it.
    A shop day runs from day_start(day) to day_start(day + 1 day), excluded."""
    local = datetime.combine(day, datetime.min.time(), tzinfo=shop_zone())
    # zoneinfo gives a time in a gap the offset from before it: round trip through UTC
    # lands on the first moment that exists.
    return local.astimezone(UTC).replace(tzinfo=None)


def day_end(day: date) -> datetime:
    """The naive UTC time the next shop day begins at: `day` is the times before it."""
    return day_start(day + timedelta(days=1))


def week_start(day: date) -> date:
    """The Monday of `day`'s week (ISO 8601 weeks, as the dashboard's "this week")."""
    return day - timedelta(days=day.weekday())


def shop_datetime(utc: datetime | None, format: str = "medium") -> str:
    """A stored naive UTC time as the shop shows it: in its zone and locale, with the zone's
    name ('28 Mar 2026, 23:30:00 CET'); "" for None. `format`: Babel's short, medium, long
    or a CLDR pattern."""
    if utc is None:
        return ""
    return format_datetime(shop_time(utc), format, tzinfo=shop_zone(), locale=get_settings().locale)


def shop_date(value: datetime | date | None, format: str = "medium") -> str:
    """A date (or the shop day of a stored naive UTC time) in the shop's locale; "" for None."""
    if value is None:
        return ""
    day = shop_day_of(value) if isinstance(value, datetime) else value
    return format_date(day, format, locale=get_settings().locale)
