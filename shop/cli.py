"""Commands for the owner: `flask --app wsgi shop ...` and `flask --app wsgi outbox ...`."""

from __future__ import annotations

import signal
from datetime import timedelta
from importlib import resources
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import gettext as _

from config import MAX_DAYS
from shop.auth.service import EmailTaken, find_user, make_admin, register_user
from shop.backup import BackupError, backup_sqlite, export_data, import_data
from shop.catalog.importer import ImportFailed, import_products
from shop.catalog.photos import add_demo_photos
from shop.catalog.service import count_products
from shop.clock import shop_day_of
from shop.extensions import db, get_settings
from shop.files import open_private
from shop.forms import MIN_PASSWORD_LENGTH
from shop.mail import outbox
from shop.mail.breaker import describe, server_unreachable
from shop.mail.dispatcher import MailPool, get_dispatcher
from shop.models import EmailStatus, OutboxEmail, Role, utcnow
from shop.orders.refunds import complete_pending_refunds
from shop.orders.returns import complete_pending_returns
from shop.orders.unpaid import cancel_unpaid_orders
from shop.staff import RoleRefused, set_role

shop_cli = AppGroup("shop", help="Catalogue and accounts.")
outbox_cli = AppGroup("outbox", help="The email outbox: inspect, retry, send.")


@shop_cli.command("import-products")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_products_command(csv_file: Path) -> None:
    """Upsert products by sku from CSV_FILE (sku,name,description,price,stock,category;
    parent_sku and option for variants, and version, as the admin's Export CSV writes them).

    A bad row is reported with its line number and nothing from the file is written.
    """
    try:
        # newline="": line breaks inside a quoted cell stay as they are (the csv module's rule)
        with csv_file.open(encoding="utf-8-sig", newline="") as lines:
            result = import_products(lines, by=None)
    except ImportFailed as failure:
        for error in failure.errors:
            click.echo(f"{csv_file}: {error}", err=True)
        raise click.ClickException(_("%(count)d bad row(s); nothing was imported", count=len(failure.errors))) from None
    except UnicodeDecodeError:
        raise click.ClickException(_("%(file)s is not UTF-8 text; save it as CSV (UTF-8)", file=csv_file)) from None
    click.echo(
        _("imported %(created)d new and updated %(updated)d product(s)", created=result.created, updated=result.updated)
    )


