"""The owner's variants: added, edited, reordered and switched off on the product's page;
counted in the product list; told per variant on the dashboard's low-stock list."""

from __future__ import annotations

import re

import pytest

from shop.extensions import db
from shop.models import Product, ProductVariant
from tests.conftest import order_id_from
from tests.variant_catalog import add_variant, make_variant_catalog, variant_stock


def variants_of(app, product_id: int) -> list[tuple[str, str, int | None, int, bool]]:
    with app.app_context():
        product = db.session.get(Product, product_id)
        return [(v.option, v.sku, v.price_cents, v.stock, v.active) for v in product.variants]


def add_option(admin, product_id: int, **values: object):
    data = {"new-option": "", "new-sku": "", "new-price": "", "new-stock": "0"}
    data |= {f"new-{k}": v for k, v in values.items()}
    return admin.submit(f"/admin/products/{product_id}", f"/admin/products/{product_id}/variants", data)


def test_the_first_option_takes_over_the_products_stock_and_the_next_have_their_own(app, products, admin):
    mug = products["MUG"]  # 100 in stock
    response = add_option(admin, mug, option="Blue", sku="MUG-BLUE")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/products/{mug}#variants")
    assert add_option(admin, mug, option="Red", sku="MUG-RED", price="9.50", stock="7").status_code == 303
    assert variants_of(app, mug) == [("Blue", "MUG-BLUE", None, 100, True), ("Red", "MUG-RED", 950, 7, True)]
    with app.app_context():
        assert db.session.get(Product, mug).stock == 0
    page = admin.get(f"/admin/products/{mug}").get_data(as_text=True)
    assert "Stock: kept per option below (107 in all)." in page
    # The product's own form saves without giving it stock again.
    saved = admin.submit(
        f"/admin/products/{mug}", f"/admin/products/{mug}", {"sku": "MUG", "name": "Enamel Mug 2", "price": "8.25"}
    )
    assert saved.status_code == 303
    with app.app_context():
        assert db.session.get(Product, mug).stock == 0
    listing = admin.get("/admin/products").get_data(as_text=True)
    row = listing[listing.index("Enamel Mug 2") :]
    assert re.search(r'<td class="num">2</td>\s*<td class="num">107</td>', row)


def test_an_option_is_refused_with_a_taken_sku_a_label_used_twice_or_a_bad_price(app, products, admin):
    tea = products["TEA"]
    add_option(admin, tea, option="100 g", sku="TEA-100")
    taken = add_option(admin, tea, option="250 g", sku="MUG")  # a product's SKU
    assert taken.status_code == 422
    assert "Another product or variant has this SKU." in taken.get_data(as_text=True)
    twice = add_option(admin, tea, option="100 g", sku="TEA-100B")
    assert twice.status_code == 422
    assert "This product has an option with this label already." in twice.get_data(as_text=True)
    bad = add_option(admin, tea, option="250 g", sku="=cmd")
    assert bad.status_code == 422
    price = add_option(admin, tea, option="250 g", sku="TEA-250", price="abc")
    assert price.status_code == 422
    assert variants_of(app, tea) == [("100 g", "TEA-100", None, 100, True)]
    # And a product cannot take a variant's SKU either.
    mug = f"/admin/products/{products['MUG']}"
    clash = admin.submit(mug, mug, {"sku": "TEA-100", "name": "Enamel Mug", "price": "8.25", "stock": "100"})
    assert clash.status_code == 409


def test_options_are_edited_deactivated_and_reordered(app, admin, browser):
    catalog = make_variant_catalog(app)
    url = f"/admin/products/{catalog.mug}"
    prefix = f"v{catalog.mug_red}-"
    edit = {f"{prefix}option": "Crimson", f"{prefix}price": "13.00", f"{prefix}stock": "4", f"{prefix}active": "y"}
    response = admin.submit(url, f"{url}/variants/{catalog.mug_red}", edit)
    assert response.status_code == 303
    # Deactivating: an unticked checkbox is not posted at all.
    page = admin.get(url)
    form = admin.form(page, f"{url}/variants/{catalog.mug_blue}")
    fields = {k: v for k, v in form["fields"].items()}
    data = {**fields, f"v{catalog.mug_blue}-option": "Blue", f"v{catalog.mug_blue}-sku": "CMUG-BLUE"}
    data |= {f"v{catalog.mug_blue}-price": "", f"v{catalog.mug_blue}-stock": "10"}
    assert admin.client.post(f"{url}/variants/{catalog.mug_blue}", data=data).status_code == 303
    assert admin.submit(url, f"{url}/variants/{catalog.mug_green}/move", {"direction": "up"}).status_code == 303
    assert variants_of(app, catalog.mug) == [
        ("Blue", "CMUG-BLUE", None, 10, False),
        ("Green", "CMUG-GREEN", None, 0, True),
        ("Crimson", "CMUG-RED", 1300, 4, True),
    ]
    shop_page = browser.get(f"/products/{catalog.mug}", follow_redirects=True).get_data(as_text=True)
    assert "Blue" not in shop_page  # not sold: not offered
    assert shop_page.index("Green") < shop_page.index("Crimson")
    assert "from €12.00" in shop_page


