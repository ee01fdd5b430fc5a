"""The bytes of every email: clean headers (RFC 5322, 2047, 6532) however long or non-ASCII
the shop's or a product's name, addresses beyond ASCII sent only as the server allows
(SMTPUTF8, 8BITMIME), and never accepted at a form when they cannot be sent."""

from __future__ import annotations

import email.policy
import re
from datetime import datetime
from email.errors import NonASCIILocalPartDefect
from email.header import decode_header, make_header
from email.parser import BytesParser, Parser
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from shop.extensions import db
from shop.mail.mime import Mailbox, ShopMessage
from shop.models import EmailStatus, Order, OutboxEmail, Product
from shop.orders.refunds import refund_payment
from tests.conftest import ADDRESS, PASSWORD, Browser, count, signed_in_admin, signed_in_browser, wait_until
from tests.smtp_sink import ReceivedMail

ROOT = Path(__file__).resolve().parent.parent
# Long, non-ASCII, with characters that need quoting in an address (comma, quotes) and
# text that looks like an encoded-word: the worst a shop owner could type.
SHOP = 'Bücherstube & Teehaus «Grüne Wiese», am Österreichischen Platz — 日本茶の専門店 "=?x?="'
PRODUCT = (
    "Österreichischer Kräutertee aus biologischem Anbau, handverlesen — Großpackung für Genießer "
    "(500 g) · 日本の緑茶ブレンド · Ünïcödé-Vielfalt ohne Ende, wirklich sehr lang"
)
ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


def email_kinds() -> set[str]:
    """Every kind of email the shop can send: one per template in templates/email/."""
    return {p.stem for p in (ROOT / "templates" / "email").glob("*.txt") if not p.stem.startswith("_")}


def assert_clean(raw: bytes, utf8: bool = False) -> email.message.EmailMessage:
    """The checks a strict reader makes; the message, parsed. `utf8`: an SMTPUTF8 message,
    whose headers may be UTF-8 (RFC 6532)."""
    assert raw.endswith(b"\r\n")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998, line[:100]
        assert b"\r" not in line
        assert b"\n" not in line
    head = raw.split(b"\r\n\r\n", 1)[0]
    for word in ENCODED_WORD.finditer(head):
        assert len(word.group()) <= 75, word.group()  # RFC 2047 section 2
        before, after = head[word.start() - 1 : word.start()], head[word.end() : word.end() + 1]
        assert before.isspace(), head  # RFC 2047 section 5: separated by white space
        assert after.isspace() or after == b"", head
    if utf8:  # the parser reads bytes as ASCII: give it the text
        message = Parser(policy=email.policy.strict.clone(utf8=True)).parsestr(raw.decode("utf-8"))
    else:
        assert raw.isascii() or b"8bit" in raw  # 8-bit bytes only in an 8bit body
        message = BytesParser(policy=email.policy.strict).parsebytes(raw)  # raises on a message defect
    for part in message.walk():
        assert not part.defects, part.defects
        for name in part:
            defects = [d for d in part[name].defects if not (utf8 and isinstance(d, NonASCIILocalPartDefect))]
            assert not defects, (name, defects)
    return message


def decoded(raw: bytes, name: str) -> str:
    """A header's text as RFC 2047 reads it (white space between two encoded-words is not
    text; Python's address parser keeps it, so the compat32 decoder is used here)."""
    value = BytesParser(policy=email.policy.compat32).parsebytes(raw)[name]
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value)  # RFC 5322 section 2.2.3
    return str(make_header(decode_header(unfolded)))


