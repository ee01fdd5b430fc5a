"""Product photos (issue 20, item 1): uploads decoded and re-encoded with Pillow, never
served as sent; several photos per product, ordered, with alt text; sizes and formats for
srcset; files kept by browsers for a year. The test images are made with Pillow here
(tests/pictures.py)."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from flask import Flask
from PIL import Image

from shop.catalog.images import ImageRefused, image_folder, process_image
from shop.extensions import db
from shop.models import Product, ProductImage
from tests import pictures
from tests.conftest import Browser


def photos_of(app: Flask, product_id: int) -> list[ProductImage]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(ProductImage)
            .where(ProductImage.product_id == product_id)
            .order_by(ProductImage.position, ProductImage.id)
        ).scalars()
        result = list(rows)
        db.session.expunge_all()
        return result


def upload(admin: Browser, product_id: int, data: bytes, alt_text: str = "", name: str = "photo.jpg"):
    url = f"/admin/products/{product_id}/photos"
    fields = {"photo": (io.BytesIO(data), name), "alt_text": alt_text}
    return admin.submit(url, url, fields, content_type="multipart/form-data")


def served_files(app: Flask, image: ProductImage) -> dict[str, bytes]:
    """Every file of a photo, as a visitor's browser gets it."""
    visitor = Browser(app.test_client())
    files = {}
    with app.app_context():
        names = sorted(p.name for p in image_folder().iterdir() if p.name.startswith(image.key))
    assert names, "no files were written"
    for name in names:
        response = visitor.get(f"/media/products/{name}")
        assert response.status_code == 200, name
        files[name] = response.get_data()
    return files


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ---------------------------------------------------------------- what is kept of an upload
def test_an_upload_with_gps_exif_comes_out_without_it(app, products, admin):
    original = pictures.phone_photo(gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825) == pictures.GPS  # the upload has it
    assert upload(admin, products["TEA"], original, "A tin of Assam").status_code == 303
    [image] = photos_of(app, products["TEA"])
    files = served_files(app, image)
    assert set(files) == {f"{image.key}-60.webp", f"{image.key}-60.jpg"}
    for name, data in files.items():
        out = opened(data)
        assert dict(out.getexif()) == {}, name
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(out.info), (name, out.info.keys())
        for trace in (b"Exif\x00\x00", b"PhoneMaker", b"SERIAL-12345", b"GPS", b"xmpmeta"):
            assert trace not in data, (name, trace)


@pytest.mark.parametrize(
    ("side", "message"),
    [
        (30_000, "The image has more than 40 megapixels."),  # Pillow's own guard, made a refusal
        (8_000, "The image is 8000 × 8000 pixels; at most 40 megapixels are accepted"),  # the shop's check
    ],
    ids=["900-megapixels", "64-megapixels"],
)
def test_a_decompression_bomb_is_refused_before_decoding(app, products, admin, side, message):
    """30000 x 30000 is above Pillow's own guard too; 8000 x 8000 only above ours (40 MP),
    so only the shop's check from the header stops it. Either way no pixel is decoded:
    Pillow makes no image in memory (its allocator's count of new images stays)."""
    bomb = pictures.png_bomb(side)
    assert len(bomb) < 200_000
    before = Image.core.get_stats()["new_count"]
    with pytest.raises(ImageRefused, match="megapixels"):
        process_image(bomb)
    assert Image.core.get_stats()["new_count"] == before
    response = upload(admin, products["TEA"], bomb, name="bomb.png")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert photos_of(app, products["TEA"]) == []


