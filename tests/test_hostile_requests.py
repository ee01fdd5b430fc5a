"""Property tests: hostile values sent to every route of the route table never get a 5xx.

What is sent where is found, not listed: the routes come from `app.url_map`; each route's
form fields, upload fields and query arguments from the pages themselves (every GET page is
fetched as each kind of visitor and its forms and links read) and from the views' source
(`request.args.get("...")`, `paginate(`). A new route, field or argument is covered without
touching this file. A POST route whose form no page shows gets the fields of every form.

Each example sends, to every route and method, one request per slot (each path part, query
argument, form field and upload of the route), with that slot hostile and every other one
a value that works, so the hostile value gets past the first check into the view's deeper
code. Hostile values: huge and negative numbers, amounts Decimal overflows on, NUL and
other control characters, lone surrogates and invalid UTF-8 (raw bytes), very long strings,
impossible and edge dates, empty values, and hostile files. The visitor is drawn for every
request: anonymous, a customer, a staff member or the admin, each with a cart and a valid CSRF token (so
the request gets past CSRF), and each put back as they were before every request (a logout
in one request does not change who sends the next).

A second test sends malformed headers (Referer, Host, X-Forwarded-*, Cookie) to every route
in production mode, behind a proxy (SHOP_PROXY_COUNT=1), with and without trusting
X-Forwarded-Host.

Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL (CI runs both). Examples are
derandomized: the same requests every run, so a failure is reproducible and the time known.
"""

from __future__ import annotations

import inspect
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Rule
from wtforms.fields.core import UnboundField

from shop.extensions import db
from shop.models import OutboxEmail, Product, ProductVariant, Role, TaxRate, User, Voucher
from shop.orders.service import change_order_status
from tests.conftest import ADDRESS, PASSWORD, Browser, order_id_from, signed_in_admin, signed_in_browser

SHOP = Path(__file__).resolve().parent.parent / "shop"
EXAMPLES = 25  # each sends about 125 requests: one per slot of every route and method

HOSTILE_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same examples every run: a failure is reproducible, the time known
    deadline=None,  # a request takes what it takes on a shared machine
    # No shrinking: an example is some 1500 requests, and the failing one is named in the
    # failure (shrinking one took minutes and told no more).
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,  # one example visits every route: it is large by design
    ],
)


# ---------------------------------------------------------------- what the shop reads
def _all_subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _fields(form_class: type) -> dict[str, UnboundField]:
    return {
        name: value
        for klass in form_class.__mro__
        for name, value in vars(klass).items()
        if isinstance(value, UnboundField)
    }


def _read_in(source: str, where: str) -> set[str]:
    """Names `source` reads with request.<where>.get("name")."""
    return set(re.findall(rf'request\.{where}\.get\(\s*"([^"]+)"', source))


def every_form_field() -> tuple[set[str], set[str]]:
    """(text fields, upload fields) of every form of the shop, and what views read from forms."""
    texts = {name for path in SHOP.rglob("*.py") for name in _read_in(path.read_text(), "form")}
    files: set[str] = set()
    for form_class in _all_subclasses(FlaskForm):
        if form_class.__module__.startswith("shop."):
            for name, unbound in _fields(form_class).items():
                (files if issubclass(unbound.field_class, FileField) else texts).add(name)
    return texts, files