# ---------------------------------------------------------------- every kind, strictly
def test_every_kind_of_email_is_clean_with_a_long_non_ascii_shop_and_product_name(make_app, smtp):
    app = make_app(
        SHOP_NAME=SHOP,
        MAIL_DEFAULT_SENDER=f"{SHOP} <shop@example.com>",
        SHOP_OWNER_EMAIL="owner@example.com",
    )
    with app.app_context():
        product = Product(sku="LONG", name=PRODUCT, description="ä" * 50, price_cents=1250, stock=6)
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    admin = signed_in_admin(app)

    # A guest (at a domain beyond ASCII) orders twice: confirmations, the owner's notices,
    # low stock (6 -> 4 -> 2).
    guest_email = "kunde@bücher.example"
    orders = []
    for _ in range(2):
        guest = Browser(app.test_client())
        guest.add(product_id, 2)
        assert guest.checkout(email=guest_email).status_code == 303
        with app.app_context():
            orders.append(db.session.execute(sa.select(sa.func.max(Order.id))).scalar_one())
    # The admin ships the first (order_shipped) and cancels the second (order_cancelled).
    first, second = (f"/admin/orders/{order_id}" for order_id in orders)
    assert admin.submit(first, f"{first}/status", {"to_status": "paid"}).status_code == 303
    assert (
        admin.submit(first, f"{first}/status", {"to_status": "shipped", "note": "Tracking: ÖPost 1"}).status_code == 303
    )
    assert admin.submit(second, f"{second}/status", {"to_status": "cancelled"}).status_code == 303
    with app.app_context():  # part of the first is refunded (refund_issued)
        refund_payment(orders[0], 100, reason="Ein Päckchen kam beschädigt an.")
    # The guest registers (claim_orders, confirm_email), someone tries the address again
    # (account_exists), and the guest forgets the password (password_reset).
    customer = signed_in_browser(app, guest_email)
    assert Browser(app.test_client()).register(guest_email).status_code == 303
    stranger = Browser(app.test_client())
    assert stranger.submit("/auth/reset", "/auth/reset", {"email": guest_email}).status_code == 303
    # On the account page: an address that has an account (email_change_taken), a new one
    # (email_change, then email_changed once its link is opened), deleting (delete_account).
    for new_email in ("owner@example.com", "neu@example.com"):
        form = {"new_email": new_email, "current_password": PASSWORD}
        assert customer.submit("/account", "/account/email", form).status_code == 303
    with app.app_context():
        body = db.session.execute(sa.select(OutboxEmail.text_body).where(OutboxEmail.kind == "email_change")).scalar()
    link = re.search(r"http://shop\.test(/account/email/\S+)", body).group(1)
    assert customer.submit(link, link).status_code == 303
    delete = {"current_password": PASSWORD}
    assert customer.submit("/account", "/account/delete", delete).status_code == 303

    def all_sent() -> list[OutboxEmail] | None:
        with app.app_context():
            rows = list(db.session.execute(sa.select(OutboxEmail)).scalars())
        return rows if rows and all(r.status == EmailStatus.SENT for r in rows) else None

    rows = wait_until(all_sent, 20, "every email to be sent")
    assert {r.kind for r in rows} == email_kinds(), "each template's email must be produced here"
    by_id = {m.message_id: m for m in smtp.wait_for(len(rows))}
    for row in rows:
        mail: ReceivedMail = by_id[row.message_id]
        message = assert_clean(mail.raw)
        assert str(message["Subject"]) == row.subject, row.kind
        assert decoded(mail.raw, "Subject") == row.subject
        assert decoded(mail.raw, "From") == f"{SHOP} <shop@example.com>"
        expected_to = row.recipient.replace("bücher", "xn--bcher-kva")  # the domain, as IDNA
        assert message["To"].addresses[0].addr_spec == expected_to
        assert mail.rcpt_tos == [expected_to]
        assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == row.text_body.replace("\r\n", "\n")
        assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == row.html_body.replace("\r\n", "\n")
        assert mail.raw.isascii() or "BODY=8BITMIME" in mail.mail_options
    subjects = {r.kind: r.subject for r in rows}
    assert PRODUCT in subjects["low_stock"]
    assert SHOP in subjects["order_confirmation"]


@settings(max_examples=300, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=255),
    shop=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120),
    body=st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000),
)
def test_any_subject_shop_name_and_body_come_out_clean_and_read_back(subject, shop, body):
    subject, shop = " ".join(subject.split()), " ".join(shop.split())  # as the outbox stores them
    if not subject or not shop:
        return
    message = ShopMessage(
        subject=subject,
        sender=Mailbox("shop@example.com", shop),
        recipient=Mailbox("a@example.com"),
        text_body=body,
        html_body=f"<p>{body}</p>",
        message_id="<1@example.com>",
        created_at=datetime(2026, 1, 2, 3, 4, 5),
    )
    for raw in (message.as_bytes(), message.as_bytes(seven_bit=True)):
        parsed = assert_clean(raw)
        assert decoded(raw, "Subject") == subject
        assert decoded(raw, "From") == (
            f"{shop} <shop@example.com>"
            if "=?" in shop or not shop.isascii()
            else email.utils.formataddr((shop, "shop@example.com"))
        )
        text = body.replace("\r\n", "\n").replace("\r", "\n")
        assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.as_bytes(seven_bit=True).isascii()


