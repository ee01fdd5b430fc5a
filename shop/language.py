"""The shop's language (SHOP_LOCALE) where a translated string alone is not enough: a
choice's label inside a sentence, and the tax's name and pickup place when the owner left
them at their defaults.
Catalogues: shop/translations/ (README there)."""

from __future__ import annotations

from flask_babel import get_locale
from flask_babel import gettext as _

from config import DEFAULT_PICKUP_ADDRESS, DEFAULT_TAX_NAME, Settings

# Languages whose nouns keep their capital inside a sentence ("mit Lieferung an Ihre Adresse").
NOUN_CAPITALS = frozenset({"de", "lb"})


def in_sentence(label: object) -> str:
    """A choice's label ("Bank transfer") inside a sentence: lower-cased ("with bank
    transfer"), except in languages that write nouns with a capital, where lowering would
    misspell it. Takes a str or a lazy string."""
    text = str(label)
    locale = get_locale()
    return text if locale is not None and locale.language in NOUN_CAPITALS else text.lower()


def tax_name(settings: Settings) -> str:
    """The tax's name on pages and in emails: SHOP_TAX_NAME as the owner set it, or, when it
    was left at its default ("VAT"), that word in the shop's language (German: "MwSt.")."""
    return _("VAT") if settings.tax_name == DEFAULT_TAX_NAME else settings.tax_name


def pickup_address(settings: Settings) -> str:
    """Where a pickup is collected: SHOP_PICKUP_ADDRESS as the owner set it, or, when it was
    left at its default ("our shop"), those words in the shop's language."""
    return _("our shop") if settings.pickup_address == DEFAULT_PICKUP_ADDRESS else settings.pickup_address