def test_a_variant_form_from_before_a_sale_does_not_write_the_old_stock_back(app, admin, shopper, smtp):
    catalog = make_variant_catalog(app)
    url = f"/admin/products/{catalog.tea}"
    page = admin.get(url)
    form = admin.form(page, f"{url}/variants/{catalog.tea_100}")
    add_variant(shopper, catalog.tea, catalog.tea_100, 5)
    order_id_from(shopper.checkout())  # 40 -> 35
    prefix = f"v{catalog.tea_100}-"
    data = {**form["fields"], f"{prefix}option": "100 g", f"{prefix}sku": "DARJ-100", f"{prefix}stock": "40"}
    response = admin.client.post(f"{url}/variants/{catalog.tea_100}", data=data)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "this option changed meanwhile" in page
    assert re.search(rf'name="v{catalog.tea_100}-stock"[^>]*value="35"', page)  # as it is now
    assert variant_stock(app, catalog.tea_100) == 35


def test_the_dashboard_lists_low_stock_per_variant(app, products, admin):
    catalog = make_variant_catalog(app)
    with app.app_context():
        db.session.get(ProductVariant, catalog.mug_blue).stock = 2
        db.session.commit()
    page = admin.get("/admin").get_data(as_text=True)
    low = page[page.index("Low on stock") : page.index("Emails needing attention")]
    assert "Colour Mug — Blue</a>: 2 left" in low
    assert "Colour Mug — Green</a>: 0 left" in low
    assert "Colour Mug — Red" not in low
    assert "Clay Teapot</a>: 1 left" in low  # a product without variants, as before
    filtered = admin.get("/admin/products?show=low").get_data(as_text=True)
    assert "Colour Mug" in filtered
    assert "Darjeeling" not in filtered


def test_variant_pages_of_another_product_or_no_variant_are_404(app, admin):
    catalog = make_variant_catalog(app)
    url = f"/admin/products/{catalog.tea}"
    token = admin.csrf_token(url)
    assert admin.client.post(f"{url}/variants/{catalog.mug_blue}", data={"csrf_token": token}).status_code == 404
    move = {"csrf_token": token, "direction": "up"}
    assert admin.client.post(f"{url}/variants/{catalog.mug_blue}/move", data=move).status_code == 404
    assert admin.client.post(f"{url}/variants/{catalog.tea_100}/move", data={"csrf_token": token}).status_code == 400
    assert admin.client.post("/admin/products/999999/variants", data={"csrf_token": token}).status_code == 404


def test_the_variant_service_keeps_one_sku_namespace_and_moves_within_the_ends(app, products):
    from shop.catalog.variants import VariantRefused, VariantValues, add_variant, move_variant, sku_in_use

    with app.app_context():
        first = add_variant(products["POT"], VariantValues("POT-S", "Small", None, 0), by=None)
        assert (first.stock, db.session.get(Product, products["POT"]).stock) == (1, 0)  # took over the product's 1
        second = add_variant(products["POT"], VariantValues("POT-L", "Large", 4500, 2), by=None)
        assert sku_in_use("POT-L")
        assert sku_in_use("MUG")
        assert not sku_in_use("POT-L", except_variant=second.id)
        for sku, option, field in (("MUG", "Medium", "sku"), ("POT-S", "Medium", "sku"), ("POT-M", "Small", "option")):
            with pytest.raises(VariantRefused) as refused:
                add_variant(products["POT"], VariantValues(sku, option, None, 1), by=None)
            assert refused.value.field == field
        move_variant(products["POT"], first.id, -1)  # the first cannot move up
        move_variant(products["POT"], second.id, 1)  # nor the last down
        move_variant(products["POT"], second.id, -1)
        db.session.expire_all()  # the list as a new request loads it
        options = [v.option for v in db.session.get(Product, products["POT"]).variants]
        assert options == ["Large", "Small"]


def test_adding_and_changing_an_option_are_in_the_products_audit_trail(app, products, admin):
    from shop.audit import trail_of

    mug = products["MUG"]
    assert add_option(admin, mug, option="Blue", sku="MUG-BLUE", stock="5").status_code == 303
    with app.app_context():
        blue = db.session.get(Product, mug).variants[0].id
    prefix = f"v{blue}-"
    edit = {f"{prefix}option": "Navy", f"{prefix}price": "9.00", f"{prefix}stock": "5", f"{prefix}active": "y"}
    assert admin.submit(f"/admin/products/{mug}", f"/admin/products/{mug}/variants/{blue}", edit).status_code == 303
    with app.app_context():
        trail = [(e.actor_email, e.action, e.before, e.after) for e in trail_of("product", mug)]
    assert trail[0][:2] == ("owner@example.com", "variant.created")
    assert trail[0][3]["option"] == "Blue"
    assert trail[1] == (
        "owner@example.com",
        "variant.changed",
        {"variant": blue, "option": "Blue", "price_cents": None},
        {"option": "Navy", "price_cents": 900},
    )
