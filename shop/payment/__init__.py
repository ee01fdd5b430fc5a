"""The payment methods the shop knows: the registry that checkout, the order's life, the
admin and config.py ask (one class per method, in method.py's interface).

Adding a method is a subclass of PaymentMethod in a module of its own and a line in
PAYMENT_METHODS below; the owner offers it with SHOP_PAYMENT_METHODS.
"""

from __future__ import annotations

from collections.abc import Mapping

from config import Settings
from shop.payment.card import CardPayment
from shop.payment.method import PaymentMethod
from shop.payment.offline import BankTransfer, CashOnDelivery, PayAtPickup
from shop.shipping import SHIPPING_OPTIONS

# Every method the code knows, by code, in the order offered by default.
PAYMENT_METHODS: dict[str, PaymentMethod] = {
    m.code: m for m in (BankTransfer(), CashOnDelivery(), PayAtPickup(), CardPayment())
}


def payment_method(code: str) -> PaymentMethod | None:
    """The method stored as `code`; None for "" (an order from before payment methods) or
    a code the shop does not know."""
    return PAYMENT_METHODS.get(code)


def offered_payment_methods(settings: Settings) -> list[PaymentMethod]:
    """The methods the owner switched on (SHOP_PAYMENT_METHODS), in that order."""
    return [PAYMENT_METHODS[code] for code in settings.payment_methods]


class Methods:
    """The payment methods and shipping options as config.py checks the settings against
    them (config.MethodRegistry): create_app passes METHODS in, so config imports nothing
    of the shop."""

    @property
    def payment_codes(self) -> tuple[str, ...]:
        return tuple(PAYMENT_METHODS)

    @property
    def shipping_codes(self) -> tuple[str, ...]:
        return tuple(SHIPPING_OPTIONS)

    def fits(self, payment: str, shipping: str) -> bool:
        method, option = PAYMENT_METHODS.get(payment), SHIPPING_OPTIONS.get(shipping)
        return method is not None and option is not None and method.fits(option)

    def fit_rules(self) -> str:
        return ", ".join(m.fit_rule for m in PAYMENT_METHODS.values() if m.fit_rule)

    def needs_settings(self, payment: str) -> Mapping[str, str]:
        method = PAYMENT_METHODS.get(payment)
        return method.needs_settings if method is not None else {}

    def label(self, payment: str) -> str:
        method = PAYMENT_METHODS.get(payment)
        return str(method.label) if method is not None else payment


METHODS = Methods()
