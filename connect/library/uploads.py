"""Receiving uploads: multipart bodies parsed as a stream, straight into temporary blobs.

Nothing is held in memory but the current chunk and a small write buffer. The size
limit is counted as bytes arrive (413 without reading the rest); each file's type is
decided from its content once it is complete (415 otherwise). Files stay in the
storage's temporary folder until the service commits them with their rows; whatever
is not committed is removed when `receive` ends, however it ends.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect, Request

from connect.errors import BadRequest, Invalid, TooLarge, UnsupportedType
from connect.library.filetypes import ALLOWED_LABEL, FileType, sniff
from connect.markup import BODY_MAX
from connect.storage import BlobWriter, PendingBlob, Storage
from connect.web import check_csrf, ctx, form_data, viewer

# A text field's bytes: room for the longest post (BODY_MAX characters) in any script, so
# that the post's own check, which keeps the text in the form, is the one that refuses it.
FIELD_MAX_BYTES = 4 * BODY_MAX
MAX_FIELDS = 50
FORM_ALLOWANCE = 1024 * 1024  # room for headers and text fields beside the files
WRITE_BUFFER = 2 * 1024 * 1024
PARSE_SLICE = 256 * 1024
FILENAME_MAX = 255
# Invisible characters that can disguise a name: bidirectional overrides and isolates,
# zero-width characters, the byte order mark.
DISGUISING = {
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\ufeff",
}  # fmt: skip


@dataclass
class ReceivedFile:
    field: str
    filename: str  # display text only, already cleaned
    blob: PendingBlob
    type: FileType

    @property
    def size(self) -> int:
        return self.blob.size


@dataclass
class Upload:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[ReceivedFile] = field(default_factory=list)

    def text(self, name: str) -> str:
        return next((v for k, v in self.fields if k == name), "")

    def form(self) -> FormData:
        return FormData(self.fields)


def clean_filename(raw: str) -> str:
    """A filename reduced to safe display text: no path, controls or direction tricks."""
    name = unicodedata.normalize("NFC", raw)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
        for c in name
        if c not in DISGUISING
    )
    name = " ".join(name.split()).strip(" .")
    if len(name) > FILENAME_MAX:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 16:
            name = stem[: FILENAME_MAX - len(suffix) - 1].rstrip() + "." + suffix
        else:
            name = name[:FILENAME_MAX].rstrip()
    return name or "file"


def limit_for(request: Request) -> int:
    return ctx(request).settings.max_upload_bytes


@asynccontextmanager
async def receive(
    request: Request,
    *,
    file_fields: tuple[str, ...] = ("file",),
    max_files: int = 20,
    csrf: bool = False,
) -> AsyncIterator[Upload]:
    """Parse a multipart upload into text fields and verified temporary blobs.

    `csrf`: the form's csrf_token field must come before any file (HTML forms put it
    first), so that a forged form is refused before a byte of its files is stored.
    """
    upload = Upload()
    storage: Storage = ctx(request).storage
    try:
        try:
            await _parse(request, upload, storage, file_fields, max_files, csrf)
        except (Invalid, TooLarge, UnsupportedType) as exc:
            exc.form = upload.form()  # the fields read so far, to fill the form in again
            raise
        yield upload
    finally:
        for received in upload.files:
            await asyncio.to_thread(storage.discard, received.blob)


async def _parse(request, upload, storage, file_fields, max_files, csrf) -> None:
    limit = limit_for(request)
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        if csrf:
            await form_data(request)  # a forged form is refused as forged (403) first
        raise BadRequest("Send the files as multipart/form-data.", code="not_multipart")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_ALLOWANCE:
        raise _too_large(limit)
    receiver = _Receiver(request, upload, storage, file_fields, max_files, csrf, limit)
    try:
        parser = MultipartParser(options[b"boundary"], receiver.callbacks())
        async for chunk in request.stream():
            receiver.received += len(chunk)
            if receiver.received > limit + FORM_ALLOWANCE:
                raise _too_large(limit)
            # Slices keep the queued actions small whatever size the server's chunks are.
            for at in range(0, len(chunk), PARSE_SLICE):
                parser.write(chunk[at : at + PARSE_SLICE])
                await receiver.run_actions()
        parser.finalize()
        await receiver.run_actions()
    except FormParserError:
        raise BadRequest("The upload could not be read.", code="bad_multipart") from None
    except ClientDisconnect:
        raise BadRequest("The upload was interrupted.", code="incomplete_upload") from None
    finally:
        await receiver.abort_current()
    if not receiver.ended:
        raise BadRequest("The upload was interrupted.", code="incomplete_upload")
    if csrf and not receiver.csrf_checked:
        check_csrf(request, upload.text("csrf_token"))


def _too_large(limit: int) -> TooLarge:
    message = f"Uploads are limited to {limit // (1024 * 1024)} MB."
    return TooLarge(message, fields={"file": message})


class _Receiver:
    """Parser callbacks queue actions; the async loop runs them (file writes in a thread)."""

    def __init__(self, request, upload, storage, file_fields, max_files, csrf, limit) -> None:
        self.request, self.upload, self.storage = request, upload, storage
        self.file_fields, self.max_files, self.csrf, self.limit = (
            file_fields,
            max_files,
            csrf,
            limit,
        )
        self.csrf_checked = False
        self.received = 0
        self.file_bytes = 0
        self.ended = False
        self.actions: list[tuple] = []
        self.headers: dict[bytes, bytes] = {}
        self.header_name = b""
        self.header_value = b""
        self.part: dict | None = None
        self.writer: BlobWriter | None = None
        self.buffer = bytearray()
        self.writing: asyncio.Future | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": lambda: self.actions.append(("end",)),
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    # Callbacks (synchronous, inside parser.write) ------------------------------------

    def on_part_begin(self) -> None:
        self.headers, self.header_name, self.header_value = {}, b"", b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]
        if len(self.header_value) > 8192:
            raise BadRequest("A part header is too long.", code="bad_multipart")

    def on_header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in options:
            raw = options[b"filename"].decode("utf-8", "replace")
            self.actions.append(("file", name, raw))
        else:
            self.actions.append(("field", name))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.actions.append(("data", data[start:end]))

    def on_end(self) -> None:
        self.ended = True

    # Actions (asynchronous, between chunks) --------------------------------------------

    async def run_actions(self) -> None:
        actions, self.actions = self.actions, []
        for action in actions:
            kind = action[0]
            if kind == "data":
                await self._data(action[1])
            elif kind == "file":
                await self._begin_file(action[1], action[2])
            elif kind == "field":
                if len(self.upload.fields) >= MAX_FIELDS:
                    raise BadRequest("The form has too many fields.", code="bad_multipart")
                self.part = {"field": action[1], "value": bytearray()}
            elif kind == "end":
                await self._end_part()

    async def _begin_file(self, name: str, raw_filename: str) -> None:
        if self.csrf and not self.csrf_checked:
            check_csrf(self.request, self.upload.text("csrf_token"))
            self.csrf_checked = True
        if name not in self.file_fields:
            raise BadRequest(f"Unexpected file field {name!r}.", code="bad_multipart")
        if len(self.upload.files) >= self.max_files:
            message = f"Send at most {self.max_files} files at once."
            raise Invalid(message, fields={"file": message})
        self.part = {"field": name, "filename": raw_filename}
        self.writer = await asyncio.to_thread(
            self.storage.writer, max_bytes=self.limit - self.file_bytes
        )

    async def _data(self, data: bytes) -> None:
        if self.part is None:
            return
        if self.writer is None:
            value = self.part["value"]
            if len(value) + len(data) > FIELD_MAX_BYTES:
                raise TooLarge("A form field is too long.")
            value.extend(data)
            return
        self.file_bytes += len(data)
        if self.file_bytes > self.limit:
            raise _too_large(self.limit)
        self.buffer.extend(data)
        if len(self.buffer) >= WRITE_BUFFER:
            await self._flush()

    async def _flush(self, *, wait: bool = False) -> None:
        """Hand the buffer to a thread; parsing goes on while it hashes and writes
        (at most one write in flight, so memory stays at two buffers)."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await writing
        if self.buffer and self.writer is not None:
            data, self.buffer = bytes(self.buffer), bytearray()
            self.writing = asyncio.ensure_future(asyncio.to_thread(self.writer.write, data))
            if wait:
                writing, self.writing = self.writing, None
                await writing

    async def _end_part(self) -> None:
        part, self.part = self.part, None
        if part is None:
            return
        if self.writer is None:
            self.upload.fields.append((part["field"], part["value"].decode("utf-8", "replace")))
            if part["field"] == "csrf_token" and self.csrf and not self.csrf_checked:
                check_csrf(self.request, self.upload.text("csrf_token"))
                self.csrf_checked = True
            return
        await self._flush(wait=True)
        writer, self.writer = self.writer, None
        blob = await asyncio.to_thread(writer.finish)
        raw_name = part["filename"]
        if blob.size == 0 and not raw_name:
            await asyncio.to_thread(self.storage.discard, blob)  # a file input left empty
            return
        filename = clean_filename(raw_name)
        # Kept before sniffing, so that any refusal below still removes it.
        received = ReceivedFile(part["field"], filename, blob, FileType("", ""))
        self.upload.files.append(received)
        if blob.size == 0:
            message = f"{filename} is empty."
            raise Invalid(message, fields={"file": message})
        found = await asyncio.to_thread(sniff, blob.tmp, filename)
        if found is None:
            message = f"{filename}: this type of file is not accepted. Upload {ALLOWED_LABEL}."
            raise UnsupportedType(message, fields={"file": message})
        received.type = found

    async def abort_current(self) -> None:
        if self.writing is not None:
            writing, self.writing = self.writing, None
            await asyncio.gather(writing, return_exceptions=True)  # let the thread finish
        if self.writer is not None:
            writer, self.writer = self.writer, None
            await asyncio.to_thread(writer.abort)


@asynccontextmanager
async def post_form(request: Request, *, max_files: int = 5):
    """(form, files) of an HTML form that may carry files: streamed when multipart,
    else read as usual. Either way its CSRF token is checked."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        await viewer(request)
        async with receive(request, max_files=max_files, csrf=True) as upload:
            yield upload.form(), upload.files
    else:
        form = await form_data(request)
        yield form, []


@asynccontextmanager
async def json_or_multipart(request: Request, *, max_files: int = 5):
    """An API body that is JSON, or multipart with files (the @api wrapper checked CSRF)."""
    from connect.web import json_body

    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with receive(request, max_files=max_files) as upload:
            yield dict(upload.fields), upload.files
    else:
        yield await json_body(request), []
