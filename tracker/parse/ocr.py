"""Text of scanned letters by OCR: Tesseract, through pytesseract, on pages rendered by pypdfium2.

Why these: Tesseract 5 with its French model is what Debian ships (``tesseract-ocr``,
``tesseract-ocr-fra``). pytesseract runs the ``tesseract`` program once per page, so a page
that takes too long is killed at ``page_seconds`` and a memory cap set on the process that
calls it (``store.ocr`` reads each document in a child process with RLIMIT_AS) holds for
Tesseract too; tesserocr would keep Tesseract inside our process, out of reach of both caps,
and needs building against its headers. OCRmyPDF writes a new PDF with a text layer, which
tracker does not keep (it needs only the text), through Ghostscript and more processes.
pypdfium2 renders each page to an image (PDFium, as Chrome), one page at a time.

Pure apart from running ``tesseract``: no database, no network.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from .headers import _read_headers
from .limits import PDF_MAX_TEXT_CHARS
from .mime import _leaves
from .text import _transfer_decode

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/tiff", "image/x-tiff"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
# smaller images are logos and signatures of email footers; a scanned page weighs 50 KB or more
MIN_IMAGE_BYTES = 24 * 1024
# a PDF with fewer characters of text than this is taken for a scan (some carry "Page 1")
MIN_PDF_TEXT = 40
# pixels of one rendered page: an A4 page at 300 dpi is 8.7 million; larger pages are rendered smaller
MAX_PAGE_PIXELS = 12_000_000


def ocr_kind(content_type: str | None, filename: str | None, size: int | None, text: str | None) -> str | None:
    """"pdf" or "image" when an attachment must be read by OCR (a PDF without text, a scan
    sent as an image), else None."""
    ctype, name = (content_type or "").lower(), (filename or "").lower()
    if ctype == "application/pdf" or name.endswith(".pdf"):
        return "pdf" if len((text or "").strip()) < MIN_PDF_TEXT else None
    if (ctype in IMAGE_TYPES or name.endswith(IMAGE_SUFFIXES)) and (size or 0) >= MIN_IMAGE_BYTES:
        return "image"
    return None


def tesseract_command() -> str | None:
    """The ``tesseract`` program (``TESSERACT_CMD`` or the PATH), or None when not installed."""
    return os.environ.get("TESSERACT_CMD") or shutil.which("tesseract")


def tesseract_missing(languages: str) -> str | None:
    """What keeps OCR from running, in one line with its fix, or None when Tesseract and every
    language of ``languages`` ("fra+eng") are installed."""
    command = tesseract_command()
    if command is None:
        return (
            "Tesseract is not installed: scanned letters are not read (install the Debian packages "
            "tesseract-ocr and tesseract-ocr-fra, then run tracker ocr)"
        )
    try:
        listed = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return f"Tesseract ({command}) does not run: scanned letters are not read (reinstall tesseract-ocr)"
    missing = [lang for lang in languages.split("+") if lang not in listed.split()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return f"Tesseract lacks the language {'+'.join(missing)}: scanned letters are not read (install {packages})"
    return None


def attachment_bytes(raw: bytes, sha256: str) -> bytes | None:
    """The decoded bytes of the attachment of message ``raw`` whose digest is ``sha256``."""
    defects: list[str] = []
    head = _read_headers(raw, defects)
    for leaf in _leaves(raw, defects, head):
        if leaf.content_type.startswith("multipart/"):
            continue
        data = _transfer_decode(leaf.raw, leaf.encoding, "an attachment", defects)
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
    return None


@dataclass
class Scan:
    """What OCR read of one document: its text, pages read and counted, and what stopped it."""

    text: str = ""
    pages: int = 0
    page_count: int = 0
    defects: list[str] = field(default_factory=list)
    stopped: str | None = None  # "budget" when the run's time ran out before the last page
    page_texts: list[str] = field(default_factory=list)  # each page read, in order (for a resume)


def _pdf_pages(data: bytes, dpi: int, max_pages: int, defects: list[str], first: int = 0):
    """Each page of a PDF from ``first`` rendered in grey at ``dpi`` (smaller for a huge page),
    one at a time."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        count = len(document)
        yield count
        for number in range(first, min(count, max_pages)):
            page = document[number]
            width, height = page.get_size()  # points
            scale = dpi / 72
            if width * height * scale * scale > MAX_PAGE_PIXELS:
                scale = (MAX_PAGE_PIXELS / (width * height)) ** 0.5
                defects.append("a large PDF page was read at a lower resolution")
            bitmap = page.render(scale=scale, grayscale=True)
            image = bitmap.to_pil()
            page.close()
            yield image
    finally:
        document.close()


def _image_pages(data: bytes, max_pages: int, defects: list[str], first: int = 0):
    """Each frame of an image from ``first`` (a TIFF may hold several pages), in grey."""
    from PIL import Image, ImageSequence

    Image.MAX_IMAGE_PIXELS = MAX_PAGE_PIXELS * 4  # beyond it Pillow refuses (a decompression bomb)
    image = Image.open(io.BytesIO(data))
    yield getattr(image, "n_frames", 1)
    for number, frame in enumerate(ImageSequence.Iterator(image)):
        if number >= max_pages:
            break
        if number < first:
            continue
        frame = frame.convert("L")
        if frame.width * frame.height > MAX_PAGE_PIXELS:
            ratio = (MAX_PAGE_PIXELS / (frame.width * frame.height)) ** 0.5
            frame = frame.resize((int(frame.width * ratio), int(frame.height * ratio)))
            defects.append("a large image was read at a lower resolution")
        yield frame


def read_scan(
    data: bytes,
    kind: str,
    *,
    languages: str = "fra+eng",
    max_pages: int = 20,
    page_seconds: float = 60.0,
    dpi: int = 300,
    deadline: float | None = None,
    first_page: int = 0,
) -> Scan:
    """OCR a scanned PDF or image, page by page from ``first_page`` (the pages before it were read
    by a run the budget cut short): at most ``max_pages`` pages in all, each given at most
    ``page_seconds`` (and no more than what is left before ``deadline``, a ``time.monotonic()``)."""
    import pytesseract

    command = tesseract_command()
    if command:
        pytesseract.pytesseract.tesseract_cmd = command
    scan = Scan()
    texts: list[str] = []
    pages = (_pdf_pages(data, dpi, max_pages, scan.defects, first_page) if kind == "pdf"
             else _image_pages(data, max_pages, scan.defects, first_page))
    scan.page_count = next(pages)
    if scan.page_count > max_pages:
        scan.defects.append(f"only the first {max_pages} of {scan.page_count} pages were read (ocr.max_pages)")
    for image in pages:
        timeout = page_seconds
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 1:
                scan.stopped = "budget"
                break
            timeout = min(timeout, left)
        try:
            text = pytesseract.image_to_string(image, lang=languages, config="--psm 3", timeout=timeout)
        except RuntimeError as exc:  # pytesseract's timeout
            if "timeout" not in str(exc).lower():
                raise
            if deadline is not None and timeout < page_seconds:
                scan.stopped = "budget"
                break
            scan.defects.append(f"OCR of a page stopped after {page_seconds:g} s (ocr.page_seconds)")
            text = ""
        texts.append(text.strip())
        scan.pages += 1
        if sum(map(len, texts)) > PDF_MAX_TEXT_CHARS:
            break
    scan.page_texts = texts
    scan.text = "\n\n".join(texts)[:PDF_MAX_TEXT_CHARS].replace("\x00", "")
    return scan
