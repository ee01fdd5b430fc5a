"""A payment method is one class and its registration (shop/payment): checkout, the order's
pages and emails, the owner's moves, `flask shop cancel-unpaid` and a cancellation all ask
the method, so a new one (a card provider, next) changes nothing else.

The method here is a stand-in written for the test, a real subclass of the interface,
registered as a new method would be; no provider is called.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from config import Settings
from shop.extensions import db
from shop.models import Order, OrderStatus, utcnow
from shop.payment import PAYMENT_METHODS, PaymentMethod
from shop.payment.method import amount_due
from shop.shipping import ShippingOption
from tests.conftest import Browser, add_product, signed_in_admin, signed_in_browser


class ProviderPage(PaymentMethod):
    """Like a card provider: the shopper pays on its page, delivery only, two days to pay,
    a reference of its own, and a refund when the order is cancelled."""

    code = "provider_page"
    label = "Pay on our provider's page"
    hint = "You are taken to the provider's page after ordering."
    fit_rule = "the provider's page needs delivery"

    def __init__(self) -> None:
        self.refunded: list[str] = []

    def fits(self, option: ShippingOption) -> bool:
        return not option.handed_over_at_shop

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        return [f"Pay {amount_due(order, settings)} on the provider's page."]

    def reference(self, order: Order) -> str:
        return f"PP-{order.number}"

    def unpaid_deadline(self, settings: Settings) -> timedelta:
        return timedelta(days=2)

    def page_after_order(self, order: Order) -> str:
        return f"https://pay.example/session/{order.number}"

    def on_cancel(self, order: Order) -> None:
        self.refunded.append(order.number)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> ProviderPage:
    method = ProviderPage()
    monkeypatch.setitem(PAYMENT_METHODS, method.code, method)  # its registration
    return method


@pytest.fixture
def shop_with_provider(make_app, smtp, provider):
    return make_app(SHOP_PAYMENT_METHODS=(provider.code,), SHOP_OWNER_EMAIL="owner@example.com")


def place(app, shopper: Browser, product_id: int) -> Order:
    """The shopper orders one of the product, paying with the provider: sent to its page."""
    shopper.add(product_id, 1)
    response = shopper.checkout()
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    with app.app_context():
        order = db.session.execute(sa.select(Order).order_by(Order.id.desc()).limit(1)).scalar_one()
    assert response.headers["Location"] == f"https://pay.example/session/{order.number}"
    return order


def test_a_new_method_is_offered_placed_shown_and_referenced_by_its_own_rules(shop_with_provider, provider, smtp):
    app = shop_with_provider
    shopper = signed_in_browser(app, "ada@example.com")
    shopper.add(add_product(app, "Mug", 900), 1)
    assert "You are taken to the provider&#39;s page after ordering." in shopper.get("/checkout").get_data(as_text=True)
    refused = shopper.checkout(shipping_method="pickup", payment_method=provider.code)
    assert refused.status_code == 422
    assert "Pay on our provider&#39;s page cannot be combined with this shipping option." in refused.get_data(
        as_text=True
    )

    order = place(app, shopper, add_product(app, "Tea", 2000))  # to the provider's page, not the order's
    assert (order.status, order.payment_method) == (OrderStatus.AWAITING_PAYMENT, provider.code)
    page = shopper.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Pay €33.90 on the provider&#39;s page." in page  # €9.00 + €20.00 + €4.90 shipping
    [confirmation] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "Pay €33.90 on the provider's page." in confirmation.text
    [notice] = smtp.wait_for(1, to="owner@example.com", subject_contains="New order")
    assert f"reference PP-{order.number}" in notice.html
    admin_page = signed_in_admin(app, "boss@example.com").get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert f"reference PP-{order.number}" in admin_page
    assert 'value="shipped"' not in admin_page  # paid before it ships: not a method paid on handover


def test_a_new_method_says_when_unpaid_orders_are_cancelled_and_is_told_to_refund(shop_with_provider, provider, smtp):
    app = shop_with_provider
    shopper = signed_in_browser(app, "ada@example.com")
    tea = add_product(app, "Tea", 2000)
    late, recent = place(app, shopper, tea), place(app, shopper, tea)
    with app.app_context():
        for order, days in ((late, 3), (recent, 1)):
            db.session.execute(
                sa.update(Order).where(Order.id == order.id).values(created_at=utcnow() - timedelta(days=days))
            )
        db.session.commit()

    output = app.test_cli_runner().invoke(args=["shop", "cancel-unpaid"]).output
    assert f"cancelled {late.number}" in output
    assert recent.number not in output
    assert provider.refunded == [late.number]  # told after the cancellation was committed
    [mail] = smtp.wait_for(1, subject_contains="has been cancelled")
    assert "Not paid within 2 days." in mail.text


def test_config_knows_a_registered_method_without_naming_it(provider):
    """config.py checks codes against the registry create_app passes in: a registered method
    can be offered, and its fit rule is in the refusal of an impossible choice."""
    from config import ConfigError, settings_from_env
    from shop.payment import METHODS

    env = {"SHOP_PAYMENT_METHODS": f"{provider.code},bank_transfer", "SHOP_SHIPPING_METHODS": "standard"}
    assert settings_from_env(env, methods=METHODS)["SHOP_PAYMENT_METHODS"] == (provider.code, "bank_transfer")
    with pytest.raises(ConfigError, match="the provider's page needs delivery"):
        settings_from_env({"SHOP_PAYMENT_METHODS": provider.code, "SHOP_SHIPPING_METHODS": "pickup"}, methods=METHODS)
