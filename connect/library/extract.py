"""Text from documents (PDF, DOCX, PPTX, XLSX, OpenDocument, EPUB, text, CSV, HTML), within limits.

Blocking and pure: the extractor consumer runs `extract` in a worker thread. Every
reader stops at a time budget and an output cap; archives are checked before any
entry is unpacked (entry count, unpacked size, compression ratio), so a zip bomb
fails in milliseconds instead of filling memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from posixpath import dirname, join, normpath
from urllib.parse import unquote
from xml.etree import ElementTree as ET

from connect.library.filetypes import zip_directory

logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are expected here

MB = 1024 * 1024
ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


class ExtractionFailed(Exception):
    """The file could not be read (damaged, encrypted, hostile or too slow)."""


class Unsupported(Exception):
    """The file's type has no text to extract (images, archives)."""


@dataclass(frozen=True)
class Limits:
    seconds: float = 30.0
    max_chars: int = 2_000_000
    max_pages: int = 2_000
    max_page_stream: int = 8 * MB  # a PDF page whose content is larger is skipped
    zip_entries: int = 10_000
    # Unpacked XML costs several times its size once parsed: these bound the memory.
    zip_member_bytes: int = 24 * MB
    zip_total_bytes: int = 64 * MB
    zip_ratio: int = 100  # unpacked / packed, for entries over 1 MB


@dataclass
class Extracted:
    text: str
    truncated: bool = False
    note: str = ""


class _Full(Exception):
    pass


class _OutOfTime(Exception):
    pass


