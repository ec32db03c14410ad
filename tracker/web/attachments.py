"""An attachment's file, for those who may see its thread: ``/-/attachments/ID`` (ID as in the
``attachments`` table, tilde-encoded as Datasette's row URLs are). The bytes are in the private store, which the web process never opens
(DESIGN.md, "Who sees what"): a short-lived child, ``tracker attachment-bytes ID``, reads the
raw message there and writes the part whose SHA-256 is the attachment's to its stdout. Never
through SQL. Always sent as a download (``Content-Disposition: attachment``, ``nosniff``), so a
file cannot run in tracker's pages. With logins, anonymous visitors get the login page.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import sys
from urllib.parse import quote

from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import Response

from .settings import DATABASE_NAME

ROUTE = r"/-/attachments/(?P<id>[^/]+)$"
CHILD_SECONDS = 30


def part_bytes(raw: bytes, sha256: str) -> bytes | None:
    """The decoded body of the part of message ``raw`` whose SHA-256 is ``sha256``, or None."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if data is not None and hashlib.sha256(data).hexdigest() == sha256:
            return data
    return None


def attachment_url(datasette, attachment_id: str) -> str:
    return datasette.urls.path("/-/attachments/" + tilde_encode(str(attachment_id)))


def scan_url(datasette, scan_id: int) -> str:
    return datasette.urls.path(f"/-/scans/{int(scan_id)}")


async def attachment(request, datasette):
    """Send attachment ``id``'s bytes to a visitor who may see its thread."""
    return await _send(request, datasette, tilde_decode(request.url_vars["id"]), scan=False)


async def scan(request, datasette):
    """Send a postal scan's bytes (the desk's ``scans``, bytes in the private ``scan_files``)."""
    return await _send(request, datasette, request.url_vars["id"], scan=True)


async def _send(request, datasette, item_id: str, scan: bool) -> Response:
    config = datasette._tracker_config
    if config.auth.password_hashes and not request.actor:
        return Response.redirect(datasette.urls.path("/-/login"))
    sql = ("select filename, content_type from scans where id = ?" if scan else
           "select a.filename, a.content_type from attachments a join messages m on m.message_id = a.message_id "
           "where a.id = ?")
    found = (await datasette.get_database(DATABASE_NAME).execute(sql, [item_id])).first()
    if found is None:
        return Response.text("Not found", status=404)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tracker", "--config", str(config.path), "attachment-bytes",
        *(["--scan"] if scan else []), item_id,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        data, _ = await asyncio.wait_for(child.communicate(), CHILD_SECONDS)
    except asyncio.TimeoutError:
        child.kill()
        await child.wait()
        return Response.text("The file took too long to read.", status=504)
    if child.returncode != 0:
        return Response.text("Not found", status=404)
    name = found["filename"] or "piece-jointe"
    content_type = found["content_type"] if (found["content_type"] or "").count("/") == 1 else "application/octet-stream"
    return Response(data, content_type=content_type, headers={
        "content-disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
        "cache-control": "private, no-store"})


def routes() -> list:
    return [(ROUTE, attachment), (r"/-/scans/(?P<id>\d+)$", scan)]
