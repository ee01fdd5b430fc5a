"""Product photos: every upload decoded and re-encoded by Pillow, never served as sent.

An upload must be a PNG, JPEG, GIF or WebP (by its first bytes and by Pillow's decoder,
whatever its name or Content-Type says) of at most MAX_IMAGE_BYTES and MAX_PIXELS. Its size
is read from the header before any pixel is decoded, so a "decompression bomb" (a small
file that decodes to gigabytes) is refused without being decoded; Pillow's own guard
(Image.MAX_IMAGE_PIXELS, DecompressionBombWarning/Error) is turned into a refusal too.

What is kept of an accepted image is its pixels: the EXIF orientation is applied first
(ImageOps.exif_transpose), colours are converted to sRGB from an embedded ICC profile (a
CMYK catalogue photo, an iPhone's Display P3), and then the image is written anew without
EXIF (GPS position, camera serial), XMP, ICC or comments. An animated GIF or WebP keeps its
first frame (a product photo is a still; the admin is told). 16-bit images are scaled to
8 bits (Pillow's convert() would clip them to white).

Each image is written in WIDTHS (never wider than it is) as WebP and as a fallback for
browsers without WebP: JPEG, or PNG when the image has transparency. The files are named
`<key>-<width>.<format>`, where the key is a hash of the upload and PIPELINE: a name never
changes its content, so browsers may keep the files for a year (Cache-Control immutable).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from shop.files import private_folder, write_private_file

MAX_IMAGE_BYTES = 10 * 1024 * 1024
# 40 megapixels: three times a 12 MP phone photo. Decoded in full, that is 120 MB of RGB (a
# JPEG is decoded at a reduced scale, Image.draft, so far less); a bomb claims billions.
MAX_PIXELS = 40_000_000
WIDTHS = (400, 800, 1200)  # srcset candidates: a catalogue card, its 2x, the product page
PIPELINE = "1"  # change it with the encoding below: new names, so no cached file goes stale
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")  # SVG is refused: it can carry scripts
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")
WEBP_QUALITY = 80
JPEG_QUALITY = 82


class ImageRefused(ValueError):
    """Not an image we accept; the message says why, for the admin."""


@dataclass(frozen=True)
class ProcessedImage:
    """An upload after processing: its files are `<key>-<width>.webp` and `.<fallback>`
    for each width of `widths(width)`; `width` x `height` is the largest one's size."""

    key: str
    width: int
    height: int
    fallback: str  # "jpg", or "png" for an image with transparency
    notes: tuple[str, ...] = ()  # what the admin should know (an animation's first frame)


def image_folder() -> Path:
    return private_folder(Path(current_app.instance_path) / "uploads" / "products")


def widths(largest: int) -> list[int]:
    """The widths written for an image whose largest file is `largest` pixels wide."""
    return [w for w in WIDTHS if w < largest] + [largest]


def file_name(key: str, width: int, extension: str) -> str:
    return f"{key}-{width}.{extension}"


