"""An upload the server dies in the middle of: the member is told attachments are not queued
and what happens to the part sent; it is deleted at the next sync, freeing the group's space."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from chatham.client import Account
from chatham.client import errors as E

from tests.support.client_fixtures import SERVER_URL, Person, form_group


class Flaky(httpx.BaseTransport):
    """The real app, until `die_after` chunk uploads; then no connection at all."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.die_after: int | None = None
        self.chunks = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.die_after is not None:
            if "/chunks/" in request.url.path and request.method == "PUT":
                self.chunks += 1
            if self.chunks > self.die_after:
                raise httpx.ConnectError("the server went away", request=request)
        return self.inner.handle_request(request)


def test_an_upload_the_server_dies_in_is_named_and_cleaned_up(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    flaky = Flaky(server._transport)
    with httpx.Client(transport=flaky, base_url=SERVER_URL) as http:
        dana: Account = person("Dana", http=http)
        [g] = form_group(dana)
        journal = g.journal()
        issue = journal.new_issue(title="Contract")
        big = tmp_path / "contract.pdf"
        big.write_bytes(bytes(5 * 65536 + 10))
        flaky.die_after = 2
        with pytest.raises(E.Unreachable) as stopped:
            journal.attach(journal.item(issue.id), big)
        assert stopped.value.message.startswith("the upload of contract.pdf stopped at 40%: ")
        assert stopped.value.hint == (
            "attachments are not queued: run `chatham attach` again once the server is back; "
            "the part already sent is deleted from the server at your next sync"
        )
        [blob] = g.stopped_uploads
        flaky.die_after = None  # the server is back
        info = g._api().attachment_info(g.id_bytes, bytes.fromhex(blob))
        assert info.chunks == 2  # the orphaned chunks hold the group's space until then
        g.sync()
        assert g.stopped_uploads == []
        with pytest.raises(E.ServerError):
            g._api().attachment_info(g.id_bytes, bytes.fromhex(blob))
        # Attaching again works as if nothing had happened.
        posted, ref = journal.attach(journal.item(issue.id), big)
        assert ref.size == big.stat().st_size
        assert not posted.queued


class NoPosts(httpx.BaseTransport):
    """The real app, except that entry posts find no server while `down` is set."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "POST" and request.url.path.endswith("/entries"):
            raise httpx.ConnectError("the server went away", request=request)
        return self.inner.handle_request(request)


def test_an_upload_is_finished_by_naming_its_comment_even_when_the_comment_was_queued(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    # The server deletes an upload no entry names within a day: the client names the comment,
    # at once when it was sent, or at the sync that sends it when it was queued.
    transport = NoPosts(server._transport)
    with httpx.Client(transport=transport, base_url=SERVER_URL) as http:
        dana: Account = person("Dana", http=http)
        [g] = form_group(dana)
        journal = g.journal()
        issue = journal.new_issue(title="Contract")
        src = tmp_path / "contract.pdf"
        src.write_bytes(bytes(70_000))
        sent, _ = journal.attach(journal.item(issue.id), src)
        assert not sent.queued
        transport.down = True
        queued, _ = journal.attach(journal.item(issue.id), src)
        assert queued.queued
        assert sorted(u.finished for u in g.uploads()) == [False, True]
        transport.down = False
        g.sync()
        uploads = g.uploads()
        assert len(uploads) == 2
        assert all(u.finished for u in uploads)
        assert {u.uploader for u in uploads} == {"Dana"}
