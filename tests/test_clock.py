"""The shop's days (shop/clock.py, SHOP_TIMEZONE): an order at 23:30 UTC is counted on the
next day in Europe/Berlin, and the days around the clock changes (the last Sundays of March
and October) are 23 and 25 hours long, on the dashboard's figures, the admin's date filter,
a voucher's first and last day, the cancel-unpaid age and the order number's date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.dates import format_datetime

from config import ConfigError, settings_from_env
from shop.admin.service import sales_by_day
from shop.clock import day_end, day_start, shop_day_of
from shop.extensions import db
from shop.models import Order, Voucher
from shop.orders.unpaid import unpaid_orders_due
from shop.payment import METHODS
from shop.vouchers import VoucherError, usable_voucher
from tests.conftest import add_product, order_id_from, signed_in_admin, signed_in_browser

BERLIN = "Europe/Berlin"


@pytest.fixture
def berlin(make_app):
    return make_app(SHOP_TIMEZONE=BERLIN)


def place_at(app, shopper, product_id: int, when: datetime) -> int:
    """An order placed through checkout, then dated `when` (naive UTC) as if placed then."""
    shopper.add(product_id, 1)
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        db.session.execute(sa.update(Order).where(Order.id == order_id).values(created_at=when))
        db.session.commit()
    return order_id


def test_day_boundaries_in_berlin_across_both_clock_changes(berlin):
    with berlin.app_context():
        assert shop_day_of(datetime(2026, 3, 28, 23, 30)) == date(2026, 3, 29)  # 00:30 CET
        assert shop_day_of(datetime(2026, 3, 28, 22, 59)) == date(2026, 3, 28)
        # 29 March 2026: clocks go from 02:00 CET to 03:00 CEST: 23 hours.
        assert day_start(date(2026, 3, 29)) == datetime(2026, 3, 28, 23, 0)
        assert day_end(date(2026, 3, 29)) == datetime(2026, 3, 29, 22, 0)
        # 25 October 2026: from 03:00 CEST back to 02:00 CET: 25 hours.
        assert day_start(date(2026, 10, 25)) == datetime(2026, 10, 24, 22, 0)
        assert day_end(date(2026, 10, 25)) == datetime(2026, 10, 25, 23, 0)


@pytest.mark.parametrize(
    ("times", "first_day", "expected"),
    [
        # 23:30 UTC is 00:30 on the next day; 21:59 UTC is 23:59 CEST; 22:00 UTC is the 30th.
        (
            [(3, 28, 22, 30), (3, 28, 23, 30), (3, 29, 21, 59), (3, 29, 22, 0)],
            date(2026, 3, 28),
            [1, 2, 1],
        ),
        # The 25-hour day: 22:00 UTC on the 24th to 23:00 UTC on the 25th.
        (
            [(10, 24, 21, 59), (10, 24, 22, 0), (10, 25, 22, 59), (10, 25, 23, 0)],
            date(2026, 10, 24),
            [1, 2, 1],
        ),
    ],
)
def test_sales_per_day_count_the_shops_days(berlin, times, first_day, expected):
    shopper = signed_in_browser(berlin, "ada@example.com")
    product = add_product(berlin, "Tea", 1000)
    for when in times:  # (month, day, hour, minute) of 2026, UTC
        place_at(berlin, shopper, product, datetime(2026, *when))
    days = [first_day + timedelta(days=i) for i in range(3)]
    with berlin.app_context():
        sales = sales_by_day(3, now=day_start(days[-1]) + timedelta(hours=12))  # midday of the third day
    assert [s.day for s in sales] == days
    assert [s.orders for s in sales] == expected


def test_the_admin_date_filter_takes_the_shops_days(berlin):
    shopper = signed_in_browser(berlin, "ada@example.com")
    product = add_product(berlin, "Tea", 1000)
    before = place_at(berlin, shopper, product, datetime(2026, 3, 28, 22, 59))  # 23:59 CET on the 28th
    late = place_at(berlin, shopper, product, datetime(2026, 3, 28, 23, 30))  # 00:30 CET on the 29th
    after = place_at(berlin, shopper, product, datetime(2026, 3, 29, 22, 0))  # 00:00 CEST on the 30th
    admin = signed_in_admin(berlin)
    html = admin.get("/admin/orders?date_from=2026-03-29&date_to=2026-03-29").get_data(as_text=True)
    assert f"/admin/orders/{late}" in html
    assert f"/admin/orders/{before}" not in html
    assert f"/admin/orders/{after}" not in html
    assert "Placed (Europe/Berlin)" in html


def test_a_voucher_runs_from_the_start_of_its_first_day_to_the_end_of_its_last_in_the_shops_zone(berlin):
    admin = signed_in_admin(berlin)
    form = {"code": "SPRING", "kind": "fixed", "amount": "5", "valid_from": "2026-03-29", "valid_until": "2026-10-25"}
    assert admin.submit("/admin/vouchers", "/admin/vouchers", form).status_code == 303
    with berlin.app_context():
        voucher = db.session.execute(sa.select(Voucher)).scalar_one()
        assert (voucher.valid_from, voucher.valid_until) == (
            datetime(2026, 3, 28, 23, 0),
            datetime(2026, 10, 25, 23, 0),
        )
        with pytest.raises(VoucherError, match="can be used from"):
            usable_voucher("SPRING", 1000, now=datetime(2026, 3, 28, 22, 59))  # 23:59 CET, the day before
        usable_voucher("SPRING", 1000, now=datetime(2026, 3, 28, 23, 0))  # 00:00 on the first day
        usable_voucher("SPRING", 1000, now=datetime(2026, 10, 25, 22, 59))  # 23:59 CET on the last day
        with pytest.raises(VoucherError, match="expired"):
            usable_voucher("SPRING", 1000, now=datetime(2026, 10, 25, 23, 0))


def test_an_unpaid_order_may_be_paid_to_the_end_of_its_last_shop_day(make_app):
    app = make_app(SHOP_TIMEZONE=BERLIN, SHOP_UNPAID_CANCEL_DAYS=7)
    shopper = signed_in_browser(app, "ada@example.com")
    # 00:30 CET on 2 March: seven days to pay, to the end of 9 March (Berlin).
    order_id = place_at(app, shopper, add_product(app, "Tea", 1000), datetime(2026, 3, 1, 23, 30))
    with app.app_context():
        assert unpaid_orders_due(now=datetime(2026, 3, 9, 22, 59)) == []  # 23:59 on the 9th
        assert [i for i, _ in unpaid_orders_due(now=datetime(2026, 3, 9, 23, 0))] == [order_id]


def test_the_order_number_carries_the_shops_date(make_app):
    # Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart: never on the same date.
    numbers = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        app = make_app(SHOP_TIMEZONE=zone)
        shopper = signed_in_browser(app, f"{zone[8:].lower()}@example.com")
        shopper.add(add_product(app, f"Tea {zone[8:]}", 1000), 1)
        order_id = order_id_from(shopper.checkout())
        with app.app_context():
            numbers[zone] = db.session.get(Order, order_id).number
        assert numbers[zone][:6] == datetime.now(ZoneInfo(zone)).strftime("%y%m%d")
    assert numbers["Pacific/Kiritimati"][:6] != numbers["Pacific/Pago_Pago"][:6]


def test_pages_and_emails_show_times_in_the_shops_zone(berlin, smtp):
    shopper = signed_in_browser(berlin, "ada@example.com")
    shopper.add(add_product(berlin, "Tea", 1000), 1)
    order_id = order_id_from(shopper.checkout())
    with berlin.app_context():
        placed = db.session.get(Order, order_id).created_at.replace(tzinfo=UTC)
    shown = format_datetime(placed, "medium", tzinfo=ZoneInfo(BERLIN), locale="en")
    [mail] = smtp.wait_for(1, subject_contains="Your Swiftcart order")
    assert shown in mail.text
    with berlin.app_context():
        db.session.execute(
            sa.update(Order).where(Order.id == order_id).values(created_at=datetime(2026, 3, 28, 23, 30))
        )
        db.session.commit()
    html = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert format_datetime(datetime(2026, 3, 29, 0, 30), "medium", locale="en") in html  # 00:30 CET


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../../etc/passwd", "CET+1"])
def test_an_unknown_time_zone_stops_the_start_naming_the_variable(value):
    with pytest.raises(ConfigError, match="SHOP_TIMEZONE"):
        settings_from_env({"SHOP_TIMEZONE": value}, methods=METHODS)
