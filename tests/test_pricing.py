"""The arithmetic of an order (shop/pricing.py, with the shipping options' costs of
shop/shipping.py): awkward values by hand, and the invariants for any values (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.pricing import compute_totals, discount_cents, divide_rounding_half_up, format_rate, quote
from shop.shipping import SHIPPING_OPTIONS
from tests.conftest import settings_with

STANDARD, PICKUP = SHIPPING_OPTIONS["standard"], SHIPPING_OPTIONS["pickup"]
SETTINGS = settings_with(
    SHOP_SHIPPING_FLAT_RATE=490, SHOP_FREE_SHIPPING_OVER=5000, SHOP_TAX_RATE_BP=2000, SHOP_PRICES_INCLUDE_TAX=True
)


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [(1, 2, 1), (3, 2, 2), (5, 2, 3), (1, 3, 0), (2, 3, 1), (0, 7, 0), (149, 100, 1), (150, 100, 2)],
)
def test_halves_round_up_the_rest_to_the_nearest(numerator, denominator, rounded):
    assert divide_rounding_half_up(numerator, denominator) == rounded


@pytest.mark.parametrize(
    ("goods", "rate_bp", "include", "tax", "total"),
    [
        (3, 2000, True, 1, 3),  # 3 × 20/120 = 0.5 cent: half rounds up
        (2, 2000, True, 0, 2),  # 0.33 cent
        (1000, 770, True, 71, 1000),  # 7.7 % included in €10.00: 71.49 cents
        (1000, 770, False, 77, 1077),
        (5, 1900, False, 1, 6),  # 19 % of 5 cents = 0.95
        (999_999, 2000, True, 166_667, 999_999),  # 166 666.5: half up
        (12345, 0, True, 0, 12345),
        (12345, 0, False, 0, 12345),
    ],
)
def test_tax_on_awkward_values(goods, rate_bp, include, tax, total):
    totals = compute_totals(goods, 0, 0, rate_bp, include)
    assert (totals.tax_cents, totals.total_cents) == (tax, total)


def test_percentage_vouchers_round_half_up_and_fixed_ones_stop_at_the_goods():
    assert discount_cents("percent", 1000, 5) == 1  # 10 % of 5 cents: 0.5
    assert discount_cents("percent", 1000, 4) == 0  # 0.4
    assert discount_cents("percent", 1250, 1999) == 250  # 12.5 % of €19.99 = 249.875
    assert discount_cents("percent", 10000, 1999) == 1999  # 100 %
    assert discount_cents("fixed", 500, 1999) == 500
    assert discount_cents("fixed", 5000, 1999) == 1999  # never more than the goods


def test_shipping_is_free_from_the_threshold_after_the_discount_and_for_pickup():
    assert quote(4999, STANDARD, 0, SETTINGS).shipping_cents == 490
    assert quote(5000, STANDARD, 0, SETTINGS).shipping_cents == 0  # "from €50.00" includes €50.00
    assert quote(5500, STANDARD, 501, SETTINGS).shipping_cents == 490  # €54.99 after the voucher
    assert quote(100, PICKUP, 0, SETTINGS).shipping_cents == 0
    assert quote(100, STANDARD, 0, SETTINGS.replace(SHOP_FREE_SHIPPING_OVER=None)).shipping_cents == 490


def test_tax_is_on_goods_after_discount_plus_shipping():
    totals = quote(1200, STANDARD, 200, SETTINGS)  # €10.00 of goods + €4.90 shipping, all incl. 20 %
    assert (totals.total_cents, totals.tax_cents) == (1490, 248)  # 1490 / 6 = 248.33
    exclusive = quote(1200, STANDARD, 200, SETTINGS.replace(SHOP_PRICES_INCLUDE_TAX=False))
    assert (exclusive.tax_cents, exclusive.total_cents) == (298, 1788)  # 20 % of 1490


def test_a_voucher_worth_more_than_the_goods_leaves_the_shipping_to_pay():
    totals = quote(300, STANDARD, 1000, SETTINGS)
    assert (totals.discount_cents, totals.total_cents) == (300, 490)


def test_rates_read_as_people_write_them():
    assert [format_rate(bp) for bp in (2000, 770, 1925, 5, 0)] == ["20 %", "7.7 %", "19.25 %", "0.05 %", "0 %"]


cents = st.integers(0, 10**9)


@given(
    subtotal=cents,
    voucher=st.one_of(
        st.tuples(st.just("percent"), st.integers(1, 10_000)), st.tuples(st.just("fixed"), st.integers(1, 10**9))
    ),
    shipping_method=st.sampled_from(["standard", "pickup"]),
    flat_rate=st.integers(0, 10**5),
    free_over=st.one_of(st.none(), cents),
    rate_bp=st.integers(0, 10_000),
    include=st.booleans(),
)
def test_totals_add_up_tax_is_consistent_and_nothing_is_negative(
    subtotal, voucher, shipping_method, flat_rate, free_over, rate_bp, include
):
    settings = SETTINGS.replace(
        SHOP_SHIPPING_FLAT_RATE=flat_rate,
        SHOP_FREE_SHIPPING_OVER=free_over,
        SHOP_TAX_RATE_BP=rate_bp,
        SHOP_PRICES_INCLUDE_TAX=include,
    )
    discount = discount_cents(*voucher, subtotal)
    t = quote(subtotal, SHIPPING_OPTIONS[shipping_method], discount, settings)

    assert 0 <= t.discount_cents <= t.subtotal_cents
    assert t.shipping_cents in (0, flat_rate)
    taxable = t.subtotal_cents - t.discount_cents + t.shipping_cents
    assert t.total_cents == taxable + (0 if include else t.tax_cents)
    assert min(t.total_cents, t.tax_cents, t.shipping_cents) >= 0
    # Tax is the exact share rounded once, so within half a cent of it: compare doubled
    # integers to stay exact (|tax - exact| <= 1/2  <=>  |2·tax·d - 2·n| <= d).
    if include:
        numerator, denominator = taxable * rate_bp, 10_000 + rate_bp
    else:
        numerator, denominator = taxable * rate_bp, 10_000
    assert abs(2 * t.tax_cents * denominator - 2 * numerator) <= denominator
    assert t.tax_cents <= t.total_cents
