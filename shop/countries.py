"""Countries: ISO 3166-1 alpha-2 codes, named in the shop's language by Babel (CLDR's
territory names: DE is 'Germany' in en, 'Deutschland' in de).

Addresses and orders store the code. Text typed before there was a list (migration 0010)
is turned into a code where it is recognisable (`code_from_text`), and kept as it was
where not: `country_name` shows a code by its name and any other text as it is.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection
from functools import cache

from babel import Locale
from babel.core import get_global
from flask_babel import gettext as _

# CLDR territories with two letters that are not ISO 3166-1 countries: the EU, the
# eurozone, the UN, "outlying Oceania", "unknown region", pseudo-locales' regions, and the
# codes ISO only reserves (Ascension, Clipperton, Diego Garcia, Ceuta & Melilla, Canary
# Islands, Tristan da Cunha).
NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB", "AC", "CP", "DG", "EA", "IC", "TA"})
# Names people write that CLDR does not use (looked up lower case, as all names are).
ALIASES = {
    "uk": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "usa": "US",
    "u.s.a.": "US",
    "u.s.": "US",
    "america": "US",
    "united states of america": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "deutschland": "DE",
    "brd": "DE",
    "czech republic": "CZ",
}
# Languages whose country names migration 0010 recognises in free text.
RECOGNISED_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "cs", "ja")


@cache
def country_names(locale: str) -> dict[str, str]:
    """{code: name} of every country CLDR knows, named in `locale`, sorted by name."""
    territories = Locale.parse(locale).territories
    names = {
        code: name
        for code, name in territories.items()
        if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    }
    return dict(sorted(names.items(), key=lambda item: _sort_key(item[1])))


def _sort_key(name: str) -> str:
    """'Österreich' sorts with the O's, as a reader expects, not after Z."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.casefold()) if not unicodedata.combining(c))


def country_choices(codes: Collection[str], locale: str) -> list[tuple[str, str]]:
    """[("", "Choose a country"), (code, name), ...] for a select of `codes`, by name in
    `locale`."""
    names = country_names(locale)
    return [("", _("Choose a country")), *((code, name) for code, name in names.items() if code in codes)]


def home_country(locale: str) -> str:
    """The country a locale is most likely used in, by CLDR's likely subtags: 'de_CH' ->
    'CH', 'de' -> 'DE', 'en' -> 'US', 'ja' -> 'JP'; "" if CLDR does not say."""
    parsed = Locale.parse(locale)
    if parsed.territory:
        return parsed.territory
    likely = get_global("likely_subtags").get(parsed.language, "")
    return Locale.parse(likely).territory or "" if likely else ""


def all_country_codes() -> frozenset[str]:
    """Every country code the shop knows (CLDR's, as Babel has them)."""
    return frozenset(country_names("en"))


def country_name(value: str, locale: str) -> str:
    """'DE', 'de' -> 'Deutschland'; text that is no code ('Narnia', kept from before the
    codes) as it is; "" for ""."""
    return country_names(locale).get(value, value)


@cache
def _recognised() -> dict[str, str]:
    names = {name.casefold(): code for lang in RECOGNISED_LANGUAGES for code, name in country_names(lang).items()}
    names.update({code.casefold(): code for code in all_country_codes()})
    names.update(ALIASES)
    return names


def code_from_text(text: str) -> str | None:
    """The code of a country as someone typed it: 'germany', ' Deutschland ', 'DE', 'UK',
    'United Kingdom' -> 'DE'/'GB'; None when it is not recognisable ('Narnia', '')."""
    return _recognised().get(" ".join(text.split()).casefold())