@shop_cli.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo catalogue, if the shop has no products yet."""
    if count_products():
        click.echo("the catalogue has products already; demo catalogue not loaded")
        return
    demo = resources.files("shop.catalog").joinpath("demo_products.csv")
    with demo.open("r", encoding="utf-8", newline="") as lines:
        result = import_products(lines, by=None)
    photos = add_demo_photos()
    click.echo(f"loaded the demo catalogue: {result.created} products, {photos} photos")


@shop_cli.command("create-admin")
@click.argument("email")
@click.password_option("--password", prompt="Password for the admin", help="prompted for when not given")
def create_admin_command(email: str, password: str) -> None:
    """Create an admin account, or make an existing account an admin."""
    user = find_user(email)
    if user is not None:
        make_admin(user)
        click.echo(_("%(email)s is now an admin", email=user.email))
        return
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(_("the password needs at least %(least)d characters", least=MIN_PASSWORD_LENGTH))
    try:
        user = register_user(email, password, role=Role.OWNER)
    except EmailTaken:
        raise click.ClickException(
            _("%(email)s was registered meanwhile; run the command again", email=email)
        ) from None
    click.echo(_("created admin %(email)s", email=user.email))


@shop_cli.command("create-staff")
@click.argument("email")
@click.password_option("--password", prompt="Password for the staff member", help="prompted for when not given")
def create_staff_command(email: str, password: str) -> None:
    """Create a staff account (orders and their emails; no revenue, prices, vouchers or
    customers' data), or make an existing customer account a staff member."""
    user = find_user(email)
    if user is not None:
        try:
            set_role(user.email, Role.STAFF, by=None)
        except RoleRefused as refused:
            raise click.ClickException(str(refused)) from None
        click.echo(f"{user.email} is now a staff member")
        return
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    try:
        user = register_user(email, password, role=Role.STAFF)
    except EmailTaken:
        raise click.ClickException(f"{email} was registered meanwhile; run the command again") from None
    click.echo(f"created staff member {user.email}")


@shop_cli.command("cancel-unpaid")
@click.option("--days", type=click.IntRange(min=1, max=MAX_DAYS), help="default: SHOP_UNPAID_CANCEL_DAYS (7)")
def cancel_unpaid_command(days: int | None) -> None:
    """Cancel orders still unpaid past their payment method's deadline (bank transfer:
    SHOP_UNPAID_CANCEL_DAYS; --days for all): restock them, email the customers. Each order
    once, however often it runs: made for a daily cron job."""
    cancelled = cancel_unpaid_orders(days)
    for order in cancelled:
        click.echo(
            _(
                "cancelled %(number)s (%(email)s), unpaid since %(day)s",
                number=order.number,
                email=order.email,
                day=shop_day_of(order.created_at),
            )
        )
    days = days or get_settings().unpaid_cancel_days
    click.echo(_("%(count)d unpaid order(s) older than %(days)d days cancelled", count=len(cancelled), days=days))
    if cancelled and get_dispatcher().mode == "thread":
        get_dispatcher().drain()  # send the cancellation emails before the command exits


@shop_cli.command("complete-refunds")
def complete_refunds_command() -> None:
    """Finish refunds a process left pending when it died between asking the payment
    provider and recording the answer (same idempotency key: never refunds twice), then
    the returns such a death left pending. Made for the daily cron job beside cancel-unpaid."""
    done = complete_pending_refunds()
    for refund in done:
        click.echo(f"refund {refund.id} of order {refund.order.number} completed")
    click.echo(f"{len(done)} pending refund(s) completed")
    returns_done, returns_dropped = complete_pending_returns()
    click.echo(f"{returns_done} pending return(s) completed, {returns_dropped} without a refund deleted")
    if done and get_dispatcher().mode == "thread":
        get_dispatcher().drain()


@shop_cli.command("backup")
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup_command(target: Path | None) -> None:
    """Copy the SQLite database, safely while the shop runs (default: instance/backups/)."""
    if target is None:
        target = Path(current_app.instance_path) / "backups" / f"shop-{utcnow():%Y%m%d-%H%M%S}.db"
    try:
        backup_sqlite(target)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up to {target} ({target.stat().st_size} bytes)")


@shop_cli.command("export")
@click.argument("target", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
def export_command(target: Path) -> None:
    """Write every table to a JSON file, readable by you only (to move to another database:
    `shop import`); - writes to standard output."""
    if str(target) == "-":
        counts = export_data(click.get_text_stream("stdout"))
    else:
        with open_private(target, "w", encoding="utf-8") as out:
            counts = export_data(out)
    click.echo(f"exported {sum(counts.values())} rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))


@shop_cli.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def import_command(source) -> None:
    """Load a `shop export` file into this database, which must be migrated and empty."""
    try:
        counts = import_data(source)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"imported {sum(counts.values())} rows: " + ", ".join(f"{t} {n}" for t, n in counts.items()))


@outbox_cli.command("status")
def outbox_status_command() -> None:
    """Counts by state and the age of the oldest pending email."""
    counts = outbox.counts_by_status()
    for status in EmailStatus.ALL:
        click.echo(f"{status:8} {counts[status]}")
    oldest = outbox.oldest_pending_created_at()
    age = f"{(utcnow() - oldest).total_seconds():.0f} s" if oldest else "-"
    click.echo(f"oldest pending: {age}")
    click.echo(f"mail server {describe(server_unreachable(get_settings()))}")


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(EmailStatus.ALL), help="only emails in this state")
@click.option("--limit", default=50, show_default=True)
def outbox_list_command(status: str | None, limit: int) -> None:
    """The newest emails: id, state, attempts, recipient, subject, last error."""
    statement = sa.select(OutboxEmail).order_by(OutboxEmail.id.desc()).limit(limit)
    if status:
        statement = statement.where(OutboxEmail.status == status)
    for email in db.session.execute(statement).scalars():
        error = f"  [{email.last_smtp_code or ''} {email.last_error}]" if email.last_error else ""
        click.echo(f"{email.id:6} {email.status:8} {email.attempts}x  {email.recipient}  {email.subject}{error}")


@outbox_cli.command("retry")
@click.argument("email_ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="every failed email")
def outbox_retry_command(email_ids: tuple[int, ...], all_failed: bool) -> None:
    """Send failed emails again (they become pending, due now)."""
    if bool(email_ids) == all_failed:
        raise click.UsageError("give email ids or --all-failed")
    ids = outbox.retry_failed(None if all_failed else list(email_ids))
    not_failed = sorted(set(email_ids) - set(ids))
    if not_failed:
        click.echo(f"not failed, left alone: {', '.join(map(str, not_failed))}", err=True)
    click.echo(f"{len(ids)} email(s) queued again" + (f": {', '.join(map(str, ids))}" if ids else ""))


@outbox_cli.command("drain")
@click.option("--loop", is_flag=True, help="keep going, as a worker process, until stopped")
def outbox_drain_command(loop: bool) -> None:
    """Send every email due now, then exit (with --loop: keep sending as they fall due)."""
    pool = MailPool(current_app._get_current_object())  # whatever SHOP_MAIL_DISPATCH says
    interrupted = []

    def on_sigterm(*_: object) -> None:  # systemd stopping a worker: finish the sends in progress
        interrupted.append(True)
        pool.request_stop()

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        pool.drain(loop=loop)  # stops the pool however it ends, Ctrl+C included
    except KeyboardInterrupt:
        interrupted.append(True)
    if interrupted:
        click.echo("stopped: emails not yet claimed stay pending")
    done = pool.recorder.outcomes
    click.echo(
        f"this drain: sent {done['sent']}, to retry {done['retry']}, failed {done['failed']}; "
        f"outbox now: pending {outbox.counts_by_status()['pending']} ({_next_due()})"
    )


def _next_due() -> str:
    due = outbox.next_due_at()
    if due is None:
        return "none waiting"
    wait = due - utcnow()
    return "next due now" if wait <= timedelta(0) else f"next due in {wait.total_seconds():.0f} s"


def register_commands(app: Flask) -> None:
    app.cli.add_command(shop_cli)
    app.cli.add_command(outbox_cli)
