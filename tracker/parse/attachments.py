"""Attachments: their size and digest, and the text of PDFs and documents (.docx, .odt, .rtf)."""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import io
import time
from .documents import document_kind, document_text
from .limits import (
    DOC_MAX_BYTES, LARGE_BASE64, PDF_MAX_BYTES, PDF_MAX_INFLATED, PDF_MAX_OPERATIONS, PDF_MAX_PAGES, PDF_MAX_SECONDS,
    PDF_MAX_TEXT_CHARS,
)
from .mime import _Leaf
from .records import Attachment
from .text import _b64, _B64_JUNK, _clean, decode_words, _transfer_decode


# ---------------------------------------------------------------------------
# attachments


def _base64_stream(data: bytes, digest, keep: bool) -> tuple[int, bytes | None, bool]:
    """Decode a large base64 body in chunks: size, the bytes if ``keep``, repaired flag."""
    size = 0
    kept: list[bytes] = []
    carry = b""
    repaired = False
    chunk = 1024 * 1024
    for start in range(0, len(data), chunk):
        piece = carry + _B64_JUNK.sub(b"", data[start:start + chunk])
        usable = len(piece) - len(piece) % 4
        piece, carry = piece[:usable], piece[usable:]
        # padding in the middle means concatenated or broken base64: decode what we can
        try:
            decoded = binascii.a2b_base64(piece)
        except binascii.Error:
            decoded, repaired = _b64(piece)[0], True
        size += len(decoded)
        digest.update(decoded)
        if keep:
            kept.append(decoded)
    if carry:
        decoded, _ = _b64(carry)
        repaired = True
        size += len(decoded)
        digest.update(decoded)
        if keep:
            kept.append(decoded)
    return size, (b"".join(kept) if keep else None), repaired


def _pypdf_bounds() -> contextlib.AbstractContextManager:
    """pypdf's own limits lowered to ours while one PDF is read."""
    try:
        from pypdf import apply_configuration
    except ImportError:  # pypdf before its Configuration: the operator clock alone bounds a page
        return contextlib.nullcontext()
    return apply_configuration(
        zlib_maximum_output_length=PDF_MAX_INFLATED, lzw_maximum_output_length=PDF_MAX_INFLATED,
        run_length_maximum_output_length=PDF_MAX_INFLATED, brotli_maximum_output_length=PDF_MAX_INFLATED,
        stream_parsing_work_maximum_count=PDF_MAX_OPERATIONS,
    )


class _PdfOverrun(Exception):
    """The PDF's time budget ran out in the middle of a page."""


def _pdf_text(data: bytes, defects: list[str]) -> str | None:
    """The text of a PDF letter, bounded in pages, time and size; None when unreadable.

    The bounds hold inside a page too: pypdf inflates at most PDF_MAX_INFLATED bytes of a
    stream and parses at most PDF_MAX_OPERATIONS of its operations, and the clock is read
    at every operator it extracts text from (a 40 KB PDF can inflate to 14 MB of them)."""
    if len(data) > PDF_MAX_BYTES:
        defects.append("PDF too large for text extraction")
        return None
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError

    started = time.process_time()
    operators = 0

    def on_operator(*_args) -> None:
        nonlocal operators
        operators += 1
        if operators % 1000 == 0 and time.process_time() - started > PDF_MAX_SECONDS:
            raise _PdfOverrun

    texts: list[str] = []
    try:
        with _pypdf_bounds():
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                reader.decrypt("")
            total = 0
            for number, page in enumerate(reader.pages):
                if number >= PDF_MAX_PAGES or time.process_time() - started > PDF_MAX_SECONDS:
                    defects.append("PDF text extraction stopped early (pages or time limit)")
                    break
                text = page.extract_text(visitor_operand_before=on_operator) or ""
                texts.append(text)
                total += len(text)
                if total > PDF_MAX_TEXT_CHARS:
                    break
    except (_PdfOverrun, LimitReachedError):
        defects.append("PDF text extraction stopped early (size or time limit)")
    except Exception as exc:  # noqa: BLE001 - pypdf fails in many ways on broken files
        defects.append(f"PDF text unreadable ({type(exc).__name__})")
        return None
    return "\n".join(texts)[:PDF_MAX_TEXT_CHARS].replace("\x00", "")


def _attachment(leaf: _Leaf, defects: list[str]) -> Attachment:
    digest = hashlib.sha256()
    is_pdf = leaf.content_type == "application/pdf" or leaf.filename.lower().endswith(".pdf")
    document = None if is_pdf else document_kind(leaf.content_type, leaf.filename)
    data: bytes | None
    if leaf.encoding == "base64" and len(leaf.raw) > LARGE_BASE64:
        keep = (is_pdf and len(leaf.raw) < PDF_MAX_BYTES * 2) or (document and len(leaf.raw) < DOC_MAX_BYTES * 2)
        size, data, repaired = _base64_stream(leaf.raw, digest, keep=bool(keep))
        if repaired:
            defects.append("broken base64 in an attachment")
    else:
        data = _transfer_decode(leaf.raw, leaf.encoding, "an attachment", defects)
        size = len(data)
        digest.update(data)
    text = None
    if is_pdf:
        text = _pdf_text(data, defects) if data is not None else None
        if data is None:
            defects.append("PDF too large for text extraction")
    elif document:
        text = document_text(document, data, defects) if data is not None else None
        if data is None:
            defects.append(f"{document} too large for text extraction")
    name = _clean(decode_words(leaf.filename, defects))[:255]
    return Attachment(name, leaf.content_type, size, digest.hexdigest(), text)
