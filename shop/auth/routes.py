"""GET|POST /auth/register, /auth/login, /auth/reset, /auth/reset/<token>,
/auth/confirm/<token>, /auth/claim-orders/<token>; POST /auth/logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import after_this_request, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter.util import get_remote_address
from flask_login import COOKIE_NAME, current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from shop.auth import bp
from shop.auth.claims import ClaimLinkInvalid, check_claim_token, claim_guest_orders, guest_orders_of
from shop.auth.forms import (
    ClaimOrdersForm,
    ConfirmEmailForm,
    LoginForm,
    LogoutForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    check_not_like_email,
)
from shop.auth.links import LinkInvalid
from shop.auth.service import (
    authenticate,
    complete_password_reset,
    confirm_address,
    find_user,
    register_shopper,
    request_password_reset,
    user_for_confirm_token,
    user_for_reset_token,
)
from shop.auth.throttle import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_DAYS,
    TooManyAttempts,
    count_login_attempt,
    device_cookie_after_sign_in,
    forget_attempts,
    is_known_device,
)
from shop.extensions import get_settings, limiter
from shop.models import User


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: `next` never leads elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def _sign_in(user: User, remember: bool = False) -> None:
    """Sign this browser in as `user` (with the account's current session token).

    A fresh session (nothing set before it carries over but the cart), so a session planted
    before sign-in is not the one that ends up signed in. A remember cookie left from
    before is deleted unless a new one replaces it: it must not bring back whoever it named
    once this session ends. The browser gets the account's known-device cookie (throttle.py).
    """
    cart = session.get("cart")
    remember_cookie = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)
    session.clear()
    if cart:
        session["cart"] = cart
    login_user(user, remember=remember)
    if not remember and remember_cookie in request.cookies:
        session["_remember"] = "clear"  # Flask-Login deletes the cookie after this request
    device_cookie = device_cookie_after_sign_in(request.cookies.get(DEVICE_COOKIE), user)

    @after_this_request
    def set_device_cookie(response: Response) -> Response:
        response.set_cookie(
            DEVICE_COOKIE,
            device_cookie,
            max_age=DEVICE_COOKIE_DAYS * 24 * 3600,
            path=url_for("auth.login").rsplit("/", 1)[0],  # sent to /auth/... only
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
        return response


def _register_limit() -> str:
    return get_settings().register_limit


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], scope="register-address")
def register() -> Response | tuple[str, int] | str:
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        user = register_shopper(form.email.data, form.password.data)
        if user is not None:
            _sign_in(user)
        # The same answer whether the address was new or had an account (whose owner is
        # emailed instead): the form does not tell a stranger who has an account here.
        flash(_("Check your inbox at %(email)s to confirm your address.", email=form.email.data), "info")
        return redirect(safe_next(request.args.get("next")) or url_for("catalog.index"), 303)
    return render_template("auth/register.html", form=form), 422 if form.errors else 200


def _too_many_attempts(refused: TooManyAttempts) -> tuple[str, int, dict[str, str]]:
    minutes = -(-refused.retry_after // 60)
    message = ngettext(
        "Too many sign-in attempts. Please wait a minute and try again, "
        "or choose a new password through “Forgotten your password?”.",
        "Too many sign-in attempts. Please wait %(num)d minutes and try again, "
        "or choose a new password through “Forgotten your password?”.",
        max(minutes, 1),
    )
    page = render_template("errors/error.html", code=429, title=_("Too many attempts"), message=message)
    return page, 429, {"Retry-After": str(refused.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("catalog.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email, address = form.email.data, get_remote_address()
        known = is_known_device(request.cookies.get(DEVICE_COOKIE), find_user(email))
        try:
            count_login_attempt(email, address, known_device=known)  # before the password is checked
        except TooManyAttempts as refused:
            return _too_many_attempts(refused)
        user = authenticate(email, form.password.data)
        if user is not None:
            forget_attempts(email, address)
            _sign_in(user, remember=form.remember.data)
            flash(_("You are signed in."), "success")
            return redirect(next_url or url_for("catalog.index"), 303)
        form.password.errors = [_("Wrong email or password.")]
        return render_template("auth/login.html", form=form, next_url=next_url), 422
    return render_template("auth/login.html", form=form, next_url=next_url), 422 if form.errors else 200


def _form_email() -> str:
    """The account a reset request is about: the throttle's key per account."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"], key_func=_form_email, scope="reset-account")
@limiter.limit("20 per hour", methods=["POST"], scope="reset-address")
def reset_request() -> Response | tuple[str, int] | str:
    form = ResetRequestForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data)
        flash(
            _(
                "If an account exists for that address, a link to choose a new password is on its way. "
                "It works for one hour."
            ),
            "info",
        )
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int] | str:
    user = user_for_reset_token(token)
    if user is None:
        message = _("This link is not valid: it may have expired or been used already. Ask for a new one.")
        return render_template("auth/reset_invalid.html", message=message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            check_not_like_email(form.password.data, user.email)
        except ValidationError as error:
            form.password.errors = [str(error)]
            return render_template("auth/reset_password.html", form=form, token=token), 422
        complete_password_reset(user, form.password.data)  # every other session of the account ends
        _sign_in(user)  # this one goes on, with the new session token
        flash(_("Your password is changed and you are signed in. Every other session was signed out."), "success")
        return redirect(url_for("catalog.index"), 303)
    return render_template("auth/reset_password.html", form=form, token=token), 422 if form.errors else 200


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> Response | tuple[str, int] | str:
    """The link in the "confirm your address" email: a page with a button (a mail scanner
    that fetches the link confirms nothing), and the confirmation on POST."""
    try:
        user = user_for_confirm_token(token)
    except LinkInvalid as error:
        message = _("%(why)s If you registered recently, sign in: your account works without it.", why=error)
        return render_template("errors/error.html", code=400, title=_("Link not valid"), message=message), 400
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        confirm_address(token)
        flash(_("Thank you: %(email)s is confirmed.", email=user.email), "success")
        return redirect(url_for("catalog.index"), 303)
    return render_template("auth/confirm_email.html", form=form, email=user.email, confirmed=user.email_confirmed_at)


@bp.route("/claim-orders/<token>", methods=["GET", "POST"])
@login_required
def claim_orders(token: str) -> Response | tuple[str, int] | str:
    """The link from the "add your earlier orders" email: shows them, and adds them on POST."""
    try:
        check_claim_token(current_user, token)
    except ClaimLinkInvalid as error:
        return render_template("errors/error.html", code=400, message=str(error)), 400
    form = ClaimOrdersForm()
    if form.validate_on_submit():
        claimed = claim_guest_orders(current_user, token)
        flash(
            ngettext(
                "%(num)d earlier order added to My Orders.", "%(num)d earlier orders added to My Orders.", claimed
            ),
            "success",
        )
        return redirect(url_for("orders.index"), 303)
    return render_template("auth/claim_orders.html", form=form, orders=guest_orders_of(current_user.email))


@bp.post("/logout")
def logout() -> Response:
    LogoutForm().validate_on_submit()  # the CSRF check itself is done by CSRFProtect
    # Emptied first (the cart too: the next person at this computer starts afresh), then
    # signed out: logout_user() marks the remember cookie for deletion in the session,
    # and clearing the session after it would lose that mark and keep the cookie alive.
    session.clear()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("catalog.index"), 303)
