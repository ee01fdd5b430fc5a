"""Shipping zones (shop/shipping_zones.py, /admin/shipping-zones): delivery costs the rate of
the zone of the address's country; a country in no zone cannot be shipped to, and checkout
lists only the countries it can; a new shop has one zone for everywhere at
SHOP_SHIPPING_FLAT_RATE, free from SHOP_FREE_SHIPPING_OVER, as before zones existed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shop.extensions import db
from shop.models import Order, ShippingZone
from tests.conftest import ADDRESS, change_settings, count, order_id_from

ZONES = "/admin/shipping-zones"


def zone_id(app, name: str) -> int:
    with app.app_context():
        return db.session.execute(sa.select(ShippingZone.id).where(ShippingZone.name == name)).scalar_one()


def save(admin, url: str, **fields):
    values = {"rate": "4.90", "free_over": "", **fields}
    return admin.submit(url, url, values)


def checkout_to(shopper, country: str, **fields):
    """Checkout as a shopper does: "Deliver to" the country first (the page shows its zone's
    rate), then the form with it."""
    return shopper.submit(f"/checkout?country={country}", "/checkout", {**ADDRESS, "country": country, **fields})


def shipping_of(app, order_id: int) -> int:
    with app.app_context():
        return db.session.get(Order, order_id).shipping_cents


@pytest.fixture
def zoned(app, admin):
    """EU: Germany and Austria at €4.90, free from €50; the rest of the world at €19.90."""
    assert save(admin, ZONES, name="EU", countries=["DE", "AT"], free_over="50.00").status_code == 303
    everywhere = f"{ZONES}/{zone_id(app, 'Everywhere')}"
    response = save(admin, everywhere, name="Rest of the world", rate="19.90", rest_of_world="y")
    assert response.status_code == 303
    return app


def test_a_new_shop_delivers_everywhere_at_the_settings_rate(app, products, admin, shopper):
    html = admin.get(ZONES).get_data(as_text=True)
    assert "Everywhere" in html
    assert "€4.90, free from €50.00 (the shop's settings)" in html
    change_settings(app, SHOP_SHIPPING_FLAT_RATE=390)  # the zone follows the setting
    shopper.add(products["TEA"], 1)
    assert shipping_of(app, order_id_from(checkout_to(shopper, "JP"))) == 390


def test_delivery_costs_the_rate_of_the_zone_of_the_country(zoned, products, shopper):
    shopper.add(products["TEA"], 1)  # €12.50
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "DE"))) == 490
    shopper.add(products["TEA"], 1)
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "US"))) == 1990
    shopper.add(products["TEA"], 4)  # €50.00: free in the EU zone, never in the rest
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "AT"))) == 0
    shopper.add(products["TEA"], 4)
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "BR"))) == 1990


def test_the_checkout_page_shows_the_rate_of_the_country_filled_in(zoned, products, shopper):
    shopper.add(products["TEA"], 1)
    assert shopper.submit("/account/addresses/new", "/account/addresses/new", {**ADDRESS, "country": "US"})
    html = shopper.get("/checkout").get_data(as_text=True)
    assert '<option selected value="US">United States</option>' in html
    assert "€19.90" in html


def test_a_country_in_no_zone_cannot_be_chosen_nor_posted(zoned, admin, products, shopper):
    rest = zone_id(zoned, "Rest of the world")
    assert admin.submit(ZONES, f"{ZONES}/{rest}/delete").status_code == 303
    shopper.add(products["TEA"], 1)
    html = shopper.get("/checkout").get_data(as_text=True)
    assert 'value="DE"' in html
    assert 'value="AT"' in html
    assert 'value="US"' not in html  # the list offers only where the shop delivers
    response = checkout_to(shopper, "US")  # a form from before, or typed by hand
    assert response.status_code == 422
    assert "We cannot deliver to United States." in response.get_data(as_text=True)
    assert count(zoned, Order) == 0
    assert checkout_to(shopper, "DE").status_code == 303
    shopper.add(products["TEA"], 1)  # a pickup needs no country at all
    pickup = shopper.checkout(shipping_method="pickup", payment_method="pay_at_pickup", country="")
    assert pickup.status_code == 303


def test_with_no_zone_at_all_only_pickup_is_possible(app, admin, products, shopper):
    assert admin.submit(ZONES, f"{ZONES}/{zone_id(app, 'Everywhere')}/delete").status_code == 303
    assert "No zones: nothing can be delivered" in admin.get(ZONES).get_data(as_text=True)
    shopper.add(products["TEA"], 1)
    assert checkout_to(shopper, "GB").status_code == 422
    pickup = shopper.checkout(shipping_method="pickup", payment_method="pay_at_pickup", country="")
    assert pickup.status_code == 303


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"name": "Alps", "countries": ["CH", "DE"]}, 409, "in another zone already: DE (EU)"),
        ({"name": "World 2", "rest_of_world": "y"}, 409, "is the rest of the world already"),
        ({"name": "EU", "countries": ["FR"]}, 409, "A zone named EU exists already."),
        ({"name": "Nowhere"}, 422, "Choose the zone"),
        ({"name": "Bad", "countries": ["FR"], "rate": "abc"}, 422, "is not an amount like 12.50"),
        ({"name": "Bad", "countries": ["FR"], "free_over": "-1"}, 422, "is not an amount like 12.50"),
        ({"name": "Bad", "countries": ["XX"]}, 422, "is not a valid choice"),
        ({"name": "", "countries": ["FR"]}, 422, "This field is required."),
    ],
)
def test_zones_that_cannot_be_saved_are_refused_with_a_reason(zoned, admin, fields, status, message):
    before = count(zoned, ShippingZone)
    response = save(admin, ZONES, **fields)
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert count(zoned, ShippingZone) == before


def test_editing_a_zone_keeps_its_name_free_for_itself_and_moves_countries(zoned, admin, products, shopper):
    eu = f"{ZONES}/{zone_id(zoned, 'EU')}"
    page = admin.get(eu).get_data(as_text=True)
    assert 'value="4.90"' in page
    assert 'value="50.00"' in page
    assert save(admin, eu, name="EU", countries=["DE", "FR"], rate="5.90").status_code == 303
    shopper.add(products["TEA"], 1)
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "FR"))) == 590
    shopper.add(products["TEA"], 1)
    assert shipping_of(zoned, order_id_from(checkout_to(shopper, "AT"))) == 1990  # the rest of the world now


def test_a_zone_that_does_not_exist_is_404(app, admin):
    assert admin.get(f"{ZONES}/999").status_code == 404
    token = admin.csrf_token(ZONES)
    assert admin.client.post(f"{ZONES}/999/delete", data={"csrf_token": token}).status_code == 404


def test_creating_changing_and_deleting_a_zone_are_in_the_audit_trail(zoned, admin):
    from shop.audit import trail_of

    eu = zone_id(zoned, "EU")
    assert save(admin, f"{ZONES}/{eu}", name="EU", countries=["DE", "AT", "FR"], rate="5.90").status_code == 303
    assert admin.submit(ZONES, f"{ZONES}/{eu}/delete").status_code == 303
    with zoned.app_context():
        trail = [(e.actor_email, e.action, e.before, e.after) for e in trail_of("shipping_zone", eu)]
    assert [action for _, action, _, _ in trail] == [
        "shipping_zone.created",
        "shipping_zone.changed",
        "shipping_zone.deleted",
    ]
    assert {who for who, *_ in trail} == {"owner@example.com"}
    assert (trail[1][2]["rate_cents"], trail[1][3]["rate_cents"]) == (490, 590)
    assert trail[1][3]["countries"] == ["AT", "DE", "FR"]
    assert trail[2][3] is None
