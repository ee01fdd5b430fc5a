"""Why an order cannot be placed: each error's message is a sentence for the shopper, and
nothing was written when one is raised (shop/checkout/service.py)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from shop.cart.service import describe_shortfall


class CheckoutError(Exception):
    """The order cannot be placed; the message is for the shopper."""


class EmptyCart(CheckoutError):
    def __init__(self) -> None:
        super().__init__(_("Your cart is empty: add something before checking out."))


@dataclass(frozen=True)
class Shortage:
    product_id: int
    name: str | None  # None: the product was deleted from the catalogue
    wanted: int
    available: int  # 0 when it is no longer sold
    sold: bool = True  # False: switched off by the owner, or deleted

    def describe(self) -> str:
        """'Enamel Mug is no longer sold', 'Clay Teapot is out of stock', 'Assam Tea: only 2
        left, you asked for 3'."""
        return describe_shortfall(self.name, self.sold, self.available, self.wanted)


class OutOfStock(CheckoutError):
    """Some lines cannot be bought as they are: out of stock, short, or no longer sold."""

    def __init__(self, shortages: list[Shortage]) -> None:
        self.shortages = shortages
        what = "; ".join(s.describe() for s in shortages)
        super().__init__(
            _("Some products cannot be ordered: %(what)s. Nothing was ordered; please change your cart.", what=what)
        )


class MethodNotOffered(CheckoutError):
    """The shipping option or payment method is not offered, or they do not fit each other."""


class FormAlreadyUsed(CheckoutError):
    """The checkout form's idempotency key belongs to another shopper's order."""

    def __init__(self) -> None:
        super().__init__(_("This form was used for another order already; please check it and place the order again."))


class OrderTooLarge(CheckoutError):
    def __init__(self) -> None:
        super().__init__(_("This order is larger than the shop can take at once; please split it or contact us."))


class PaymentNotStarted(CheckoutError):
    """The payment provider could not make the payment page: the order was cancelled and
    restocked, nothing was charged. The message says so, for the shopper."""
