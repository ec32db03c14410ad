"""Scanned letters as ministries send them: a letter rendered to a page image with a scanner's
defects (a slight rotation, noise, a grey background, a stamp, a signature, JPEG artefacts),
wrapped in a PDF that carries no text layer. For tests, benchmarks and the demo.

Seeded: the same seed gives the same bytes on every machine with the same Pillow and the
DejaVu Serif font (Debian fonts-dejavu-core); without it Pillow's own font is used, which
has no accented letters.
"""

from __future__ import annotations

import io
import math
import random
import textwrap

from .mime import pdf_file

A4_INCHES = (8.27, 11.69)
FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", "/usr/share/fonts/dejavu/DejaVuSerif.ttf")


def _font(size: int):
    from PIL import ImageFont

    for path in FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _signature(draw, rng: random.Random, x: int, y: int, scale: float) -> None:
    """A scribble: a few connected loops in ink."""
    points = []
    for step in range(60):
        t = step / 59
        points.append((
            x + t * 260 * scale + math.sin(t * 19 + rng.random()) * 18 * scale,
            y + math.sin(t * 9 + rng.random() * 2) * 26 * scale + rng.uniform(-4, 4) * scale,
        ))
    draw.line(points, fill=(25, 30, 90), width=max(2, int(3 * scale)), joint="curve")


def _stamp(page, rng: random.Random, text: list[str], x: int, y: int, scale: float) -> None:
    """A rubber stamp (a framed block of capitals in red ink, tilted), pressed unevenly."""
    from PIL import Image, ImageDraw

    font = _font(int(22 * scale))
    width, height = int(330 * scale), int(40 * scale) * len(text) + int(30 * scale)
    stamp = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(stamp)
    draw.rectangle((4, 4, width - 5, height - 5), outline=200, width=max(3, int(4 * scale)))
    for number, line in enumerate(text):
        draw.text((int(18 * scale), int(16 * scale) + number * int(40 * scale)), line, fill=200, font=font)
    stamp = stamp.rotate(rng.uniform(-12, 12), expand=True, resample=Image.BICUBIC)
    ink = Image.new("RGB", stamp.size, (190, 40, 50))
    page.paste(ink, (x, y), stamp)


def scan_page(lines: list[str], *, seed: int, dpi: int = 200, stamp: list[str] | None = None,
              signature: bool = True, rotation: float | None = None, quality: int = 70) -> bytes:
    """One letter page as a scanner's JPEG: ``lines`` (paragraphs are wrapped) on grey paper,
    rotated by ``rotation`` degrees (default: up to 1.5 either way), with noise, an optional
    ``stamp`` (its lines) and a signature."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed)
    scale = dpi / 200
    size = (int(A4_INCHES[0] * dpi), int(A4_INCHES[1] * dpi))
    paper = rng.randint(208, 232)
    page = Image.new("RGB", size, (paper, paper, paper - rng.randint(0, 8)))
    draw = ImageDraw.Draw(page)
    font = _font(int(30 * scale))
    left, y = int(150 * scale), int(170 * scale)
    ink = rng.randint(15, 45)
    for line in lines:
        for piece in textwrap.wrap(line, 72) or [""]:
            draw.text((left, y), piece, fill=(ink, ink, ink + 5), font=font)
            y += int(44 * scale)
        y += int(10 * scale)
    if signature:
        _signature(draw, rng, left + int(640 * scale), y + int(40 * scale), scale)
    if stamp:
        _stamp(page, rng, stamp, int(size[0] * 0.55), int(110 * scale), scale)
    angle = rotation if rotation is not None else rng.uniform(-1.5, 1.5)
    page = page.rotate(angle, resample=Image.BICUBIC, fillcolor=(paper - 30,) * 3)
    # the scanner's grain, seeded (Image.effect_noise draws from C's own generator)
    noise = Image.frombytes("L", size, rng.randbytes(size[0] * size[1])).convert("RGB")
    page = Image.blend(page, noise, rng.uniform(0.08, 0.14))
    page = page.filter(ImageFilter.GaussianBlur(0.5 * scale))
    out = io.BytesIO()
    page.save(out, "JPEG", quality=quality, dpi=(dpi, dpi))
    return out.getvalue()


def scan_pdf(pages: list[bytes], dpi: int = 200) -> bytes:
    """A PDF of scanned page JPEGs and nothing else (no text layer): what a copier emails."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    from PIL import Image

    for jpeg in pages:
        width, height = Image.open(io.BytesIO(jpeg)).size
        points = (width * 72 / dpi, height * 72 / dpi)
        image_number = len(objects) + 1
        content = b"q %.2f 0 0 %.2f 0 0 cm /Im0 Do Q" % points
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % (width, height, len(jpeg))
            + jpeg + b"\nendstream"
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        kids.append(len(objects) + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /XObject << /Im0 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (*points, image_number, image_number + 1)
        )
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    return pdf_file(objects)


def answer_letter(*, body: str, place: str, day: str, cited: str, subject: str, reference: str,
                  our_reference: str, signer: str) -> list[str]:
    """The lines of a ministry's answer as they are typed on its letterhead."""
    return [
        body.upper(),
        "Le directeur de cabinet",
        "",
        f"{place}, le {day}",
        f"N/Réf : {our_reference}",
        f"V/Réf : {reference}",
        f"Objet : {subject}",
        "",
        "Madame la Présidente,",
        f"Par votre courrier du {cited}, vous avez appelé mon attention sur la situation que vous "
        "décrivez. Je puis vous assurer que vos observations ont été transmises aux services "
        "compétents, qui les examinent avec la plus grande attention.",
        "Je vous prie d'agréer, Madame la Présidente, l'expression de mes salutations distinguées.",
        "",
        signer,
    ]
