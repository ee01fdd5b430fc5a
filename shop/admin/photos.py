"""The owner's page for a product's photos: /admin/products/<id>/photos (upload, alt text,
order, removal). Routes on the admin blueprint (the owner's: shop/admin/access.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import Length, Optional

from shop.admin import bp
from shop.admin.forms import ActionForm
from shop.catalog.images import ImageRefused, read_upload, store_product_image
from shop.catalog.photos import (
    ALT_TEXT_MAX_LENGTH,
    PhotoNotFound,
    add_photo,
    describe_photo,
    forget_upload,
    move_photo,
    remove_photo,
)
from shop.extensions import db
from shop.models import Product

ALT_HINT = _l("What the photo shows, for people who cannot see it (and for search engines). Empty: the product's name.")


def _alt_text_field() -> StringField:
    return StringField(
        _l("Alt text"),
        filters=[lambda v: v.strip() if isinstance(v, str) else v],
        validators=[Optional(), Length(max=ALT_TEXT_MAX_LENGTH)],
    )


class PhotoUploadForm(FlaskForm):
    photo = FileField(_l("Photo (PNG, JPEG, GIF or WebP, up to 10 MB)"))
    alt_text = _alt_text_field()


class PhotoForm(FlaskForm):
    alt_text = _alt_text_field()


@bp.route("/products/<id:product_id>/photos", methods=["GET", "POST"])
def product_photos(product_id: int) -> Response | tuple[str, int]:
    product = db.get_or_404(Product, product_id)
    form = PhotoUploadForm()
    if form.validate_on_submit():
        if not form.photo.data:
            form.photo.errors = [_("Choose a photo to upload.")]
        else:
            try:
                stored = store_product_image(read_upload(form.photo.data.stream))
            except ImageRefused as error:
                form.photo.errors = [str(error)]
            else:
                try:
                    add_photo(product.id, stored, form.alt_text.data or product.name)
                except PhotoNotFound:
                    forget_upload(stored)
                    abort(404)
                for note in stored.notes:
                    flash(note, "info")
                flash(_("Photo added."), "success")
                return redirect(url_for("admin.product_photos", product_id=product.id), 303)
    status = 422 if form.errors else 200
    return render_template(
        "admin/product_photos.html",
        product=product,
        form=form,
        photo_form=PhotoForm(formdata=None),
        action_form=ActionForm(),
        alt_hint=ALT_HINT,
    ), status


@bp.post("/products/<id:product_id>/photos/<id:image_id>")
def product_photo(product_id: int, image_id: int) -> Response:
    """Save a photo's alt text, or move it (`move`: "up" or "down")."""
    form = PhotoForm()
    if not form.validate_on_submit():
        abort(422, _("The alt text: %(problem)s", problem=form.alt_text.errors[0]) if form.alt_text.errors else None)
    move = request.form.get("move", "")
    try:
        if move in ("up", "down"):
            move_photo(product_id, image_id, -1 if move == "up" else 1)
            flash(_("Photo moved."), "success")
        else:
            describe_photo(product_id, image_id, form.alt_text.data or "")
            flash(_("Alt text saved."), "success")
    except PhotoNotFound:
        abort(404)
    return redirect(url_for("admin.product_photos", product_id=product_id), 303)


@bp.post("/products/<id:product_id>/photos/<id:image_id>/delete")
def product_photo_delete(product_id: int, image_id: int) -> Response:
    ActionForm().validate_on_submit()
    try:
        remove_photo(product_id, image_id)
    except PhotoNotFound:
        abort(404)
    flash(_("Photo removed."), "success")
    return redirect(url_for("admin.product_photos", product_id=product_id), 303)
