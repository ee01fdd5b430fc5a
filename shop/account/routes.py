"""GET /account; POST /account/email, /account/password, /account/delete;
/account/addresses/...; the emailed links /account/email/<token>, /account/delete/<token>."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter.util import get_remote_address
from flask_login import COOKIE_NAME, current_user, login_required, logout_user
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from shop.account import bp
from shop.account.forms import AddressForm, ConfirmForm, DeleteAccountForm, EmailChangeForm, PasswordChangeForm
from shop.account.service import (
    AddressNotFound,
    OwnerAccount,
    TooManyAddresses,
    address_of,
    addresses_of,
    check_deletion_token,
    complete_email_change,
    delete_account,
    delete_address,
    email_change_of,
    make_default_address,
    request_account_deletion,
    request_email_change,
    save_address,
)
from shop.auth.forms import check_not_like_email
from shop.auth.links import LinkInvalid
from shop.auth.routes import _sign_in  # the one way a browser is signed in (fresh session, device cookie)
from shop.auth.service import EmailTaken, WrongPassword
from shop.auth.service import change_password as replace_password
from shop.auth.throttle import DEVICE_COOKIE, TooManyAttempts, count_login_attempt, is_known_device

Page = Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str


def _page(status: int = 200, **forms: Any) -> tuple[str, int]:
    values = {
        "email_form": EmailChangeForm(formdata=None),
        "password_form": PasswordChangeForm(formdata=None),
        "delete_form": DeleteAccountForm(formdata=None),
        "confirm_form": ConfirmForm(),
        **forms,
    }
    return render_template("account/index.html", addresses=addresses_of(current_user), **values), status


def _count_password_attempt() -> None:
    """A current password typed here is a sign-in attempt (shop/auth/throttle.py): counted
    against the same limits, before it is checked. Raises TooManyAttempts."""
    known = is_known_device(request.cookies.get(DEVICE_COOKIE), current_user)
    count_login_attempt(current_user.email, get_remote_address(), known_device=known)


def _too_many(refused: TooManyAttempts) -> tuple[str, int, dict[str, str]]:
    minutes = -(-refused.retry_after // 60)
    message = ngettext(
        "Too many password attempts. Please wait a minute.",
        "Too many password attempts. Please wait %(num)d minutes.",
        max(minutes, 1),
    )
    page = render_template("errors/error.html", code=429, title=_("Too many attempts"), message=message)
    return page, 429, {"Retry-After": str(refused.retry_after)}


def _remembered() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies


@bp.get("")
@login_required
def index() -> tuple[str, int]:
    return _page()


@bp.post("/email")
@login_required
def change_email() -> Page:
    form = EmailChangeForm()
    if not form.validate_on_submit():
        return _page(422, email_form=form)
    if form.new_email.data == current_user.email:
        form.new_email.errors = [_("That is the address the account has now.")]
        return _page(422, email_form=form)
    try:
        _count_password_attempt()
        request_email_change(current_user, form.current_password.data, form.new_email.data)
    except TooManyAttempts as refused:
        return _too_many(refused)
    except WrongPassword:
        form.current_password.errors = [_("That is not your current password.")]
        return _page(422, email_form=form)
    flash(
        _(
            "Check your inbox at %(email)s: your account moves to that address when you open the link "
            "in it. Until then, nothing changes.",
            email=form.new_email.data,
        ),
        "info",
    )
    return redirect(url_for("account.index"), 303)


@bp.route("/email/<token>", methods=["GET", "POST"])
def confirm_email_change(token: str) -> Page:
    """The link sent to the new address: a page with a button, and the change on POST."""
    try:
        user, new_email = email_change_of(token)
    except LinkInvalid as error:
        return render_template("errors/error.html", code=400, title=_("Link not valid"), message=str(error)), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        signed_in_here = current_user.is_authenticated and current_user.id == user.id
        remember = _remembered()
        try:
            user = complete_email_change(token)
        except LinkInvalid as error:
            return render_template("errors/error.html", code=400, title=_("Link not valid"), message=str(error)), 400
        except EmailTaken:
            message = _("%(email)s has an account of its own now, so this one cannot move there.", email=new_email)
            return render_template("errors/error.html", code=409, title=_("Address taken"), message=message), 409
        if signed_in_here:
            _sign_in(user, remember=remember)  # every other session ended; this one goes on
            flash(
                _("Your account's address is now %(email)s. Every other session was signed out.", email=user.email),
                "success",
            )
            return redirect(url_for("account.index"), 303)
        flash(_("Your account's address is now %(email)s: sign in with it.", email=user.email), "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("account/confirm_email_change.html", form=form, old_email=user.email, new_email=new_email)


@bp.post("/password")
@login_required
def change_password() -> Page:
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _page(422, password_form=form)
    try:
        check_not_like_email(form.new_password.data, current_user.email)
    except ValidationError as error:
        form.new_password.errors = [str(error)]
        return _page(422, password_form=form)
    user, remember = current_user._get_current_object(), _remembered()
    try:
        _count_password_attempt()
        replace_password(user, form.current_password.data, form.new_password.data)
    except TooManyAttempts as refused:
        return _too_many(refused)
    except WrongPassword:
        form.current_password.errors = [_("That is not your current password.")]
        return _page(422, password_form=form)
    _sign_in(user, remember=remember)  # the new session token: this browser stays signed in
    flash(_("Your password is changed. Every other session was signed out."), "success")
    return redirect(url_for("account.index"), 303)


# ---------------------------------------------------------------- address book
def _address_page(form: AddressForm, address_id: int | None, status: int = 200) -> tuple[str, int]:
    return render_template("account/address.html", form=form, address_id=address_id), status


@bp.route("/addresses/new", methods=["GET", "POST"])
@login_required
def address_new() -> Page:
    form = AddressForm()
    if not form.validate_on_submit():
        return _address_page(form, None, 422 if form.errors else 200)
    try:
        save_address(current_user, None, form.values(), form.is_default.data)
    except TooManyAddresses:
        form.full_name.errors = [_("Your address book is full: delete an address first.")]
        return _address_page(form, None, 409)
    flash(_("Address saved."), "success")
    return redirect(url_for("account.index"), 303)


@bp.route("/addresses/<id:address_id>", methods=["GET", "POST"])
@login_required
def address_edit(address_id: int) -> Page:
    try:
        address = address_of(current_user, address_id)
    except AddressNotFound:
        return render_template("errors/error.html", code=404, message=_("There is no such address.")), 404
    form = AddressForm(obj=address)
    if not form.validate_on_submit():
        return _address_page(form, address_id, 422 if form.errors else 200)
    save_address(current_user, address_id, form.values(), form.is_default.data)
    flash(_("Address saved."), "success")
    return redirect(url_for("account.index"), 303)


@bp.post("/addresses/<id:address_id>/default")
@login_required
def address_default(address_id: int) -> Page:
    ConfirmForm().validate_on_submit()
    try:
        make_default_address(current_user, address_id)
    except AddressNotFound:
        return render_template("errors/error.html", code=404, message=_("There is no such address.")), 404
    flash(_("Checkout will fill in that address."), "success")
    return redirect(url_for("account.index"), 303)


@bp.post("/addresses/<id:address_id>/delete")
@login_required
def address_delete(address_id: int) -> Page:
    ConfirmForm().validate_on_submit()
    try:
        delete_address(current_user, address_id)
    except AddressNotFound:
        return render_template("errors/error.html", code=404, message=_("There is no such address.")), 404
    flash(_("Address deleted."), "success")
    return redirect(url_for("account.index"), 303)


# ---------------------------------------------------------------- deleting the account
@bp.post("/delete")
@login_required
def delete() -> Page:
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return _page(422, delete_form=form)
    try:
        _count_password_attempt()
        request_account_deletion(current_user, form.current_password.data)
    except TooManyAttempts as refused:
        return _too_many(refused)
    except WrongPassword:
        form.current_password.errors = [_("That is not your current password.")]
        return _page(422, delete_form=form)
    except OwnerAccount:
        form.current_password.errors = [_("This is an owner's account: it cannot be deleted here.")]
        return _page(409, delete_form=form)
    flash(
        _("To delete your account, open the link we sent to %(email)s (it works for a day).", email=current_user.email),
        "info",
    )
    return redirect(url_for("account.index"), 303)


@bp.route("/delete/<token>", methods=["GET", "POST"])
@login_required
def confirm_deletion(token: str) -> Page:
    """The emailed link: a page that says what goes and what stays, and the deletion on POST."""
    try:
        check_deletion_token(current_user, token)
    except LinkInvalid as error:
        return render_template("errors/error.html", code=400, title=_("Link not valid"), message=str(error)), 400
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            delete_account(current_user, token)
        except LinkInvalid as error:
            return render_template("errors/error.html", code=400, title=_("Link not valid"), message=str(error)), 400
        except OwnerAccount:
            message = _("This is an owner's account: it cannot be deleted here.")
            return render_template("errors/error.html", code=409, message=message), 409
        session.clear()
        logout_user()  # after clear(): it marks the remember cookie for deletion (see auth.logout)
        flash(_("Your account is deleted, and your name and addresses are erased from your orders."), "info")
        return redirect(url_for("catalog.index"), 303)
    return render_template("account/confirm_deletion.html", form=form)
