"""Tax rates per product (shop/tax, shop/pricing.py): the arithmetic per rate, stated and
property-tested with awkward amounts; the owner's rates in the admin; an order at two rates
stores and shows its tax per rate; a shop without rates keeps its one rate; the tax report,
less refunds, as a page and a CSV."""

from __future__ import annotations

import math
from fractions import Fraction

import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from shop.extensions import db
from shop.models import Order, OrderTaxLine, Product, TaxRate, utcnow
from shop.orders.refunds import refund_payment
from shop.orders.service import change_order_status
from shop.pricing import allocate, split_by_rate, split_gross, totals_by_rate
from tests.conftest import order_id_from

RATES = st.sampled_from([0, 500, 700, 770, 1000, 1900, 2000, 2100, 2500])
CENTS = st.integers(0, 10_000_000)


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=5))
def test_allocation_adds_up_exactly_and_each_share_is_within_a_cent_of_its_part(amount, weights):
    shares = allocate(amount, weights)
    assert sum(shares) == amount
    if sum(weights):
        for share, weight in zip(shares, weights, strict=True):
            assert abs(share - Fraction(amount * weight, sum(weights))) < 1


@given(
    st.dictionaries(RATES, CENTS, min_size=1, max_size=4), st.integers(0, 10**6), st.integers(0, 10**5), st.booleans()
)
def test_each_rate_is_rounded_once_halves_up_and_the_lines_add_up_to_the_total(goods, discount, shipping, include):
    totals = totals_by_rate(goods, discount, shipping, include)
    lines = totals.tax_lines
    assert sum(line.gross_cents for line in lines) == totals.total_cents
    assert sum(line.tax_cents for line in lines) == totals.tax_cents
    assert totals.total_cents == sum(goods.values()) - totals.discount_cents + shipping + (
        0 if include else totals.tax_cents
    )
    assert [line.rate_bp for line in lines] == sorted({line.rate_bp for line in lines}, reverse=True)
    for line in lines:
        assert line.net_cents + line.tax_cents == line.gross_cents
        base = line.gross_cents if include else line.net_cents
        share = Fraction(line.rate_bp, 10_000 + line.rate_bp) if include else Fraction(line.rate_bp, 10_000)
        assert line.tax_cents == half_up(base * share)  # the one rounding per rate, halves up


@given(RATES, CENTS, st.integers(0, 10**6), st.integers(0, 10**5), st.booleans())
def test_one_rate_gives_the_figures_a_single_rate_shop_always_had(rate, goods, discount, shipping, include):
    totals = totals_by_rate({rate: goods}, discount, shipping, include)
    taxable = goods - min(discount, goods) + shipping
    expected = half_up(Fraction(taxable * rate, (10_000 + rate) if include else 10_000))
    assert (totals.tax_cents, totals.tax_rate_bp) == (expected, rate)
    assert len(totals.tax_lines) == 1


@given(st.integers(0, 10**7), st.dictionaries(RATES, st.integers(1, 10**7), min_size=1, max_size=4))
def test_a_refund_is_shared_among_the_rates_and_adds_up_to_its_amount(amount, gross):
    lines = split_gross(amount, gross)
    assert sum(line.gross_cents for line in lines) == amount
    assert all(line.net_cents + line.tax_cents == line.gross_cents for line in lines)


def test_two_rates_with_shipping_pro_rata_by_hand():
    # €12.50 at 20 %, €16.50 at 7 %, €4.90 shipping shared 1250:1650 -> 211.2 and 278.8
    # cents: 211 and 279 (the 7 % share has the larger remainder and gets the cent left).
    lines = split_by_rate({2000: 1250, 700: 1650}, 0, 490, prices_include_tax=True)
    assert [(x.rate_bp, x.net_cents, x.tax_cents, x.gross_cents) for x in lines] == [
        (2000, 1217, 244, 1461),  # 1461 × 20/120 = 243.5: half up
        (700, 1803, 126, 1929),  # 1929 × 7/107 = 126.2
    ]
    # A €10 voucher on the same goods: 431 and 569 off (1250:1650), shipping on what is left.
    lines = split_by_rate({2000: 1250, 700: 1650}, 1000, 0, prices_include_tax=False)
    assert [(x.rate_bp, x.net_cents, x.tax_cents) for x in lines] == [(2000, 819, 164), (700, 1081, 76)]


def make_reduced_rate_for_mugs(app, admin, products) -> None:
    page = admin.submit("/admin/tax-rates", "/admin/tax-rates", {"name": "Reduced", "rate": "7"})
    assert page.status_code == 303
    with app.app_context():
        rate_id = db.session.execute(sa.select(TaxRate.id).where(TaxRate.name == "Reduced")).scalar_one()
    edit = f"/admin/products/{products['MUG']}"
    response = admin.submit(edit, f"/admin/products/{products['MUG']}/tax-rate", {"tax_rate": str(rate_id)})
    assert response.status_code == 303


def test_an_order_at_two_rates_stores_and_shows_the_tax_of_each(app, admin, products, shopper, smtp):
    make_reduced_rate_for_mugs(app, admin, products)
    shopper.add(products["TEA"], 1)
    shopper.add(products["MUG"], 2)
    checkout = shopper.get("/checkout").get_data(as_text=True)
    assert "Including VAT 7 %" in checkout
    assert "€1.26" in checkout
    assert "€2.44" in checkout
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        order = db.session.get(Order, order_id)
        lines = [(t.rate_bp, t.net_cents, t.tax_cents, t.gross_cents) for t in order.tax_lines]
        assert lines == [(2000, 1217, 244, 1461), (700, 1803, 126, 1929)]
        assert (order.tax_cents, order.total_cents) == (370, 3390)
        assert sorted(line.tax_rate_bp for line in order.lines) == [700, 2000]
    page = shopper.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Including VAT 20 %" in page
    assert "Including VAT 7 %" in page
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="order")
    assert "Including VAT 7 %: €1.26" in mail.text


