"""GET|POST /auth/register, GET|POST /auth/login, POST /auth/logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response
from wtforms.validators import ValidationError

from shop.auth import bp
from shop.auth.forms import (
    ClaimOrdersForm,
    LoginForm,
    LogoutForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
    check_not_like_email,
)
from shop.auth.service import (
    ClaimLinkInvalid,
    EmailTaken,
    authenticate,
    check_claim_token,
    claim_guest_orders,
    guest_orders_of,
    register_user,
    request_password_reset,
    set_password,
    user_for_reset_token,
)
from shop.extensions import limiter


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: `next` never leads elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def _sign_in(user, remember: bool = False) -> None:
    # A fresh session at sign-in (nothing set before it carries over but the cart), so a
    # session planted before login is not the one that ends up signed in.
    cart = session.get("cart")
    session.clear()
    if cart:
        session["cart"] = cart
    login_user(user, remember=remember)


@bp.route("/register", methods=["GET", "POST"])
def register() -> Response | tuple[str, int] | str:
    if current_user.is_authenticated:
        return redirect(url_for("catalog.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = register_user(form.email.data, form.password.data)
        except EmailTaken:
            form.email.errors = ["This email already has an account: sign in instead."]
            return render_template("auth/register.html", form=form), 409
        _sign_in(user)
        flash("Welcome! Your account is ready and you are signed in.", "success")
        return redirect(safe_next(request.args.get("next")) or url_for("catalog.index"), 303)
    return render_template("auth/register.html", form=form), 422 if form.errors else 200


def _form_email() -> str:
    """The account a login or reset attempt is about: the throttle's key per account."""
    return "account:" + (request.form.get("email") or "").strip().lower()[:254]


def _login_limit() -> str:
    return current_app.config["SHOP_LOGIN_LIMIT"]


def _failed_attempt(response: Response) -> bool:
    return response.status_code == 422


# Wrong passwords are counted per client address and per account: the 11th failure in a
# minute (SHOP_LOGIN_LIMIT) gets 429 whichever of the two is guessing.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed_attempt, scope="login-address")
@limiter.limit(_login_limit, methods=["POST"], deduct_when=_failed_attempt, key_func=_form_email, scope="login-account")
def login() -> Response | tuple[str, int] | str:
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("catalog.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            _sign_in(user, remember=form.remember.data)
            flash("You are signed in.", "success")
            return redirect(next_url or url_for("catalog.index"), 303)
        form.password.errors = ["Wrong email or password."]
        return render_template("auth/login.html", form=form, next_url=next_url), 422
    return render_template("auth/login.html", form=form, next_url=next_url), 422 if form.errors else 200


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"], key_func=_form_email, scope="reset-account")
@limiter.limit("20 per hour", methods=["POST"], scope="reset-address")
def reset_request() -> Response | tuple[str, int] | str:
    form = ResetRequestForm()
    if form.validate_on_submit():
        request_password_reset(form.email.data)
        flash(
            "If an account exists for that address, a link to choose a new password is on its way. "
            "It works for one hour.",
            "info",
        )
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int] | str:
    user = user_for_reset_token(token)
    if user is None:
        message = "This link is not valid: it may have expired or been used already. Ask for a new one."
        return render_template("auth/reset_invalid.html", message=message), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            check_not_like_email(form.password.data, user.email)
        except ValidationError as error:
            form.password.errors = [str(error)]
            return render_template("auth/reset_password.html", form=form, token=token), 422
        set_password(user, form.password.data)
        _sign_in(user)
        flash("Your password is changed and you are signed in.", "success")
        return redirect(url_for("catalog.index"), 303)
    return render_template("auth/reset_password.html", form=form, token=token), 422 if form.errors else 200


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
        flash(f"{claimed} earlier order{'s' if claimed != 1 else ''} added to My Orders.", "success")
        return redirect(url_for("orders.index"), 303)
    return render_template("auth/claim_orders.html", form=form, orders=guest_orders_of(current_user.email))


@bp.post("/logout")
def logout() -> Response:
    LogoutForm().validate_on_submit()  # the CSRF check itself is done by CSRFProtect
    logout_user()
    session.clear()  # the cart too: the next person at this computer starts afresh
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.index"), 303)
