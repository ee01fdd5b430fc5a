"""Countries are ISO 3166-1 codes (shop/countries.py), chosen from lists named in the shop's
language by Babel, and recognised in text typed before there were lists."""

from __future__ import annotations

import pytest

from shop.countries import all_country_codes, code_from_text, country_name, country_names
from tests.conftest import ADDRESS, add_product, signed_in_browser


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("United Kingdom", "GB"),
        ("uk", "GB"),
        ("  Deutschland ", "DE"),
        ("Allemagne", "DE"),
        ("Österreich", "AT"),
        ("USA", "US"),
        ("ch", "CH"),
        ("Narnia", None),
        ("", None),
    ],
)
def test_typed_countries_are_recognised_where_they_can_be(typed, code):
    assert code_from_text(typed) == code


def test_the_list_holds_countries_only_named_and_sorted_in_the_language():
    codes = all_country_codes()
    assert {"DE", "JP", "XK"} <= codes
    assert not {"EU", "UN", "ZZ", "001", "QO"} & codes
    german = list(country_names("de").values())
    assert german.index("Österreich") < german.index("Pakistan")  # sorted as a reader expects
    assert country_name("DE", "de") == "Deutschland"
    assert country_name("Narnia", "de") == "Narnia"  # text kept from before the codes


def test_the_address_book_offers_every_country_in_the_shops_language(make_app):
    app = make_app(SHOP_LOCALE="de")
    shopper = signed_in_browser(app, "ada@example.com")
    html = shopper.get("/account/addresses/new").get_data(as_text=True)
    assert '<option value="DE">Deutschland</option>' in html
    assert '<option value="JP">Japan</option>' in html
    response = shopper.submit("/account/addresses/new", "/account/addresses/new", {**ADDRESS, "country": "Narnia"})
    assert response.status_code == 422
    assert shopper.submit("/account/addresses/new", "/account/addresses/new", ADDRESS).status_code == 303
    assert "Vereinigtes Königreich" in shopper.get("/account").get_data(as_text=True)


def test_a_country_changed_in_the_form_costs_its_zones_rate_only_once_shown(app, admin, products, shopper):
    """The page showed the default rate; the shopper picks a country with another: the order
    is not placed at a price the page did not show, and the page now shows it."""
    eu = {"name": "EU", "countries": ["DE"], "rate": "9.90", "free_over": ""}
    assert admin.submit("/admin/shipping-zones", "/admin/shipping-zones", eu).status_code == 303
    shopper.add(products["TEA"], 1)
    response = shopper.checkout(country="DE")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "Delivery to Germany costs €9.90, not what the page showed for another country." in html
    form = shopper.form(response, "/checkout")
    again = shopper.client.post("/checkout", data={**form["fields"], **ADDRESS, "country": "DE"})
    assert again.status_code == 303


def test_checkout_starts_with_the_shops_own_country_named_in_its_language(make_app):
    app = make_app(SHOP_LOCALE="de")
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Tee", 1250), 1)
    html = shopper.get("/checkout").get_data(as_text=True)
    assert '<option selected value="DE">Deutschland</option>' in html
    assert '<option value="AT">Österreich</option>' in html
