"""GET|POST /auth/register, GET|POST /auth/login, POST /auth/logout."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from shop.auth import bp
from shop.auth.forms import LoginForm, LogoutForm, RegisterForm
from shop.auth.service import EmailTaken, authenticate, register_user


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


@bp.route("/login", methods=["GET", "POST"])
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


@bp.post("/logout")
def logout() -> Response:
    LogoutForm().validate_on_submit()  # the CSRF check itself is done by CSRFProtect
    logout_user()
    session.clear()  # the cart too: the next person at this computer starts afresh
    flash("You are signed out.", "info")
    return redirect(url_for("catalog.index"), 303)
