"""Draw the demo catalogue's product pictures (shop/catalog/demo_images/<SKU>.webp) with
Pillow: simple flat illustrations, a few KB each, committed to the repository. `flask shop
seed-demo` loads them through the same pipeline as an owner's upload.

Run it again after changing a drawing:  python tools/draw_demo_images.py
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "shop" / "catalog"
OUT = CATALOG / "demo_images"
W, H = 1200, 900  # drawn at twice the size, then halved: smooth edges
INK = (45, 40, 38)

COLOURS = {
    "TEA-ASSAM": (158, 60, 40),
    "TEA-DARJ": (196, 140, 60),
    "TEA-SENCHA": (96, 140, 70),
    "TEA-EARL": (70, 80, 130),
    "TEA-ROOIBOS": (190, 90, 60),
    "TEA-OOLONG": (60, 110, 100),
    "TEA-MINT": (70, 160, 120),
    "COF-ETH": (120, 80, 50),
    "COF-COL": (160, 110, 60),
    "COF-ESP": (60, 40, 35),
    "COF-DECAF": (90, 120, 150),
    "MUG-ENAMEL": (50, 100, 170),
    "MUG-STONE": (150, 130, 110),
    "MUG-GLASS": (170, 210, 225),
    "MUG-TRAVEL": (110, 120, 130),
    "POT-CLAY": (170, 80, 55),
    "POT-CAST": (55, 60, 60),
    "POT-GLASS": (175, 215, 225),
    "POT-TRAVEL": (235, 235, 240),
    "ACC-INFUSER": (175, 180, 185),
    "ACC-SCALE": (60, 65, 70),
    "ACC-GRINDER": (120, 90, 60),
    "ACC-KETTLE": (200, 200, 205),
    "ACC-FILTER": (220, 200, 170),
}


def lighter(colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(c + (255 - c) * amount) for c in colour)


def darker(colour: tuple[int, int, int], amount: float) -> tuple[int, int, int]:
    return tuple(round(c * (1 - amount)) for c in colour)


def background(colour: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (W, H))
    draw = ImageDraw.Draw(image)
    top, bottom = lighter(colour, 0.86), lighter(colour, 0.7)
    for y in range(H):
        t = y / H
        draw.line([(0, y), (W, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    draw.ellipse([300, 700, 900, 780], fill=lighter(colour, 0.55))  # the shadow it stands on
    return image


def tin(draw: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    draw.rounded_rectangle([430, 260, 770, 740], 30, fill=c, outline=INK, width=6)
    draw.rounded_rectangle([410, 220, 790, 300], 20, fill=darker(c, 0.25), outline=INK, width=6)
    draw.rectangle([430, 420, 770, 580], fill=lighter(c, 0.8))
    draw.ellipse([555, 445, 645, 555], fill=(90, 150, 80), outline=INK, width=5)  # a leaf
    draw.line([(565, 545), (635, 455)], fill=INK, width=5)


def bag(draw: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    draw.polygon([(440, 280), (760, 280), (800, 740), (400, 740)], fill=c, outline=INK, width=6)
    draw.rectangle([440, 230, 760, 290], fill=darker(c, 0.3), outline=INK, width=6)
    draw.rounded_rectangle([480, 420, 720, 620], 20, fill=lighter(c, 0.85))
    draw.ellipse([550, 455, 650, 585], fill=(80, 50, 35))  # a coffee bean
    draw.arc([575, 455, 625, 585], 100, 260, fill=lighter(c, 0.85), width=8)


def mug(draw: ImageDraw.ImageDraw, c: tuple[int, int, int], tall: bool = False, glass: bool = False) -> None:
    top = 240 if tall else 340
    draw.rounded_rectangle([420, top, 720, 740], 40, fill=c, outline=INK, width=6)
    if not tall:
        draw.arc([650, 420, 840, 640], -90, 90, fill=INK, width=34)
        draw.arc([650, 420, 840, 640], -90, 90, fill=c, width=22)
    else:
        draw.rounded_rectangle([405, 200, 735, 270], 20, fill=darker(c, 0.4), outline=INK, width=6)
    if glass:
        draw.rounded_rectangle([450, top + 120, 690, 710], 30, fill=(150, 95, 50))  # tea inside
    draw.ellipse([430, top - 20, 710, top + 30], fill=lighter(c, 0.5), outline=INK, width=5)


def teapot(draw: ImageDraw.ImageDraw, c: tuple[int, int, int], glass: bool = False) -> None:
    draw.polygon([(400, 520), (300, 380), (330, 370), (440, 470)], fill=c, outline=INK, width=6)  # spout
    draw.arc([700, 390, 880, 640], -80, 80, fill=INK, width=34)  # handle
    draw.arc([700, 390, 880, 640], -80, 80, fill=c, width=22)
    draw.ellipse([380, 360, 820, 740], fill=c, outline=INK, width=6)
    if glass:
        draw.ellipse([430, 500, 770, 720], fill=(170, 110, 50))
    draw.ellipse([500, 320, 700, 400], fill=darker(c, 0.2), outline=INK, width=6)
    draw.ellipse([575, 280, 625, 330], fill=darker(c, 0.35), outline=INK, width=5)


def gaiwan(draw: ImageDraw.ImageDraw, c: tuple[int, int, int]) -> None:
    for x in (300, 720):  # two cups
        draw.chord([x, 560, x + 180, 740], 0, 180, fill=c, outline=INK, width=6)
    draw.chord([470, 420, 730, 720], 0, 180, fill=c, outline=INK, width=6)
    draw.ellipse([470, 480, 730, 560], fill=lighter(c, 0.3), outline=INK, width=6)
    draw.ellipse([570, 440, 630, 500], fill=(90, 120, 170), outline=INK, width=5)


def accessory(draw: ImageDraw.ImageDraw, sku: str, c: tuple[int, int, int]) -> None:
    if sku == "ACC-INFUSER":
        draw.line([(600, 200), (600, 420)], fill=INK, width=8)
        draw.ellipse([470, 420, 730, 680], fill=c, outline=INK, width=6)
        for i in range(6):
            x = 500 + i * 40
            draw.line([(x, 440), (x, 660)], fill=darker(c, 0.3), width=3)
    elif sku == "ACC-SCALE":
        draw.rounded_rectangle([360, 520, 840, 700], 30, fill=c, outline=INK, width=6)
        draw.rounded_rectangle([420, 560, 620, 650], 10, fill=(120, 200, 140))
        draw.ellipse([680, 570, 760, 650], fill=darker(c, 0.4))
        draw.rectangle([440, 470, 760, 520], fill=lighter(c, 0.3), outline=INK, width=6)
    elif sku == "ACC-GRINDER":
        draw.rounded_rectangle([480, 360, 720, 740], 30, fill=c, outline=INK, width=6)
        draw.rectangle([500, 300, 700, 370], fill=darker(c, 0.3), outline=INK, width=6)
        draw.line([(600, 300), (600, 220), (780, 220)], fill=INK, width=12)
        draw.ellipse([760, 200, 810, 250], fill=(70, 50, 40))
    elif sku == "ACC-KETTLE":
        teapot(draw, c)
        draw.line([(400, 520), (330, 330), (260, 300)], fill=INK, width=20)
    else:  # paper filters: a stack of cones
        for i in range(4):
            y = 330 + i * 40
            draw.polygon(
                [(420, y), (780, y), (620, y + 330), (580, y + 330)], fill=lighter(c, i * 0.05), outline=INK, width=5
            )


def draw_product(sku: str) -> Image.Image:
    colour = COLOURS.get(sku, (120, 120, 120))
    image = background(colour)
    draw = ImageDraw.Draw(image)
    if sku.startswith("TEA-"):
        tin(draw, colour)
    elif sku.startswith("COF-"):
        bag(draw, colour)
    elif sku.startswith("MUG-"):
        mug(draw, colour, tall=sku == "MUG-TRAVEL", glass=sku == "MUG-GLASS")
    elif sku == "POT-TRAVEL":
        gaiwan(draw, colour)
    elif sku.startswith("POT-"):
        teapot(draw, colour, glass=sku == "POT-GLASS")
    else:
        accessory(draw, sku, colour)
    # A little steam or sparkle in the corner, so no two look alike.
    seed = sum(map(ord, sku))
    for i in range(3):
        angle = (seed * (i + 1)) % 360
        x, y = 980 + 60 * math.cos(math.radians(angle)), 180 + 40 * math.sin(math.radians(angle))
        draw.ellipse([x - 14, y - 14, x + 14, y + 14], fill=lighter(colour, 0.35))
    return image.resize((W // 2, H // 2), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with (CATALOG / "demo_products.csv").open(encoding="utf-8", newline="") as f:
        skus = [row["sku"] for row in csv.DictReader(f)]
    total = 0
    for sku in skus:
        path = OUT / f"{sku}.webp"
        draw_product(sku).save(path, "WEBP", quality=70, method=6)
        total += path.stat().st_size
    print(f"{len(skus)} pictures, {total // 1024} KB in {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
