"""The interface of a payment method: every rule about how an order is paid lives in its class.

Checkout asks a method whether it fits the shipping chosen (`fits`), which status a new
order starts in (`initial_status`) and where the shopper goes once it is placed
(`page_after_order`). The order's pages and emails ask what to tell the shopper
(`instructions`) and what reference the payment carries (`reference`). The order's life
(shop/orders/service.py) asks whether the money comes when the goods change hands
(`paid_on_handover`), when an unpaid order is cancelled (`unpaid_deadline`), and tells
the method when an order was cancelled (`on_cancel`). config.py asks which settings the
method cannot work without (`needs_settings`) and why it may not fit (`fit_rule`).

A card provider is one more subclass (shop/payment/card.py, Stripe Checkout):
`paid_through_provider`, `start_payment` making the provider's hosted payment page once the
order is written, `payment_state` asked by the unpaid-order sweep before it cancels, a
webhook of its own (shop/webhooks/) whose events shop/orders/payments.py applies, `refund`
giving money back through the provider (offline methods are refunded by the owner by
hand: `refund` returns "") and `dashboard_url` for the owner.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

from config import Settings
from shop.models import Order, OrderStatus
from shop.money import format_money
from shop.shipping import ShippingOption


class RefundFailed(Exception):
    """The provider refused the refund or could not be reached: nothing was refunded, the
    order stays as it was. str(error) is a message for the owner."""


class PaymentUnavailable(Exception):
    """The provider could not be reached in time, or refused the request: nothing was
    charged. str(error) is a message for the shopper (or the owner)."""


@dataclass(frozen=True)
class PaymentStart:
    """The provider's payment page made for an order: its id (Stripe: the Checkout
    Session's cs_...) and where the shopper pays."""

    session_id: str
    url: str


class PaymentOutcome(enum.StrEnum):
    PAID = "paid"  # the money came
    FAILED = "failed"  # it will not come (the page expired, the bank refused): cancel
    PENDING = "pending"  # not yet (the page is still open, a bank debit is under way)


@dataclass(frozen=True)
class PaymentReport:
    """What the provider says about the payment of the order whose page is `session_id`:
    from a webhook event (`event_id`, `event_type`) or asked by the shop (event_id "").
    `amount_cents` (minor units) and `currency` (ISO 4217, upper case) are what was
    charged, when the provider says; `payment_id` is its id of the payment (Stripe: pi_...)."""

    outcome: PaymentOutcome | None  # None: an event that changes nothing here
    session_id: str
    payment_id: str = ""
    amount_cents: int | None = None
    currency: str = ""
    event_id: str = ""
    event_type: str = ""


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
    # The shopper pays on the provider's page (start_payment): the order's confirmation
    # email waits for the payment, and the unpaid-order sweep asks the provider
    # (payment_state) before it cancels.
    paid_through_provider: ClassVar[bool] = False
    # Cancelling a paid order refunds the whole payment through the provider first (and a
    # refused refund leaves the order as it was); offline methods are paid back by hand.
    refunds_on_cancel: ClassVar[bool] = False

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

    def start_payment(self, order: Order, return_url: str, settings: Settings) -> PaymentStart | None:
        """Make the provider's payment page for the just-written `order` (the shopper comes
        back to `return_url`); None for a method paid without a provider (this default).
        Safe to call again for the same order: the provider answers with the same page.
        Raises PaymentUnavailable: nothing was charged."""
        return None

    def payment_page_url(self, order: Order, settings: Settings) -> str | None:
        """Where the shopper pays `order` (its page made by start_payment) while that page is
        still open; None otherwise (this default). Raises PaymentUnavailable."""
        return None

    def payment_state(self, order: Order, settings: Settings) -> PaymentReport | None:
        """Ask the provider how `order`'s payment stands (the sweep, before it cancels an
        unpaid order); None: there is nobody to ask (this default). Raises PaymentUnavailable."""
        return None

    def dashboard_url(self, order: Order, settings: Settings) -> str:
        """The payment in the provider's dashboard, for the owner; "" : none."""
        return ""

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
