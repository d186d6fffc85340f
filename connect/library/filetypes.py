"""What an uploaded file is, decided from its bytes (never from its name), and the allowlist.

Zip-based formats are told apart by their inner entries: OOXML by [Content_Types].xml
plus word/, xl/ or ppt/; OpenDocument and EPUB by their `mimetype` entry.
"""

from __future__ import annotations

import codecs
import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

# kind: (Content-Type served, what people call it)
TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF document"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word document",
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Spreadsheet"),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "Presentation",
    ),
    "odt": ("application/vnd.oasis.opendocument.text", "OpenDocument text"),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", "OpenDocument spreadsheet"),
    "odp": ("application/vnd.oasis.opendocument.presentation", "OpenDocument presentation"),
    "epub": ("application/epub+zip", "EPUB book"),
    "zip": ("application/zip", "ZIP archive"),
    "png": ("image/png", "PNG image"),
    "jpeg": ("image/jpeg", "JPEG image"),
    "gif": ("image/gif", "GIF image"),
    "webp": ("image/webp", "WebP image"),
    "txt": ("text/plain", "Text"),
    "md": ("text/markdown", "Markdown text"),
    "csv": ("text/csv", "CSV table"),
    # Web pages are accepted as text: served as text/plain, never as a page to render.
    "html": ("text/plain", "Web page (as text)"),
}
TEXT_KINDS = ("txt", "md", "csv", "html")
ALLOWED_LABEL = (
    "PDF, Word, Excel, PowerPoint, OpenDocument, EPUB, ZIP, text, Markdown, CSV, "
    "PNG, JPEG, GIF or WebP"
)

ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/epub+zip": "epub",
}
OOXML_FOLDERS = (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx"))
# Opening a zip reads its whole central directory into memory: beyond this, don't look in.
MAX_INSPECT_DIRECTORY_BYTES = 4 * 1024 * 1024
HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)
# Bytes that never occur in text: C0 controls other than tab, newlines and form feed, and DEL.
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class FileType:
    kind: str
    content_type: str  # with a charset for text
    charset: str = ""

    @property
    def label(self) -> str:
        return TYPES[self.kind][1]


def sniff(path: Path, filename: str = "") -> FileType | None:
    """The file's type from its content, or None when it is not on the allowlist.

    The name only chooses between text kinds (notes.md versus notes.txt): once the
    bytes are known to be text, the name cannot make them anything else.
    """
    with open(path, "rb") as f:
        head = f.read(4096)
    kind = _binary_kind(head)
    if kind == "zip":
        kind = zip_kind(path)
        if kind is None:
            return None  # a zip header on something that is no readable archive
    if kind:
        return FileType(kind, TYPES[kind][0])
    charset = text_charset(path)
    if charset is None:
        return None
    kind = _text_kind(head, filename)
    return FileType(kind, f"{TYPES[kind][0]}; charset={charset}", charset)


def _binary_kind(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    return None


def _text_kind(head: bytes, filename: str) -> str:
    if HTML_START.match(head.removeprefix(codecs.BOM_UTF8)):
        return "html"
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"md": "md", "markdown": "md", "csv": "csv", "htm": "html", "html": "html"}.get(
        suffix, "txt"
    )


def text_charset(path: Path) -> str | None:
    """ "utf-8" for valid UTF-8 without NUL; "windows-1252" for clean 8-bit text; else None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, legacy = True, True
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            if b"\x00" in chunk:
                return None
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if legacy and CONTROL_BYTES.search(chunk):
                legacy = False
            if legacy:
                try:
                    chunk.decode("cp1252")
                except UnicodeDecodeError:
                    legacy = False
            if not utf8 and not legacy:
                return None
    if utf8:
        try:
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    return "windows-1252" if legacy else None


# Zip archives ---------------------------------------------------------------------------


def zip_directory(path: Path) -> tuple[int, int] | None:
    """(entry count, central directory size) from the end record, or None if not a zip."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 65_557))
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    _, _, _, _, count, directory_size, _, _ = struct.unpack("<4sHHHHIIH", tail[at : at + 22])
    if count == 0xFFFF or directory_size == 0xFFFFFFFF:
        locator = tail.rfind(b"PK\x06\x07", 0, at)
        if locator < 0:
            return None
        (record_at,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
        with open(path, "rb") as f:
            f.seek(record_at)
            record = f.read(56)
        if len(record) < 56 or record[:4] != b"PK\x06\x06":
            return None
        count, directory_size = struct.unpack("<QQ", record[32:48])
    return count, directory_size


def zip_kind(path: Path) -> str | None:
    """docx/xlsx/pptx/odt/ods/odp/epub by the entries inside, "zip" otherwise, None if broken."""
    directory = zip_directory(path)
    if directory is None:
        return None
    if directory[1] > MAX_INSPECT_DIRECTORY_BYTES:
        return "zip"  # too many entries to look inside cheaply; still a zip
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.getinfo("mimetype").file_size <= 100:
                declared = archive.read("mimetype").decode("ascii", "replace").strip()
                if declared in ODF_MIMETYPES:
                    return ODF_MIMETYPES[declared]
            if "[Content_Types].xml" in names:
                for folder, kind in OOXML_FOLDERS:
                    if any(name.startswith(folder) for name in names):
                        return kind
            return "zip"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError):
        return None