class PageForms(HTMLParser):
    """A page's forms (action, method, fields with the value a browser would send, uploads)
    and the links it shows."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {"action": a.get("action", ""), "method": a.get("method", "get"), "fields": {}, "files": set()}
            )
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("input", "select", "textarea") and self.forms and a.get("name") and a["name"] != "csrf_token":
            form = self.forms[-1]
            if a.get("type") == "file":
                form["files"].add(a["name"])
            elif a.get("type") not in ("radio", "checkbox") or "checked" in a or a["name"] not in form["fields"]:
                form["fields"][a["name"]] = a.get("value", "")


@dataclass
class Route:
    rule: Rule
    method: str
    fields: dict[str, str] = field(default_factory=dict)  # name -> what its page sends
    files: set[str] = field(default_factory=set)
    query: set[str] = field(default_factory=set)
    form_seen: bool = False


# ---------------------------------------------------------------- values
def _encoded(value: str | bytes) -> bytes:
    # A lone surrogate cannot be UTF-8: it goes out as the invalid bytes a browser could send.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


REPRESENTATIVES = [
    "",
    " ",
    "0",
    "-1",
    str(2**31 - 1),
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    "9" * 400,
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\r\nX-Injected: 1",
    "\t",
    "\ud800",
    "\x7f\x85\u2028",
    "\ufffe\uffff",
    b"\xff\xfe\xc3(",
    b"\xed\xa0\x80",
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "NaN",
    "sNaN",
    "-Infinity",
    "12.345",
    "١٢",
    "1_000",
    "0000-00-00",
    "9999-12-31",
    "2024-02-30",
    "0001-01-01",
    "'; DROP TABLE product; --",
    "%_\\",
    "<script>alert(1)</script>",
    "x" * 256,
    "é" * 3000,
    "y" * 70_000,
    "ö@example.com",
]
DECIMALS = st.builds("{}e{}".format, st.integers(0, 10**6), st.integers(-(10**10), 10**10))
DATES = st.one_of(
    st.dates(min_value=date(1, 1, 1)).map(date.isoformat),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(0, 99999), st.integers(0, 99), st.integers(0, 99)),
)
HOSTILE: st.SearchStrategy[str | bytes] = st.one_of(
    st.sampled_from(REPRESENTATIVES),
    st.integers(-(10**30), 10**30).map(str),
    DECIMALS,
    DATES,
    st.text(max_size=30),
    st.binary(min_size=1, max_size=12),
    st.integers(200, 20_000).map(lambda n: "z" * n),
)
TOKEN_CHARS = string.ascii_letters + string.digits + "-_"

# Values that work, where a page's own value would not (or a page shows none).
GOOD_FORM: dict[str, st.SearchStrategy[str]] = {
    "quantity": st.sampled_from(["1", "2"]),
    "email": st.sampled_from(["shopper@example.com", "customer@example.com"]),
    "password": st.just(PASSWORD),
    "confirm": st.just(PASSWORD),
    "remember": st.just("y"),
    **{name: st.just(value) for name, value in ADDRESS.items()},
    "shipping_method": st.sampled_from(["standard", "pickup"]),
    "payment_method": st.sampled_from(["bank_transfer", "cash_on_delivery", "pay_at_pickup"]),
    "checkout_token": st.text(TOKEN_CHARS, min_size=32, max_size=32),  # a new order each time
    "code": st.sampled_from(["SAVE10", "NEW-CODE"]),
    "kind": st.sampled_from(["fixed", "percent"]),
    "amount": st.sampled_from(["5", "12.50"]),
    "min_basket": st.sampled_from(["", "10"]),
    "valid_from": st.sampled_from(["", "2024-01-01"]),
    "valid_until": st.sampled_from(["", "2030-12-31"]),
    "usage_limit": st.sampled_from(["", "10"]),
    "sku": st.sampled_from(["HOSTILE-1", "TEA"]),
    "name": st.just("Hostile Mug"),
    "price": st.sampled_from(["12.50", "0"]),
    "stock": st.sampled_from(["5", "0"]),
    "to_status": st.sampled_from(["paid", "cancelled", "shipped"]),
    "note": st.just("Tracking 123"),
}
GOOD_QUERY: dict[str, st.SearchStrategy[str]] = {
    "page": st.sampled_from(["1", "2"]),
    "q": st.sampled_from(["tea", "mug"]),
    "category": st.sampled_from(["tea", "mugs"]),
    "date_from": st.just("2024-01-01"),
    "date_to": st.just("2030-12-31"),
}
GOOD_CSV = b"sku,name,description,price,stock,category\nHOSTILE-CSV,Imported,,1.00,3,Mugs\n"
HOSTILE_FILES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"sku,name,description,price,stock,category\nA,B,,1e999999999,1,\n",
            b"sku,name,description,price,stock,category\nA,B\x00,,1,1,\n",
            b"sku,name,description,price,stock,category\nA,B,," + b"x" * 140_000 + b",1,\n",
            b"sku,name,description,price,stock,category\n" + b"C" * 81 + b",B,,1,99999999999,C" * 30 + b"\n",
            b'sku,name,description,price,stock,category\n"A,B\n',
            b"\xff\xfe\x00s\x00k\x00u",
            b"\x89PNG\r\n\x1a\n" + b"\x00" * 32,
            b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        ]
    ),
)
# Drawn per request; the admin more often, as most routes are the admin's.
ROLES = ["admin", "admin", "staff", "customer", "anonymous"]


# ---------------------------------------------------------------- the shop under attack
@dataclass
class Visitor:
    client: FlaskClient
    csrf_token: str
    session: dict[str, Any]  # put back before every request

    def reset(self) -> None:
        self.client.delete_cookie("remember_token")
        with self.client.session_transaction() as session:
            session.clear()
            session.update(self.session)


@dataclass(repr=False)
class Shop:
    app: Flask
    visitors: dict[str, Visitor]
    path_values: dict[str, list[str]]  # argument name -> values that name something real
    routes: list[Route]
    every_field: list[str]

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how Hypothesis shows it
        printer.text(f"<Shop of {len(self.routes)} routes>")


def _visitor(browser: Browser, page: str, cart: dict[str, int]) -> Visitor:
    token = browser.csrf_token(page)
    with browser.client.session_transaction() as session:
        session["cart"] = cart
        saved = dict(session)
    return Visitor(browser.client, token, saved)


def _real_path(rule: Rule, values: dict[str, list[str]]) -> str | None:
    if any(name not in values for name in rule.arguments):
        return None
    return ARGUMENT.sub(lambda m: values[m.group(1)][0], rule.rule)


def read_routes(app: Flask, visitors: dict[str, Visitor], path_values: dict[str, list[str]]) -> list[Route]:
    """Every route and method, with the fields and query arguments its pages and view show."""
    routes = {
        (rule.rule, method): Route(rule, method)
        for rule in app.url_map.iter_rules()
        for method in ("GET", "POST")
        if method in rule.methods
    }
    adapter = app.url_map.bind("localhost")

    def route_of(url: str, method: str) -> Route | None:
        parts = urlsplit(url)
        try:
            rule, _ = adapter.match(parts.path, method, return_rule=True)
        except HTTPException:
            return None
        return routes.get((rule.rule, method))

    for route in routes.values():
        view = inspect.getsource(app.view_functions[route.rule.endpoint])
        route.query |= _read_in(view, "args") | ({"page"} if "paginate(" in view else set())
    pages = [r for r in routes.values() if r.method == "GET" and r.rule.endpoint != "static"]
    # Twice: the second time with every query argument found so far, so links that carry
    # the page's arguments on (the orders export) show them too.
    for with_arguments in (False, True):
        for visitor in visitors.values():
            for route in pages:
                url = _real_path(route.rule, path_values)
                if url is None:
                    continue
                if with_arguments and route.query:
                    url += "?" + "&".join(f"{name}=1" for name in sorted(route.query))
                visitor.reset()
                page, response = PageForms(), visitor.client.get(url)
                if response.mimetype != "text/html":  # a PDF, a CSV, an image: no forms or links
                    continue
                page.feed(response.get_data(as_text=True))
                for form in page.forms:
                    action = form["action"] or url.split("?")[0]
                    target = route_of(action, form["method"].upper())
                    if target is None:
                        continue
                    if target.method == "GET":
                        target.query |= set(form["fields"])
                    else:
                        target.form_seen = True
                        target.fields.update(form["fields"])
                        target.files |= form["files"]
                    target.query |= {name for name, _ in parse_qsl(urlsplit(action).query)}
                for link in page.links:
                    target = route_of(link, "GET")
                    if target is not None:
                        target.query |= {name for name, _ in parse_qsl(urlsplit(link).query)}
    return sorted(routes.values(), key=lambda r: (r.rule.rule, r.method))


def build_shop(make_app, products: dict[str, int], **settings: Any) -> Shop:
    """A shop with a customer who ordered, a guest's order, a voucher and emails; visitors of
    each kind; and the route table with what each route reads. Emails are sent inside the
    request (sync): no sender thread runs (and draws random jitter) while examples are drawn."""
    app = make_app(SHOP_MAIL_DISPATCH="sync", **settings)
    customer = signed_in_browser(app, "customer@example.com")
    customer.add(products["TEA"], 1)
    order_id = order_id_from(customer.checkout())
    guest = Browser(app.test_client())
    guest.add(products["MUG"], 1)
    guest_token = guest.checkout(email="guest@example.com").headers["Location"].rsplit("/", 1)[1]
    admin = signed_in_admin(app)
    staff = signed_in_browser(app, "staff@example.com")
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == "staff@example.com").values(role=Role.STAFF))
        voucher = Voucher(code="SAVE10", kind="percent", amount=1000)
        db.session.add(voucher)
        sized = Product(sku="SIZED", name="Sized Tea", price_cents=500, stock=0)  # a product with variants
        sized.variants = [ProductVariant(sku="SIZED-S", option="S", stock=5), ProductVariant(sku="SIZED-L", option="L")]
        db.session.add(sized)
        rate = TaxRate(name="Reduced", rate_bp=700)
        db.session.add(rate)
        db.session.commit()
        sized_ids = [sized.id, *(v.id for v in sized.variants)]
        email_ids = db.session.execute(sa.select(OutboxEmail.id).order_by(OutboxEmail.id)).scalars().all()
        voucher_id, rate_id = voucher.id, rate.id
        change_order_status(order_id, "paid", None)  # its invoice, document 1: real documents to fetch
    cart = {str(products["TEA"]): 1, str(products["MUG"]): 2}
    visitors = {
        "anonymous": _visitor(Browser(app.test_client()), f"/products/{products['TEA']}", cart),
        "customer": _visitor(customer, f"/products/{products['TEA']}", cart),
        "admin": _visitor(admin, "/admin/vouchers", cart),
        "staff": _visitor(staff, "/admin/orders", cart),
    }
    path_values = {
        "product_id": [str(i) for i in [*products.values(), sized_ids[0]]],
        "variant_id": [str(i) for i in sized_ids[1:]],
        "slug": ["assam-tea"],
        "order_id": [str(order_id)],
        "email_id": [str(i) for i in email_ids],
        "voucher_id": [str(voucher_id)],
        "zone_id": ["1"],  # "Everywhere", made by migration 0010
        "rate_id": [str(rate_id)],
        "document_id": ["1"],
        "token": [guest_token],
        "filename": ["shop.css"],
        "name": ["0" * 32 + ".png"],
    }
    texts, _ = every_form_field()
    return Shop(app, visitors, path_values, read_routes(app, visitors, path_values), sorted(texts))


@pytest.fixture
def shop(make_app, products: dict[str, int]) -> Shop:
    return build_shop(make_app, products)


ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def _quoted(value: bytes) -> str:
    return quote_from_bytes(value, safe="")


def _urlencoded(pairs: list[tuple[str, bytes]]) -> str:
    return "&".join(f"{_quoted(name.encode())}={_quoted(value)}" for name, value in pairs)


def _multipart(pairs: list[tuple[str, bytes]], files: list[tuple[str, bytes | None]]) -> tuple[bytes, str]:
    boundary = "hostile-boundary-7d3f"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in pairs
    ]
    parts += [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{"x.csv" if content else ""}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + (content or b"")
        + b"\r\n"
        for name, content in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def slots(route: Route) -> list[tuple[str, str | None]]:
    """Where one request of this route carries its hostile value: each path part, query
    argument, form field and upload (None: a name drawn from them all)."""
    found = [("path", name) for name in sorted(route.rule.arguments)]
    if route.method == "GET":
        found += [("query", name) for name in sorted(route.query)] + [("query", None)]
    else:
        fields = sorted(route.fields) if route.form_seen else [None]
        found += [("form", name) for name in fields] + [("file", name) for name in sorted(route.files)]
    return found or [("nothing", None)]


def send_hostile_request(shop: Shop, route: Route, slot: tuple[str, str | None], data: st.DataObject) -> str:
    """One request to `route`, hostile in `slot`, fine elsewhere; 'METHOD url as role: status'."""
    kind, name = slot
    where = f"{route.method} {route.rule.rule} {kind} {name}"
    if name is None and kind == "query":
        name = data.draw(st.sampled_from(sorted({n for r in shop.routes for n in r.query})), f"{where}: which")
    if name is None and kind == "form":
        name = data.draw(st.sampled_from(shop.every_field), f"{where}: which")
    role = data.draw(st.sampled_from(ROLES), f"{where}: as")
    visitor = shop.visitors[role]
    path = {}
    for argument in route.rule.arguments:
        real = shop.path_values.get(argument)
        hostile = (kind, name) == ("path", argument) or not real
        path[argument] = _encoded(data.draw(HOSTILE if hostile else st.sampled_from(real), f"{where}: <{argument}>"))
    url = ARGUMENT.sub(lambda m: _quoted(path[m.group(1)]), route.rule.rule)
    kw: dict[str, Any] = {}
    if kind == "query":
        kw["query_string"] = _urlencoded([(name, _encoded(data.draw(HOSTILE, f"{where}: value")))])
    if route.method == "POST":
        fields = dict.fromkeys(route.fields if route.form_seen else GOOD_FORM, "")
        fields.update(route.fields)
        if kind == "form":
            fields[name] = ""
        pairs = []
        for field_name, shown in fields.items():
            if (kind, name) == ("form", field_name):
                value = data.draw(HOSTILE, f"{where}: value")
            elif field_name in GOOD_FORM:
                value = data.draw(GOOD_FORM[field_name], f"{where}: {field_name}")
            else:
                value = shown
            pairs.append((field_name, _encoded(value)))
        pairs.append(("csrf_token", visitor.csrf_token.encode()))
        if route.files:
            files = [
                (f, data.draw(HOSTILE_FILES, f"{where}: file") if (kind, name) == ("file", f) else None)
                for f in sorted(route.files)
            ]
            if "file" in route.files and kind != "file":
                files = [(f, GOOD_CSV if f == "file" else content) for f, content in files]
            kw["data"], kw["content_type"] = _multipart(pairs, files)
        else:
            kw["data"], kw["content_type"] = _urlencoded(pairs), "application/x-www-form-urlencoded"
    request = f"{route.method} {url[:80]} ({kind} {name}) as {role}"
    visitor.reset()
    try:
        response = visitor.client.open(url, method=route.method, **kw)
        response.get_data()
        response.close()
    except Exception as error:  # TESTING: Flask raises what would have been a 500
        raise AssertionError(f"{request}: {error!r}") from error
    return f"{request}: {response.status_code}"


@HOSTILE_SETTINGS
@given(data=st.data())
def test_hostile_values_on_every_route_never_get_a_server_error(shop: Shop, data: st.DataObject):
    for route in shop.routes:
        for slot in slots(route):
            outcome = send_hostile_request(shop, route, slot, data)
            assert not outcome.endswith(tuple(f": 5{n:02d}" for n in range(100))), outcome


# ---------------------------------------------------------------- malformed headers, production
HEADER_TEXT = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=40)


def _header(examples: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(examples), HEADER_TEXT)


# Behind nginx every request says how it came (X-Forwarded-Proto), and a browser's form post
# names the page it came from (Referer); the other headers may be there.
FORWARDED_PROTO = st.one_of(st.just("https"), _header(["http", "", "https, http", "javascript"]))
HOSTILE_HEADERS: dict[str, st.SearchStrategy[str]] = {
    "Referer": _header(
        [
            "https://shop.example.com/admin/products",
            "https://evil.example/",
            "//evil.example",
            "javascript:alert(1)",
            "https://[::1",
            "https://shop.example.com:99999/",
            "https://a:b@shop.example.com:-1/",
            "http://\u00e9vil.example/",
        ]
    ),
    "Host": _header(["", "evil.example", "shop.example.com:99999", "[::1", "a b", "localhost:-1", "..", "x" * 300]),
    "X-Forwarded-For": _header(["", "::1", "1.2.3.4, 5.6.7.8", "999.999.999.999", ","]),
    "X-Forwarded-Host": _header(["evil.example", "", "[::1", "a:99999", "x,y"]),
    "X-Forwarded-Port": _header(["443", "-1", "99999", "", "abc"]),
    "X-Forwarded-Prefix": _header(["/shop", "//evil.example", "", "\x00"]),
    "Cookie": _header(
        [
            "session=garbage",
            "session=" + "A" * 5000,
            "session=.eJwrSS0uUbJSSkktTs7PS8lPVbICADhpBjw.x.y",
            "remember_token=1|deadbeef",
            "remember_token=" + "9" * 50 + "|x",
            "=;;;=; session",
            'session="\\"',
        ]
    ),
}
# Up to two of the others at a time: with all of them at once, the first refusal (a garbage
# Cookie loses the session, so CSRF refuses) hides what the others would do.
OTHER_HEADERS = sorted(set(HOSTILE_HEADERS) - {"Referer"})
HEADERS = st.builds(
    lambda proto, referer, others: {"X-Forwarded-Proto": proto, "Referer": referer, **others},
    FORWARDED_PROTO,
    HOSTILE_HEADERS["Referer"],
    st.lists(st.sampled_from(OTHER_HEADERS), max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: HOSTILE_HEADERS[name] for name in names})
    ),
)


@pytest.fixture(params=[False, True], ids=["host-not-trusted", "host-trusted"])
def production_shop(request, make_app, products: dict[str, int]) -> Shop:
    """The shop as deployed: production settings, behind one proxy (nginx)."""
    return build_shop(
        make_app,
        products,
        SHOP_ENV="production",
        SECRET_KEY="7de3057a7b142e624e6d43c419b5db63406a3a7a1d945885f5c9b07a37ced81a",
        SHOP_BASE_URL="https://shop.example.com",
        SHOP_PROXY_COUNT=1,
        SHOP_PROXY_TRUST_HOST=request.param,
    )


@settings(HOSTILE_SETTINGS, max_examples=15)
@given(data=st.data())
def test_malformed_headers_in_production_never_get_a_server_error(production_shop: Shop, data: st.DataObject):
    shop = production_shop
    for route in shop.routes:
        role = data.draw(st.sampled_from(ROLES), f"{route.method} {route.rule.rule}: as")
        visitor = shop.visitors[role]
        headers = data.draw(HEADERS, f"{route.rule.rule}: headers")
        url = _real_path(route.rule, shop.path_values) or ARGUMENT.sub("1", route.rule.rule)
        kw: dict[str, Any] = {"headers": headers}
        if route.method == "POST":
            fields = {
                name: data.draw(GOOD_FORM[name], name) if name in GOOD_FORM else shown
                for name, shown in route.fields.items()
            }
            kw["data"] = {**fields, "csrf_token": visitor.csrf_token}
        request = f"{route.method} {url} as {role} with {headers!r}"
        visitor.reset()
        # With a Cookie header, a new client: it sends only the hostile cookies.
        client = shop.app.test_client() if "Cookie" in headers else visitor.client
        try:
            response = client.open(url, method=route.method, **kw)
            response.get_data()
            response.close()
        except Exception as error:  # TESTING: Flask raises what would have been a 500
            raise AssertionError(f"{request}: {error!r}") from error
        assert response.status_code < 500, f"{request}: {response.status_code}"
