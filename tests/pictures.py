"""Test images made with Pillow at test time (no binary fixtures): phone photos with GPS
EXIF and a rotation, CMYK JPEGs, animated GIFs, 16-bit PNGs, transparency, and a
decompression bomb."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageCms, PngImagePlugin

GPS = {1: "N", 2: (48.0, 12.0, 30.0), 3: "E", 4: (16.0, 22.0, 5.0)}  # Vienna, in EXIF's GPS IFD


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def png(width: int = 64, height: int = 48, colour: tuple[int, ...] = (200, 60, 40)) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), "PNG")


def phone_photo(orientation: int = 1, gps: bool = True, width: int = 60, height: int = 40) -> bytes:
    """A JPEG as a phone writes it: the sensor's pixels (red left half, blue right half)
    with EXIF saying how to turn them (orientation 6: 90° clockwise), the camera and GPS."""
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.BodySerialNumber] = "SERIAL-12345"
    if gps:
        exif[ExifTags.IFD.GPSInfo] = GPS
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>48,12.5N</exif:GPSLatitude></x:xmpmeta>'
    return encoded(image, "JPEG", exif=exif, xmp=xmp, quality=95)


def cmyk_jpeg(cmyk: tuple[int, int, int, int] = (255, 0, 0, 0)) -> bytes:
    return encoded(Image.new("CMYK", (40, 30), cmyk), "JPEG", quality=95)


def animated_gif() -> bytes:
    """Three frames: red, green, blue."""
    frames = [Image.new("RGB", (30, 20), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png(value: int = 32768) -> bytes:
    """A 16-bit greyscale PNG, mid-grey (32768 of 65535)."""
    return encoded(Image.new("I;16", (20, 10), value), "PNG")


def transparent_png() -> bytes:
    """A cut-out with an embedded colour profile and a text chunk (what an editor leaves)."""
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (10, 10, 30, 30))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "Made on Ada's laptop at 12 Analytical Street")
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encoded(image, "PNG", pnginfo=text, icc_profile=icc)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 30_000) -> bytes:
    """A valid 1-bit PNG of side x side black pixels (900 megapixels): about 100 KB of
    file that decodes to hundreds of megabytes."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
