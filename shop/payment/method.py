"""The interface of a payment method: every rule about how an order is paid lives in its class.

Checkout asks a method whether it fits the shipping chosen (`fits`), which status a new
order starts in (`initial_status`) and where the shopper goes once it is placed
(`page_after_order`). The order's pages and emails ask what to tell the shopper
(`instructions`) and what reference the payment carries (`reference`). The order's life
(shop/orders/service.py) asks whether the money comes when the goods change hands
(`paid_on_handover`), when an unpaid order is cancelled (`unpaid_deadline`), and tells
the method when an order was cancelled (`on_cancel`). config.py asks which settings the
method cannot work without (`needs_settings`) and why it may not fit (`fit_rule`).

A card provider is one more subclass: `initial_status` awaiting payment, `page_after_order`
the provider's hosted payment page, a webhook view of its own that marks the order paid
(shop.orders.service.change_order_status), and `refund` giving money back through the
provider (offline methods are refunded by the owner by hand: `refund` returns "").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from config import Settings
from shop.models import Order, OrderStatus
from shop.money import format_money
from shop.shipping import ShippingOption


class RefundFailed(Exception):
    """The provider refused the refund or could not be reached: nothing was refunded, the
    order stays as it was. str(error) is a message for the owner."""


class PaymentMethod:
    code: ClassVar[str]  # stored on the order and posted by the checkout form
    label: ClassVar[str]  # what the shopper chooses at checkout
    hint: ClassVar[str] = ""  # one line under the choice
    initial_status: ClassVar[OrderStatus] = OrderStatus.AWAITING_PAYMENT
    # The money comes when the goods change hands (to the courier, at the counter): the order
    # may be shipped or collected before it is paid, and handing it over marks it paid.
    paid_on_handover: ClassVar[bool] = False
    fit_rule: ClassVar[str] = ""  # the shipping it needs, in words ("" : it fits every option)
    # Settings it cannot work without, {name: the stand-in used in development}: production
    # refuses to start without them (config.check_production).
    needs_settings: ClassVar[Mapping[str, str]] = {}

    def fits(self, option: ShippingOption) -> bool:
        """Whether the shopper may choose this method with shipping `option`."""
        return True

    def instructions(self, order: Order, settings: Settings) -> list[str]:
        """Lines telling the shopper how to pay, for the order page and the emails."""
        return []

    def reference(self, order: Order) -> str:
        """What the payment carries for the owner to match it to the order (the admin's
        order page and the owner's email show it); "" when there is nothing to match."""
        return ""

    def unpaid_deadline(self, settings: Settings) -> timedelta | None:
        """How long an order may await payment before `flask shop cancel-unpaid` cancels it;
        None: never (the money comes on handover, or the provider says when it failed)."""
        return None

    def page_after_order(self, order: Order) -> str | None:
        """Where to send the shopper once the order is placed; None: the order's page."""
        return None

    def refund(self, order: Order, amount_cents: int, idempotency_key: str, settings: Settings) -> str:
        """Give `amount_cents` (minor units, > 0) of `order`'s payment back. Returns the
        provider's id of the refund, or "" when the owner pays it back by hand (this
        default, for the offline methods). A provider's method sends `idempotency_key`
        with its request, so a retry never refunds twice. Raises RefundFailed: nothing
        was refunded."""
        return ""

    def on_cancel(self, order: Order) -> None:
        """Told after a cancellation of `order` was committed: a card payment refunds here.
        Must not raise for a provider's failure (keep it, to retry), the order stays cancelled."""


def amount_due(order: Order, settings: Settings) -> str:
    """The order's total as the instructions say it: '€24.90'."""
    return format_money(order.total_cents, settings.currency, settings.locale)