def _looks_like_an_image(head: bytes) -> bool:
    return head.startswith(SIGNATURES) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _refuse_size(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageRefused(_("The image has no pixels."))
    if width * height > MAX_PIXELS:
        raise ImageRefused(
            _(
                "The image is %(width)d × %(height)d pixels; at most %(most)d megapixels are accepted "
                "(a photo from a phone or camera is well below). Make it smaller and upload it again.",
                width=width,
                height=height,
                most=MAX_PIXELS // 1_000_000,
            )
        )


def open_image(data: bytes) -> Image.Image:
    """The image in `data`, opened (header read, no pixel decoded yet). Raises ImageRefused
    for anything but a PNG, JPEG, GIF or WebP of acceptable size."""
    if not data:
        raise ImageRefused(_("The file is empty."))
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(_("The image is larger than %(most)d MB.", most=MAX_IMAGE_BYTES // (1024 * 1024)))
    if not _looks_like_an_image(data[:16]):
        raise ImageRefused(_("That is not a PNG, JPEG, GIF or WebP image."))
    try:
        with warnings.catch_warnings():
            # Pillow warns above Image.MAX_IMAGE_PIXELS and raises above twice that: both refuse.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(_("The image has more than %(most)d megapixels.", most=MAX_PIXELS // 1_000_000)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageRefused(
            _("That image cannot be read: the file is damaged or not a PNG, JPEG, GIF or WebP.")
        ) from None
    _refuse_size(image.size)  # from the header, before anything is decoded
    return image


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB(A) in sRGB: through the embedded ICC profile when there is one (lcms2), else
    Pillow's own conversion. 16-bit grey is scaled to 8 bits, not clipped."""
    if image.mode.startswith("I;16") or image.mode == "I":
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    elif image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    icc = image.info.get("icc_profile")
    alpha = image.getchannel("A") if "A" in image.getbands() else None
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L", "LA"):
        colour = image.convert({"RGBA": "RGB", "LA": "L"}.get(image.mode, image.mode))
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(colour, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a damaged or unusable profile: the pixels as they are
        if converted is not None:
            image = converted
    image = image.convert("RGB")
    if alpha is not None and alpha.getextrema() != (255, 255):  # transparency that shows
        image.putalpha(alpha)
    return image


def process_image(data: bytes) -> tuple[ProcessedImage, dict[str, bytes]]:
    """Decode and re-encode an upload; what it became and its files ({name: bytes}).
    Raises ImageRefused."""
    image = open_image(data)
    notes = []
    if getattr(image, "n_frames", 1) > 1:
        notes.append(_("This image is animated: its first frame is shown."))
        image.seek(0)
    try:
        if image.format == "JPEG":  # decode at the smallest scale that still covers 1200 px
            image.draft(image.mode, (WIDTHS[-1], WIDTHS[-1]))
        image = ImageOps.exif_transpose(image)
        image = _to_srgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageRefused(_("That image cannot be read: the file is damaged.")) from None
    image.info = {}  # nothing of the upload's metadata reaches the encoders
    largest = min(image.width, WIDTHS[-1])
    alpha = image.mode == "RGBA"
    key = hashlib.sha256(PIPELINE.encode() + data).hexdigest()[:32]
    files, made = {}, None
    for width in reversed(widths(largest)):  # each size from the one above it: faster, as sharp
        source = made or image
        height = max(1, round(image.height * width / image.width))
        made = source if source.width == width else source.resize((width, height), Image.Resampling.LANCZOS)
        files[file_name(key, width, "webp")] = _encoded(made, "WEBP")
        files[file_name(key, width, "png" if alpha else "jpg")] = _encoded(made, "PNG" if alpha else "JPEG")
    height = max(1, round(image.height * largest / image.width))
    return ProcessedImage(key, largest, height, "png" if alpha else "jpg", tuple(notes)), files


def _encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "WEBP":
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    elif kind == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def store_product_image(data: bytes) -> ProcessedImage:
    """Process an upload (`data`, its bytes) and write its files; what it became.
    Raises ImageRefused. The same upload twice gives the same files (written once)."""
    processed, files = process_image(data)
    folder = image_folder()
    for name, content in files.items():
        with contextlib.suppress(FileExistsError):  # the same image uploaded before: the same bytes
            write_private_file(folder / name, content)
    return processed


def read_upload(stream: io.BufferedIOBase) -> bytes:
    """An uploaded file's bytes, at most MAX_IMAGE_BYTES + 1 (enough to refuse a larger one)."""
    return stream.read(MAX_IMAGE_BYTES + 1)


def delete_image_files(key: str, largest: int, fallback: str) -> None:
    """Remove an image's files (call it once no product_image row names the key)."""
    folder = image_folder()
    for width in widths(largest):
        for extension in ("webp", fallback):
            (folder / file_name(key, width, extension)).unlink(missing_ok=True)