def test_a_shop_without_rates_taxes_everything_at_its_one_rate(app, products, shopper, smtp):
    shopper.add(products["MUG"], 2)
    order_id = order_id_from(shopper.checkout())
    with app.app_context():
        [line] = db.session.get(Order, order_id).tax_lines
        assert (line.rate_bp, line.gross_cents, line.tax_cents) == (2000, 2140, 357)  # 2140 / 6 = 356.67


def test_the_owner_changes_and_deletes_rates_and_bad_input_is_refused(app, admin, products):
    assert admin.submit("/admin/tax-rates", "/admin/tax-rates", {"name": "Reduced", "rate": "7.5"}).status_code == 303
    assert admin.submit("/admin/tax-rates", "/admin/tax-rates", {"name": "Reduced", "rate": "5"}).status_code == 409
    for bad in ("101", "7.555", "-1", "abc"):
        response = admin.submit("/admin/tax-rates", "/admin/tax-rates", {"name": "Other", "rate": bad})
        assert response.status_code == 422, bad
    with app.app_context():
        rate_id = db.session.execute(sa.select(TaxRate.id)).scalar_one()
        db.session.execute(sa.update(Product).where(Product.sku == "MUG").values(tax_rate_id=rate_id))
        db.session.commit()
    response = admin.submit("/admin/tax-rates", f"/admin/tax-rates/{rate_id}", {"name": "Reduced", "rate": "7"})
    assert response.status_code == 303
    assert "7 %" in admin.get("/admin/tax-rates").get_data(as_text=True)
    response = admin.submit("/admin/tax-rates", f"/admin/tax-rates/{rate_id}/delete")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.execute(sa.select(Product.tax_rate_id).where(Product.sku == "MUG")).scalar_one() is None
    assert admin.client.post("/admin/tax-rates/999/delete", data={"csrf_token": admin.csrf_token()}).status_code == 404
    assert admin.get("/admin/tax-report?year=20x6").status_code == 422


def test_the_tax_report_shows_paid_orders_per_rate_less_refunds_as_page_and_csv(app, admin, products, shopper, smtp):
    make_reduced_rate_for_mugs(app, admin, products)
    shopper.add(products["TEA"], 1)
    shopper.add(products["MUG"], 2)
    order_id = order_id_from(shopper.checkout())
    unpaid = order_id_from((shopper.add(products["TEA"], 3), shopper.checkout())[1])
    month, year = utcnow().strftime("%Y-%m"), utcnow().year
    with app.app_context():
        change_order_status(order_id, "paid", None)
    csv_text = admin.get(f"/admin/tax-report.csv?year={year}").get_data(as_text=True)
    assert csv_text.splitlines() == [
        "month,rate_percent,net,tax,gross,sales_gross,refunded_gross",
        f"{month},20.00,12.17,2.44,14.61,14.61,0.00",
        f"{month},7.00,18.03,1.26,19.29,19.29,0.00",
    ]
    with app.app_context():
        refund_payment(order_id, 1000, "Goodwill")  # 431 at 20 % (72 tax), 569 at 7 % (37 tax)
        assert db.session.get(Order, unpaid).paid_at is None
    csv_text = admin.get(f"/admin/tax-report.csv?year={year}").get_data(as_text=True)
    assert csv_text.splitlines()[1:] == [
        f"{month},20.00,8.58,1.72,10.30,14.61,4.31",
        f"{month},7.00,12.71,0.89,13.60,19.29,5.69",
    ]
    page = admin.get(f"/admin/tax-report?year={year}").get_data(as_text=True)
    assert "€13.60" in page
    assert "€0.89" in page
    assert "No paid orders" in admin.get(f"/admin/tax-report?year={year - 1}").get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(OrderTaxLine)).scalar_one() == 3


def test_rates_and_a_products_rate_are_in_the_audit_trail(app, admin, products):
    from shop.audit import trail_of

    make_reduced_rate_for_mugs(app, admin, products)
    with app.app_context():
        rate_id = db.session.execute(sa.select(TaxRate.id).where(TaxRate.name == "Reduced")).scalar_one()
    assert (
        admin.submit("/admin/tax-rates", f"/admin/tax-rates/{rate_id}", {"name": "Reduced", "rate": "5"}).status_code
        == 303
    )
    assert admin.submit("/admin/tax-rates", f"/admin/tax-rates/{rate_id}/delete").status_code == 303
    with app.app_context():
        rate_trail = [(e.action, e.before, e.after) for e in trail_of("tax_rate", rate_id)]
        product_trail = [(e.action, e.after) for e in trail_of("product", products["MUG"])]
    assert rate_trail == [
        ("tax_rate.created", None, {"name": "Reduced", "rate_bp": 700}),
        ("tax_rate.changed", {"name": "Reduced", "rate_bp": 700}, {"name": "Reduced", "rate_bp": 500}),
        ("tax_rate.deleted", {"name": "Reduced", "rate_bp": 500}, None),
    ]
    assert ("product.tax_rate", {"tax_rate_id": rate_id}) in product_trail
