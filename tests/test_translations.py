"""The shop in its owner's language (SHOP_LOCALE): every string of the code and templates is
in the German catalogue and translated there, and pages and emails come out in German with
SHOP_LOCALE=de, and in English by default.

The catalogue checks read shop/translations/de/LC_MESSAGES/messages.po and extract the
strings anew with Babel (as `make translations-extract` does), so a string added without a
translation fails here. The page and email checks run the real app against its compiled
catalogue (the `german_catalogue` fixture compiles it when `make translations` has not) and
read the email from the real SMTP sink."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from flask import Flask

from shop.extensions import db
from shop.models import Order
from tests.conftest import Browser, order_id_from, signed_in_admin
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
GERMAN_PO = ROOT / "shop" / "translations" / "de" / "LC_MESSAGES" / "messages.po"
TO_DO = (
    "run `make translations-update`, translate the new entries in "
    "shop/translations/de/LC_MESSAGES/messages.po (and delete any `#, fuzzy` line), then `make translations`"
)


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _msgid(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(strings)


def test_every_string_in_the_german_catalogue_is_translated() -> None:
    untranslated = [_msgid(m) for m in _read(GERMAN_PO) if m.id and not _translated(m)]
    assert not untranslated, f"{len(untranslated)} German string(s) empty or fuzzy: {untranslated[:10]}; {TO_DO}"


def test_the_german_translations_keep_every_placeholder() -> None:
    """'%(email)s' in English must be '%(email)s' in German (Babel's python-format check),
    or the page would fail or show the wrong value."""
    problems = [(_msgid(message), [str(e) for e in errors]) for message, errors in _read(GERMAN_PO).check()]
    assert not problems, problems


def test_no_string_of_the_code_or_templates_is_missing_from_the_german_catalogue(tmp_path: Path) -> None:
    """Extract anew (babel.cfg and the Makefile's keywords) and compare the msgids: a string
    wrapped in _() after the catalogue was last updated is not in it, and shows in English."""
    template = tmp_path / "messages.pot"
    pybabel = [sys.executable, "-c", "from babel.messages.frontend import main; main()"]
    extract = ["-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location"]
    subprocess.run([*pybabel, *extract, "-o", str(template), "."], cwd=ROOT, check=True)
    extracted = {m.id for m in _read(template) if m.id}
    german = {m.id for m in _read(GERMAN_PO) if m.id}
    missing = sorted(_msgid(Message(m)) for m in extracted - german)
    assert not missing, f"{len(missing)} string(s) not in the German catalogue: {missing[:10]}; {TO_DO}"
    assert len(extracted) > 600  # it did read the code and the templates


# ---------------------------------------------------------------- pages and emails
@pytest.fixture
def german(german_catalogue: Path, make_app: Callable[..., Flask], products: dict[str, int]) -> Flask:
    """The shop with SHOP_LOCALE=de (its catalogue compiled), on the database `products` filled."""
    return make_app(SHOP_LOCALE="de")


def test_catalogue_product_cart_checkout_and_error_pages_are_in_german(german: Flask) -> None:
    shopper = Browser(german.test_client())
    catalogue = shopper.get("/").get_data(as_text=True)
    assert '<html lang="de">' in catalogue
    for text in ("Unser Sortiment", "Warenkorb", "Artikel suchen", "alle Preise inkl. MwSt.", "Auf Lager"):
        assert text in catalogue, text
    assert "Our catalogue" not in catalogue
    assert "Search products" not in catalogue

    product = shopper.get("/products/1", follow_redirects=True).get_data(as_text=True)
    assert "In den Warenkorb" in product
    assert "Menge" in product
    assert "Add to cart" not in product

    assert shopper.add(1, 2).status_code == 303
    cart = shopper.get("/cart").get_data(as_text=True)
    assert "Ihr Warenkorb" in cart
    assert "Zur Kasse" in cart
    assert "Weiter einkaufen" in cart
    assert "Versandkosten und Gutscheine werden an der Kasse berechnet." in cart
    assert "Your cart" not in cart

    checkout = shopper.get("/checkout").get_data(as_text=True)
    for text in ("Kasse", "Ihre Bestellung", "Gutscheincode", "Lieferung an Ihre Adresse", "Überweisung"):
        assert text in checkout, text
    assert "Gesamtsumme" in checkout
    assert "mit Lieferung an Ihre Adresse" in checkout
    assert "Zahlungspflichtig bestellen" in checkout
    assert "Place order" not in checkout

    missing = shopper.get("/no-such-page")
    assert missing.status_code == 404
    page = missing.get_data(as_text=True)
    assert "Nicht gefunden" in page
    assert "Zurück zum Katalog" in page
    assert "There is nothing here" not in page


def test_form_messages_and_flashes_are_in_german(german: Flask) -> None:
    shopper = Browser(german.test_client())
    sign_in_first = shopper.get("/account", follow_redirects=True).get_data(as_text=True)  # Flask-Login's flash
    assert "Bitte melden Sie sich an, um diese Seite zu sehen." in sign_in_first
    shopper.add(1)
    refused = shopper.checkout(email="ada@example.com", full_name="")
    assert refused.status_code == 422
    assert "Bitte geben Sie Ihren vollständigen Namen ein." in refused.get_data(as_text=True)

    placed = shopper.checkout(email="ada@example.com")
    assert placed.status_code == 303
    order_page = shopper.get(placed.headers["Location"]).get_data(as_text=True)
    assert "Vielen Dank! Ihre Bestellung" in order_page
    assert "So bezahlen Sie: Überweisung" in order_page
    assert "Bitte überweisen Sie" in order_page


def test_the_owners_pages_are_in_german_too(german: Flask) -> None:
    owner = signed_in_admin(german)
    dashboard = owner.get("/admin").get_data(as_text=True)
    assert "Übersicht" in dashboard
    assert "Umsatz heute" in dashboard
    orders = owner.get("/admin/orders").get_data(as_text=True)  # the status choices are made at import, shown in German
    assert ">Alle</option>" in orders
    assert ">Zahlung ausstehend</option>" in orders
    assert ">Storniert</option>" in orders
    products = owner.get("/admin/products").get_data(as_text=True)
    assert "Neuer Artikel" in products
    assert "Im Verkauf" in products


def test_the_order_confirmation_email_is_in_german(german: Flask, smtp: SmtpSink) -> None:
    shopper = Browser(german.test_client())
    shopper.register("ada@example.com")
    shopper.add(1)
    order_id_from(shopper.checkout())
    with german.app_context():
        number = db.session.execute(sa.select(Order.number)).scalar_one()
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Ihre Bestellung")
    assert mail.subject == f"Ihre Bestellung {number} bei Swiftcart"
    assert "vielen Dank für Ihre Bestellung bei Swiftcart." in mail.text
    for text in ("Bestellnummer:", "Gesamtsumme:", "Versand (Lieferung)", "Zahlung: Überweisung", "Lieferadresse:"):
        assert text in mail.text, text
    assert "Vielen Dank für Ihre Bestellung" in mail.html
    assert '<html lang="de">' in mail.html
    assert "thank you" not in mail.text.lower()


def test_the_shop_stays_english_by_default(app: Flask, products: dict[str, int], smtp: SmtpSink) -> None:
    shopper = Browser(app.test_client())
    catalogue = shopper.get("/").get_data(as_text=True)
    assert '<html lang="en">' in catalogue
    assert "Our catalogue" in catalogue
    assert "prices include VAT" in catalogue
    shopper.register("ada@example.com")
    shopper.add(1)
    order_id_from(shopper.checkout())
    [mail] = smtp.wait_for(1, to="ada@example.com", subject_contains="Your Swiftcart order")
    assert "thank you for your order at Swiftcart." in mail.text
    assert "Shipping (delivery)" in mail.text
