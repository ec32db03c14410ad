"""Text of word-processor letters: .docx (python-docx), .odt (odfpy), .rtf (striprtf) and .doc
(Word 97-2003, Debian's antiword: a C program kept up by Debian with its security fixes, the
only reader of that format short of LibreOffice).

Read in the parser workers like a PDF's text, so bounded the same way: the file's size, what
its zip parts inflate to (read from the zip's directory before anything is inflated, and
enforced while inflating), the characters kept, and a CPU clock read between paragraphs;
antiword runs in a child of its own with a time limit and a memory cap. Without antiword a
.doc is kept, with a defect that says how to read it.
"""

from __future__ import annotations

import io
import resource
import shutil
import subprocess
import time
import zipfile

from .limits import DOC_MAX_BYTES, DOC_MAX_INFLATED, DOC_MAX_SECONDS, PDF_MAX_TEXT_CHARS, RTF_MAX_BYTES

DOCX_TYPES = frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
ODT_TYPES = frozenset({"application/vnd.oasis.opendocument.text"})
RTF_TYPES = frozenset({"application/rtf", "text/rtf", "application/x-rtf", "text/richtext"})
DOC_TYPES = frozenset({"application/msword", "application/vnd.ms-word"})
ANTIWORD_MEMORY = 256 * 1024 * 1024  # address space of the antiword child


def document_kind(content_type: str, filename: str) -> str | None:
    """"docx", "odt", "rtf" or "doc" when the attachment is a document tracker reads, else None."""
    name = filename.lower()
    if content_type in DOCX_TYPES or name.endswith(".docx"):
        return "docx"
    if content_type in ODT_TYPES or name.endswith(".odt"):
        return "odt"
    if content_type in RTF_TYPES or name.endswith(".rtf"):
        return "rtf"
    if content_type in DOC_TYPES or name.endswith(".doc"):
        return "doc"
    return None


class _Overrun(Exception):
    """The document's time or size budget ran out."""


class _Text:
    """Paragraphs gathered under the character and CPU budgets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.total = 0
        self.started = time.process_time()

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.total += len(text) + 1
        if self.total > PDF_MAX_TEXT_CHARS or time.process_time() - self.started > DOC_MAX_SECONDS:
            raise _Overrun

    def value(self) -> str:
        return "\n".join(self.parts)[:PDF_MAX_TEXT_CHARS].replace("\x00", "")


def _check_zip(data: bytes) -> None:
    """Refuse a package whose parts would inflate beyond DOC_MAX_INFLATED (a zip bomb), as
    its directory says; zipfile stops at the declared size while inflating."""
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        inflated = sum(info.file_size for info in package.infolist())
    if inflated > DOC_MAX_INFLATED:
        raise _Overrun


def _docx(data: bytes, out: _Text) -> None:
    import docx

    document = docx.Document(io.BytesIO(data))
    for paragraph in document.paragraphs:
        out.add(paragraph.text)
    for table in document.tables:  # letters put the sender's block and references in tables
        for row in table.rows:
            out.add("\t".join(dict.fromkeys(cell.text for cell in row.cells)))
    for section in document.sections:
        for paragraph in section.header.paragraphs:
            out.add(paragraph.text)


def _odt(data: bytes, out: _Text) -> None:
    from odf import teletype, text
    from odf.opendocument import load

    document = load(io.BytesIO(data))
    for element in document.getElementsByType(text.H) + document.getElementsByType(text.P):
        out.add(teletype.extractText(element))


def _rtf(data: bytes, out: _Text) -> None:
    from striprtf.striprtf import rtf_to_text

    # RTF is 7-bit text; \'e9 escapes carry the code page (cp1252 for French letters)
    for line in rtf_to_text(data.decode("cp1252", "replace"), errors="ignore").splitlines():
        out.add(line)


class _Missing(Exception):
    """The program that reads this kind is not installed."""


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ANTIWORD_MEMORY, ANTIWORD_MEMORY))


def _doc(data: bytes, out: _Text) -> None:
    program = shutil.which("antiword")
    if program is None:
        raise _Missing("doc not read: antiword is not installed (apt-get install antiword)")
    try:
        # -w 0: a paragraph a line; -m UTF-8.txt: accents as they are; "-": the file on stdin
        done = subprocess.run([program, "-w", "0", "-m", "UTF-8.txt", "-"], input=data, capture_output=True,
                              timeout=DOC_MAX_SECONDS * 2, preexec_fn=_limit_memory, check=False)
    except subprocess.TimeoutExpired:
        raise _Overrun from None
    if done.returncode != 0:
        raise ValueError(f"antiword exit {done.returncode}")
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        out.add(line.strip())


READERS = {"docx": _docx, "odt": _odt, "rtf": _rtf, "doc": _doc}


def document_text(kind: str, data: bytes, defects: list[str]) -> str | None:
    """The text of a .docx, .odt, .rtf or .doc letter, bounded in size and time; None when unreadable."""
    if len(data) > (RTF_MAX_BYTES if kind == "rtf" else DOC_MAX_BYTES):
        defects.append(f"{kind} too large for text extraction")
        return None
    out = _Text()
    try:
        if kind in ("docx", "odt"):
            _check_zip(data)
        READERS[kind](data, out)
    except _Overrun:
        defects.append(f"{kind} text extraction stopped early (size or time limit)")
        if not out.parts:
            return None
    except _Missing as missing:
        defects.append(str(missing))
        return None
    except Exception as exc:  # noqa: BLE001 - broken documents fail in many ways inside the readers
        defects.append(f"{kind} text unreadable ({type(exc).__name__})")
        return None
    return out.value()