def test_the_default_sender_at_localhost_can_send(make_app, smtp):
    """Development's MAIL_DEFAULT_SENDER, Swiftcart <shop@localhost>: an address no form
    would take (a special-use domain), but the shop's own, and it must work."""
    from tests.test_outbox import queue_one

    app = make_app(MAIL_DEFAULT_SENDER="Swiftcart <shop@localhost>")
    queue_one(app)
    [mail] = smtp.wait_for(1)
    assert mail.mail_from == "shop@localhost"
    assert decoded(mail.raw, "From") == "Swiftcart <shop@localhost>"


def test_a_line_longer_than_998_octets_goes_quoted_printable(app, smtp):
    from tests.test_outbox import queue_one

    email_id = queue_one(app, text_body="ä" * 600, html_body="<p>" + "x" * 2000 + "</p>")
    [mail] = smtp.wait_for(1)
    assert_clean(mail.raw)
    assert mail.message.get_body(("plain",)).get_content() == "ä" * 600
    assert mail.message.get_body(("html",))["Content-Transfer-Encoding"] == "quoted-printable"
    assert email_id


# ---------------------------------------------------------------- addresses beyond ASCII
def guest_order(app, products, email_address: str):
    guest = Browser(app.test_client())
    guest.add(products["TEA"], 1)
    return guest.submit("/checkout", "/checkout", {**ADDRESS, "email": email_address})


def test_a_local_part_beyond_ascii_is_refused_at_the_forms_unless_smtputf8_is_on(app, products, smtp):
    response = guest_order(app, products, "jörg@example.com")
    assert response.status_code == 422
    assert "cannot send email to an address with letters like ö" in response.get_data(as_text=True)
    assert count(app, Order) == 0
    register = Browser(app.test_client()).register("jörg@example.com")
    assert register.status_code == 422
    assert "cannot send email to an address with letters like ö" in register.get_data(as_text=True)


def test_with_smtputf8_on_jorg_gets_the_confirmation_through_smtputf8(make_app, smtp):
    from tests.conftest import add_product

    app = make_app(MAIL_SMTPUTF8=True)
    guest = Browser(app.test_client())
    guest.add(add_product(app, "Jörg Tea", 450), 1)
    assert guest.checkout(email="jörg@example.com").status_code == 303
    [mail] = smtp.wait_for(1, to="jörg@example.com")
    assert "SMTPUTF8" in mail.mail_options
    message = assert_clean(mail.raw, utf8=True)
    assert message["To"].addresses[0].addr_spec == "jörg@example.com"
    assert "jörg@example.com".encode() in mail.raw  # as UTF-8, not an encoded-word (RFC 6532)


def test_smtputf8_needed_but_not_offered_fails_at_once_saying_why(make_app, smtp):
    from tests.test_outbox import queue_one, row

    app = make_app(MAIL_SMTPUTF8=True)
    smtp.offer(smtputf8=False)
    email_id = queue_one(app, recipient="jörg@example.com", dispatch=False)
    with app.app_context():
        from shop.mail.delivery import deliver

        assert deliver(email_id) == "failed"
    failed = row(app, email_id)
    assert "does not offer SMTPUTF8, needed for jörg@example.com" in failed.last_error
    assert smtp.received() == []


def test_8bit_content_is_declared_and_a_server_without_8bitmime_gets_7bit(make_app, smtp):
    from tests.test_outbox import queue_one

    app = make_app(SHOP_MAIL_SMTP_MAX_MESSAGES=1)  # a new connection, a new EHLO, for each email

    queue_one(app, prefix="eight", text_body="Grüße")
    [mail] = smtp.wait_for(1, subject_contains="eight")
    assert "BODY=8BITMIME" in mail.mail_options
    assert not mail.raw.isascii()
    smtp.offer(eightbitmime=False)
    queue_one(app, prefix="seven", text_body="Grüße")
    [mail] = smtp.wait_for(1, subject_contains="seven")
    assert "BODY=8BITMIME" not in mail.mail_options
    assert mail.raw.isascii()
    assert mail.message.get_body(("plain",)).get_content() == "Grüße"
