"""A product's photos as rows: add, describe (alt text), reorder, remove. The files are
made by shop/catalog/images.py; a file is removed when no photo names its key any more."""

from __future__ import annotations

from importlib import resources

import sqlalchemy as sa

from shop.catalog.images import ProcessedImage, delete_image_files, store_product_image
from shop.database import transaction
from shop.extensions import db
from shop.models import Product, ProductImage

ALT_TEXT_MAX_LENGTH = 250


class PhotoNotFound(Exception):
    """No such product, or no such photo of it."""


def _product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise PhotoNotFound(product_id)
    return product


def _photo(product_id: int, image_id: int) -> ProductImage:
    image = db.session.get(ProductImage, image_id)
    if image is None or image.product_id != product_id:
        raise PhotoNotFound(image_id)
    return image


def add_photo(product_id: int, image: ProcessedImage, alt_text: str) -> ProductImage:
    """Add a stored upload as the product's last photo. Raises PhotoNotFound."""
    with transaction():
        product = _product(product_id)
        position = max((i.position for i in product.images), default=-1) + 1
        photo = ProductImage(
            product=product,
            position=position,
            alt_text=alt_text.strip()[:ALT_TEXT_MAX_LENGTH],
            key=image.key,
            width=image.width,
            height=image.height,
            fallback=image.fallback,
        )
        db.session.add(photo)
    return photo


def describe_photo(product_id: int, image_id: int, alt_text: str) -> None:
    """Set a photo's alt text (what a screen reader says, and a search engine reads)."""
    with transaction():
        _photo(product_id, image_id).alt_text = alt_text.strip()[:ALT_TEXT_MAX_LENGTH]


def move_photo(product_id: int, image_id: int, step: int) -> None:
    """Move a photo one place earlier (step -1) or later (+1); the first is the one the
    catalogue shows. Positions are renumbered 0, 1, 2, ... Raises PhotoNotFound."""
    with transaction():
        photo = _photo(product_id, image_id)
        photos = list(_product(product_id).images)
        index = photos.index(photo)
        target = min(max(index + step, 0), len(photos) - 1)
        photos.insert(target, photos.pop(index))
        for position, each in enumerate(photos):
            each.position = position


def remove_photo(product_id: int, image_id: int) -> None:
    """Remove a photo, and its files unless another photo shares them. Raises PhotoNotFound."""
    with transaction():
        photo = _photo(product_id, image_id)
        key, width, fallback = photo.key, photo.width, photo.fallback
        db.session.delete(photo)
    forget_unused_files(key, width, fallback)


def forget_unused_files(key: str, width: int, fallback: str) -> None:
    """Delete the files of `key` when no photo names it (after a removal, or an upload
    whose product could not be saved)."""
    if db.session.execute(sa.select(ProductImage.id).where(ProductImage.key == key).limit(1)).first() is None:
        delete_image_files(key, width, fallback)


def forget_upload(image: ProcessedImage) -> None:
    forget_unused_files(image.key, image.width, image.fallback)


def add_demo_photos() -> int:
    """Give each demo product (by SKU) without photos its picture from
    shop/catalog/demo_images/<SKU>.webp (drawn by tools/draw_demo_images.py), through the
    same pipeline as an upload; how many were added."""
    pictures = resources.files("shop.catalog").joinpath("demo_images")
    products = db.session.execute(sa.select(Product).where(~Product.images.any()).order_by(Product.id)).scalars()
    added = 0
    for product in list(products):
        picture = pictures.joinpath(f"{product.sku}.webp")
        if picture.is_file():
            add_photo(product.id, store_product_image(picture.read_bytes()), product.name)
            added += 1
    return added