class Sink:
    """Collects text units (paragraphs, cells, pages) up to the character cap and deadline."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts: list[str] = []
        self.chars = 0
        self.deadline = time.monotonic() + limits.seconds

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise _OutOfTime

    def add(self, text: str) -> None:
        self.check_time()
        text = text.replace("\x00", "")
        if not text.strip():
            return
        room = self.limits.max_chars - self.chars
        if len(text) >= room:
            self.parts.append(text[:room])
            self.chars = self.limits.max_chars
            raise _Full
        self.parts.append(text)
        self.chars += len(text) + 1

    def text(self) -> str:
        return "\n".join(self.parts)


def extract(
    path: Path, kind: str, *, charset: str = "utf-8", limits: Limits = Limits()
) -> Extracted:
    """The text of the file at `path` of the given kind (see filetypes.TYPES).

    Raises Unsupported for kinds without text and ExtractionFailed when the file
    cannot be read; running out of time or room returns what was read, marked truncated.
    """
    reader = READERS.get(kind)
    if reader is None:
        raise Unsupported(f"{kind} files have no text to extract")
    sink = Sink(limits)
    try:
        reader(path, sink, charset)
    except _Full:
        return Extracted(sink.text(), True, f"cut at {limits.max_chars:,} characters")
    except _OutOfTime:
        if sink.chars:
            return Extracted(sink.text(), True, f"stopped after {limits.seconds:g} seconds")
        raise ExtractionFailed(f"reading took longer than {limits.seconds:g} seconds") from None
    except (ExtractionFailed, Unsupported):
        raise
    except Exception as exc:  # damaged files raise anything: all of it means "unreadable"
        raise ExtractionFailed(f"the file could not be read ({type(exc).__name__})") from exc
    return Extracted(sink.text())


# Archives ------------------------------------------------------------------------------


class SafeZip:
    """A zip archive opened only after its directory is checked, entries unpacked with caps."""

    def __init__(self, path: Path, sink: Sink) -> None:
        self.sink = sink
        limits = sink.limits
        directory = zip_directory(path)
        if directory is None:
            raise ExtractionFailed("not a readable archive")
        if directory[0] > limits.zip_entries:
            raise ExtractionFailed(f"the archive has more than {limits.zip_entries:,} entries")
        self.archive = zipfile.ZipFile(path)
        self.names = set(self.archive.namelist())
        self.unpacked = 0

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc) -> None:
        self.archive.close()

    def check(self, info: zipfile.ZipInfo) -> None:
        limits = self.sink.limits
        if info.file_size > limits.zip_member_bytes:
            raise ExtractionFailed(f"{info.filename} is too large when unpacked")
        if info.file_size > MB and info.file_size > limits.zip_ratio * max(1, info.compress_size):
            raise ExtractionFailed(f"{info.filename} is compressed suspiciously well (zip bomb?)")

    def check_all(self) -> None:
        """For readers that unpack everything themselves (python-docx)."""
        total = 0
        for info in self.archive.infolist():
            self.check(info)
            total += info.file_size
        if total > self.sink.limits.zip_total_bytes:
            raise ExtractionFailed("the archive is too large when unpacked")

    def open(self, name: str) -> _Timed:
        info = self.archive.getinfo(name)
        self.check(info)
        # zipfile never returns more than the declared size, so this total is a true bound.
        self.unpacked += info.file_size
        if self.unpacked > self.sink.limits.zip_total_bytes:
            raise ExtractionFailed("the archive is too large when unpacked")
        return _Timed(self.archive.open(info), self.sink)

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def numbered(self, pattern: str) -> list[str]:
        """Entry names matching pattern (one number group), in numeric order."""
        regex = re.compile(pattern)
        found = [(int(m.group(1)), n) for n in self.names if (m := regex.fullmatch(n))]
        return [n for _, n in sorted(found)]


class _Timed:
    """A stream that checks the deadline on every read (iterparse reads 16 KB at a time)."""

    def __init__(self, stream, sink: Sink) -> None:
        self.stream, self.sink = stream, sink

    def read(self, size: int = -1) -> bytes:
        self.sink.check_time()
        if size is None or size < 0:
            chunks = []
            while chunk := self.stream.read(MB):
                self.sink.check_time()
                chunks.append(chunk)
            return b"".join(chunks)
        return self.stream.read(size)

    def __enter__(self) -> _Timed:
        return self

    def __exit__(self, *exc) -> None:
        self.stream.close()


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _units(stream, names: set[str]) -> Iterator[ET.Element]:
    """Elements with these local names as each one closes, then emptied to save memory."""
    for _, element in ET.iterparse(stream, events=("end",)):
        if _local(element.tag) in names:
            yield element
            tail = element.tail
            element.clear()
            element.tail = tail  # the tail belongs to the enclosing unit


# Office Open XML and OpenDocument ---------------------------------------------------------


def _drawingml_text(paragraph: ET.Element) -> str:
    out = []
    for e in paragraph.iter():
        name = _local(e.tag)
        if name == "t" and e.text:
            out.append(e.text)
        elif name == "br":
            out.append("\n")
    return "".join(out)


def read_pptx(path: Path, sink: Sink, charset: str) -> None:
    with SafeZip(path, sink) as z:
        slides = z.numbered(r"ppt/slides/slide(\d+)\.xml")
        notes = z.numbered(r"ppt/notesSlides/notesSlide(\d+)\.xml")
        for name in slides + notes:
            with z.open(name) as stream:
                for p in _units(stream, {"p"}):
                    sink.add(_drawingml_text(p))


def read_xlsx(path: Path, sink: Sink, charset: str) -> None:
    with SafeZip(path, sink) as z:
        if "xl/workbook.xml" in z.names:
            with z.open("xl/workbook.xml") as stream:
                for sheet in _units(stream, {"sheet"}):
                    sink.add(sheet.get("name", ""))
        shared: list[str] = []
        if "xl/sharedStrings.xml" in z.names:
            with z.open("xl/sharedStrings.xml") as stream:
                for si in _units(stream, {"si"}):
                    shared.append(_shared_string(si))
        for name in z.numbered(r"xl/worksheets/sheet(\d+)\.xml"):
            with z.open(name) as stream:
                row: list[str] = []
                for e in _units(stream, {"c", "row"}):
                    if _local(e.tag) == "row":
                        sink.add("\t".join(row))
                        row = []
                    else:
                        row.append(_cell_value(e, shared))


def _shared_string(si: ET.Element) -> str:
    out = []

    def walk(e: ET.Element) -> None:
        for child in e:
            name = _local(child.tag)
            if name == "rPh":  # phonetic reading, not part of the value
                continue
            if name == "t":
                out.append(child.text or "")
            else:
                walk(child)

    walk(si)
    return "".join(out)


def _cell_value(cell: ET.Element, shared: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter() if _local(t.tag) == "t")
    value = next((c.text or "" for c in cell if _local(c.tag) == "v"), "")
    if kind == "s":
        try:
            return shared[int(value)]
        except (ValueError, IndexError):
            return ""
    return value


def _odf_text(paragraph: ET.Element) -> str:
    out: list[str] = []

    def walk(e: ET.Element) -> None:
        name = _local(e.tag)
        if name == "s":
            count = e.get(f"{{{ODF_TEXT}}}c", "1")
            out.append(" " * min(int(count) if count.isdigit() else 1, 1000))
        elif name == "tab":
            out.append("\t")
        elif name == "line-break":
            out.append("\n")
        else:
            out.append(e.text or "")
            for child in e:
                walk(child)
                out.append(child.tail or "")

    walk(paragraph)
    return "".join(out)


def read_odf(path: Path, sink: Sink, charset: str) -> None:
    with SafeZip(path, sink) as z:
        if "content.xml" not in z.names:
            raise ExtractionFailed("content.xml is missing")
        with z.open("content.xml") as stream:
            for p in _units(stream, {"p", "h"}):
                sink.add(_odf_text(p))


def read_docx(path: Path, sink: Sink, charset: str) -> None:
    import docx
    from docx.table import Table

    with SafeZip(path, sink) as z:
        z.check_all()  # python-docx unpacks every part itself
    document = docx.Document(str(path))

    def blocks(container) -> None:
        for block in container.iter_inner_content():
            sink.check_time()
            if isinstance(block, Table):
                seen: set[int] = set()
                for row in block.rows:
                    for cell in row.cells:
                        if id(cell._tc) not in seen:  # merged cells repeat
                            seen.add(id(cell._tc))
                            blocks(cell)
            else:
                sink.add(block.text)

    blocks(document)


def read_epub(path: Path, sink: Sink, charset: str) -> None:
    with SafeZip(path, sink) as z:
        container = ET.fromstring(z.read("META-INF/container.xml"))
        rootfile = next((e for e in container.iter() if _local(e.tag) == "rootfile"), None)
        if rootfile is None or not rootfile.get("full-path"):
            raise ExtractionFailed("the book has no package document")
        opf_path = rootfile.get("full-path")
        package = ET.fromstring(z.read(opf_path))
        manifest = {
            e.get("id"): e.get("href", "") for e in package.iter() if _local(e.tag) == "item"
        }
        spine = [e.get("idref") for e in package.iter() if _local(e.tag) == "itemref"]
        for idref in spine:
            href = manifest.get(idref)
            if not href:
                continue
            name = normpath(join(dirname(opf_path), unquote(href.split("#")[0])))
            if name in z.names:
                html_units(z.read(name).decode("utf-8", "replace"), sink)


# PDF ---------------------------------------------------------------------------------------


def read_pdf(path: Path, sink: Sink, charset: str) -> None:
    from pypdf import PdfReader

    reader = PdfReader(str(path), strict=False)
    if reader.is_encrypted:
        try:
            unlocked = reader.decrypt("")
        except Exception:
            unlocked = 0
        if not unlocked:
            raise ExtractionFailed("the PDF is encrypted")
    pages = reader.pages
    count = len(pages)
    failures = 0
    for number in range(min(count, sink.limits.max_pages)):
        sink.check_time()
        try:
            page = pages[number]
            contents = page.get_contents()
            if contents is not None and len(contents.get_data()) > sink.limits.max_page_stream:
                continue  # a page this heavy would take minutes to lay out
            text = page.extract_text() or ""
        except (_Full, _OutOfTime):
            raise
        except Exception:
            failures += 1
            continue
        sink.add(text)
    if failures and not sink.chars:
        raise ExtractionFailed("no page of the PDF could be read")
    if count > sink.limits.max_pages:
        raise _Full


# Text, CSV and HTML ---------------------------------------------------------------------------


def _decoded_chunks(path: Path, charset: str, sink: Sink) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(charset or "utf-8")(errors="replace")
    with open(path, "rb") as f:
        while chunk := f.read(MB):
            sink.check_time()
            yield decoder.decode(chunk).lstrip("\ufeff")
        yield decoder.decode(b"", final=True)


def read_text(path: Path, sink: Sink, charset: str) -> None:
    carry = ""
    for text in _decoded_chunks(path, charset, sink):
        lines = (carry + text).rsplit("\n", 1)
        carry = lines.pop()
        if lines:
            sink.add(lines[0])
    sink.add(carry)


def read_csv(path: Path, sink: Sink, charset: str) -> None:
    text = "".join(_decoded_chunks(path, charset, sink))
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            sink.add("\t".join(row))
    except csv.Error:  # not really CSV after all: keep its text as it is
        sink.parts, sink.chars = [], 0
        sink.add(text)


BLOCK_TAGS = {
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "pre", "td", "th", "dt", "dd", "tr",
    "blockquote", "div", "section", "article", "header", "footer", "caption", "figcaption",
    "title", "br", "hr", "table", "ul", "ol", "dl", "body", "address",
}  # fmt: skip
SKIPPED_TAGS = {"script", "style", "template", "noscript", "svg", "math"}


class _HTMLText(HTMLParser):
    """Text of an HTML page, one unit per block element; scripts and styles left out."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__(convert_charrefs=True)
        self.emit = emit
        self.buffer: list[str] = []
        self.skipping = 0

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if text:
            self.emit(text)

    def handle_starttag(self, tag, attrs) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.flush()

    def handle_startendtag(self, tag, attrs) -> None:
        if tag in BLOCK_TAGS:
            self.flush()

    def handle_endtag(self, tag) -> None:
        if tag in SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in BLOCK_TAGS:
            self.flush()

    def handle_data(self, data) -> None:
        if not self.skipping:
            self.buffer.append(data)


def html_units(text: str, sink: Sink) -> None:
    parser = _HTMLText(sink.add)
    for at in range(0, len(text), 256 * 1024):
        sink.check_time()
        parser.feed(text[at : at + 256 * 1024])
    parser.close()
    parser.flush()


def read_html(path: Path, sink: Sink, charset: str) -> None:
    parser = _HTMLText(sink.add)
    for text in _decoded_chunks(path, charset, sink):
        parser.feed(text)
    parser.close()
    parser.flush()


READERS: dict[str, Callable[[Path, Sink, str], None]] = {
    "pdf": read_pdf,
    "docx": read_docx,
    "pptx": read_pptx,
    "xlsx": read_xlsx,
    "odt": read_odf,
    "ods": read_odf,
    "odp": read_odf,
    "epub": read_epub,
    "txt": read_text,
    "md": read_text,
    "csv": read_csv,
    "html": read_html,
}
