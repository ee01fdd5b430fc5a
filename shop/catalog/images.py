"""Product images: checked by their content, size-limited, stored under generated names.

The file's own name and Content-Type are whatever the browser (or an attacker) says, so
neither is trusted: the first bytes must be those of a PNG, JPEG, GIF or WebP image, and the
file is saved as <random>.<type> in the instance folder, outside the code.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import current_app
from werkzeug.datastructures import FileStorage

from shop.files import private_folder, write_private_file

MAX_IMAGE_BYTES = 2 * 1024 * 1024
SIGNATURES = {  # first bytes -> file type (SVG is refused: it can carry scripts)
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}


class ImageRefused(ValueError):
    """Not an image we accept; the message says why."""


def image_folder() -> Path:
    """Where product images are kept: <instance>/uploads/products, made private if new."""
    return private_folder(Path(current_app.instance_path) / "uploads" / "products")


def image_type(head: bytes) -> str | None:
    """'png', 'jpg', 'gif' or 'webp' from a file's first 16 bytes; None for anything else."""
    for signature, kind in SIGNATURES.items():
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def store_product_image(upload: FileStorage) -> str:
    """Save an uploaded image; the generated file name to keep on the product. Raises
    ImageRefused for an empty file, one over MAX_IMAGE_BYTES, or one that is not a PNG,
    JPEG, GIF or WebP image by its first bytes."""
    data = upload.stream.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"The image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB.")
    if not data:
        raise ImageRefused("The file is empty.")
    kind = image_type(data[:16])
    if kind is None:
        raise ImageRefused("That is not a PNG, JPEG, GIF or WebP image.")
    name = f"{secrets.token_hex(16)}.{kind}"
    write_private_file(image_folder() / name, data)
    return name


def delete_product_image(name: str | None) -> None:
    """Delete a stored image by its name (None, or one already gone: nothing to do)."""
    if name:
        (image_folder() / Path(name).name).unlink(missing_ok=True)