def test_a_cmyk_jpeg_comes_out_in_rgb_with_its_colours(app, products, admin):
    assert upload(admin, products["TEA"], pictures.cmyk_jpeg((255, 0, 0, 0))).status_code == 303  # pure cyan
    [image] = photos_of(app, products["TEA"])
    for name, data in served_files(app, image).items():
        out = opened(data)
        assert out.mode == "RGB", name
        red, green, blue = out.getpixel((out.width // 2, out.height // 2))
        assert (red < 40, green > 215, blue > 215) == (True, True, True), (name, (red, green, blue))


def test_a_rotated_phone_photo_is_turned_upright(app, products, admin):
    """EXIF orientation 6: the sensor's 60 x 40 pixels are shown turned 90° clockwise, so
    the left (red) half ends up on top."""
    assert upload(admin, products["TEA"], pictures.phone_photo(orientation=6)).status_code == 303
    [image] = photos_of(app, products["TEA"])
    assert (image.width, image.height) == (40, 60)
    for name, data in served_files(app, image).items():
        out = opened(data).convert("RGB")
        assert out.size == (40, 60), name
        top, bottom = out.getpixel((20, 5)), out.getpixel((20, 55))
        assert (top[0] > 180, top[2] < 80) == (True, True), (name, top)  # red
        assert (bottom[2] > 180, bottom[0] < 80) == (True, True), (name, bottom)  # blue
        assert 0x0112 not in out.getexif(), name  # no orientation left to apply twice


def test_an_animated_gif_keeps_its_first_frame_and_the_admin_is_told(app, products, admin):
    response = upload(admin, products["TEA"], pictures.animated_gif(), name="spinning.gif")
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "This image is animated: its first frame is shown." in page
    [image] = photos_of(app, products["TEA"])
    for name, data in served_files(app, image).items():
        out = opened(data)
        assert getattr(out, "n_frames", 1) == 1, name
        red, green, blue = out.convert("RGB").getpixel((15, 10))
        assert (red > 200, green < 60, blue < 60) == (True, True, True), (name, (red, green, blue))  # red: frame 1


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped_to_white(app, products, admin):
    assert upload(admin, products["TEA"], pictures.sixteen_bit_png(32768), name="scan.png").status_code == 303
    [image] = photos_of(app, products["TEA"])
    for name, data in served_files(app, image).items():
        grey = opened(data).convert("L").getpixel((10, 5))
        assert 120 <= grey <= 136, (name, grey)  # 32768 / 65535 of white, not 255


def test_a_transparent_image_keeps_its_transparency_with_a_png_fallback(app, products, admin):
    assert upload(admin, products["TEA"], pictures.transparent_png(), name="cutout.png").status_code == 303
    [image] = photos_of(app, products["TEA"])
    assert image.fallback == "png"
    files = served_files(app, image)
    assert set(files) == {f"{image.key}-40.webp", f"{image.key}-40.png"}
    for name, data in files.items():
        assert not {"icc_profile", "Comment", "exif", "xmp"} & set(opened(data).info), name
        assert b"Analytical" not in data, name
        out = opened(data).convert("RGBA")
        assert out.getpixel((2, 2))[3] == 0, name  # the corner is see-through
        assert out.getpixel((20, 20))[3] == 255, name


def test_sizes_are_made_up_to_1200_pixels_and_never_enlarged(app, products):
    processed, files = process_image(pictures.png(2000, 1000))
    assert (processed.width, processed.height, processed.fallback) == (1200, 600, "jpg")
    assert sorted(files) == sorted(f"{processed.key}-{w}.{ext}" for w in (400, 800, 1200) for ext in ("webp", "jpg"))
    assert Image.open(io.BytesIO(files[f"{processed.key}-400.jpg"])).size == (400, 200)
    small, small_files = process_image(pictures.png(500, 300))
    assert sorted(small_files) == sorted(f"{small.key}-{w}.{ext}" for w in (400, 500) for ext in ("webp", "jpg"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\x00" * 20, "cannot be read"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "cannot be read"),
        (b"%PDF-1.4 not a picture", "not a PNG, JPEG, GIF or WebP"),
    ],
)
def test_damaged_and_foreign_files_are_refused_with_a_message(data, message):
    with pytest.raises(ImageRefused, match=message):
        process_image(data)


# ---------------------------------------------------------------- serving
def test_generated_files_are_kept_by_browsers_for_a_year(app, products, admin):
    upload(admin, products["TEA"], pictures.png())
    [image] = photos_of(app, products["TEA"])
    response = Browser(app.test_client()).get(f"/media/products/{image.key}-64.webp")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Type"] == "image/webp"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    for name in (f"{image.key}.webp", f"{image.key}-64.gif", "../" + image.key, f"{image.key}-64.webp.svg"):
        assert Browser(app.test_client()).get(f"/media/products/{name}").status_code == 404, name


# ---------------------------------------------------------------- several photos per product
def test_a_product_has_several_photos_in_order_with_alt_text(app, products, admin):
    tea = products["TEA"]
    assert upload(admin, tea, pictures.png(900, 600, (200, 0, 0)), "The tin, closed").status_code == 303
    assert upload(admin, tea, pictures.png(900, 600, (0, 0, 200)), "").status_code == 303  # alt: the name
    first, second = photos_of(app, tea)
    assert (first.alt_text, second.alt_text) == ("The tin, closed", "Assam Tea")

    url = f"/admin/products/{tea}/photos"
    action = f"{url}/{second.id}"
    assert admin.submit(url, action, {"alt_text": "Loose leaves in a spoon"}).status_code == 303
    assert admin.submit(url, action, {"alt_text": "Loose leaves in a spoon", "move": "up"}).status_code == 303
    assert [p.id for p in photos_of(app, tea)] == [second.id, first.id]

    page = Browser(app.test_client()).get(f"/products/{tea}", follow_redirects=True).get_data(as_text=True)
    alts = re.findall(r'<img class="photo" [^>]*alt="([^"]*)"', page)
    assert alts == ["Loose leaves in a spoon", "The tin, closed"]
    main, other = re.findall(r'<img class="photo" [^>]*>', page)
    assert 'fetchpriority="high"' in main  # the first is what the page shows: not lazy
    assert "loading=" not in main
    assert 'loading="lazy"' in other
    assert 'sizes="(max-width: 40rem) calc(100vw - 2rem), 30rem"' in main
    assert f'<source type="image/webp" srcset="/media/products/{second.key}-400.webp 400w' in page
    catalogue = Browser(app.test_client()).get("/").get_data(as_text=True)
    card = re.search(r'<img class="thumb" [^>]*>', catalogue).group(0)
    assert f"{second.key}-400.jpg 400w" in card
    assert 'sizes="' in card
    assert 'width="900" height="600"' in card

    removed = admin.submit(url, f"{url}/{first.id}/delete")
    assert removed.status_code == 303
    assert [p.id for p in photos_of(app, tea)] == [second.id]
    with app.app_context():
        assert not [p for p in image_folder().iterdir() if p.name.startswith(first.key)]
        assert [p for p in image_folder().iterdir() if p.name.startswith(second.key)]


def test_catalogue_thumbnails_below_the_first_row_load_lazily(app, admin):
    with app.app_context():
        db.session.add_all(Product(sku=f"P{i}", name=f"Product {i}", price_cents=100, stock=5) for i in range(6))
        db.session.commit()
        ids = db.session.execute(sa.select(Product.id).order_by(Product.name)).scalars().all()
    for product_id in ids:
        upload(admin, product_id, pictures.png())
    page = Browser(app.test_client()).get("/").get_data(as_text=True)
    cards = re.findall(r'<img class="thumb" [^>]*>', page)
    assert ['loading="lazy"' in card for card in cards] == [False] * 4 + [True] * 2


def test_a_photo_of_another_product_or_none_is_404(app, products, admin):
    upload(admin, products["TEA"], pictures.png())
    [image] = photos_of(app, products["TEA"])
    token = admin.csrf_token(f"/admin/products/{products['TEA']}/photos")
    for url in (
        f"/admin/products/{products['MUG']}/photos/{image.id}",
        f"/admin/products/{products['MUG']}/photos/{image.id}/delete",
        f"/admin/products/{products['TEA']}/photos/99999/delete",
    ):
        assert admin.client.post(url, data={"csrf_token": token, "alt_text": "x"}).status_code == 404, url
    assert admin.get("/admin/products/99999/photos").status_code == 404
    assert len(photos_of(app, products["TEA"])) == 1
