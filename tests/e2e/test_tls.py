"""A group session through a TLS front: Debian's Caddy on 127.0.0.1, terminating TLS with its
internal certificate authority for two `chatham-server` processes on one PostgreSQL (round
robin, so every member's requests land on both). Members trust that CA through
CHATHAM_CA_FILE; a certificate that is not trusted, or not for the address asked, is refused
with a clear error, and nothing reaches the server, over TLS or plain HTTP.

Caddy is installed with apt-get where missing (as the PostgreSQL tests start their database);
without it these tests fail, never skip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from chatham.client import Account, errors
from chatham.server import Settings
from chatham.server.testing import TlsFront, caddy_front

from tests.support.cli_member import CliMember
from tests.support.client_fixtures import admit
from tests.support.server_dbutil import scalar_rows
from tests.support.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PASSPHRASE = "tls passphrase"
OPEN = ["--rate-auth", "0", "--rate-join", "0"]


@pytest.fixture
def front(tmp_path: Path, fresh_postgres_database: str) -> Iterator[tuple[TlsFront, Settings]]:
    behind = {"CHATHAM_SERVER_TRUSTED_PROXIES": "127.0.0.1"}  # as docs/operations.md says
    one = ServerProcess(tmp_path / "a", fresh_postgres_database, args=OPEN, env=behind)
    two = ServerProcess(tmp_path / "b", fresh_postgres_database, args=OPEN, env=behind)
    with one, two, caddy_front(tmp_path / "caddy", [one.host, two.host]) as tls:
        yield tls, Settings(database_url=fresh_postgres_database, data_dir=tmp_path / "a")


def _count(settings: Settings, table: str) -> int:
    [n] = scalar_rows(settings, sa.text(f"SELECT count(*) FROM {table}"))
    return int(n)


def test_a_group_meets_through_caddy_with_a_private_ca(
    front: tuple[TlsFront, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls, _ = front
    assert tls.url.startswith("https://")
    monkeypatch.setenv("CHATHAM_CA_FILE", str(tls.ca_file))
    names = ("Dana", "Sam", "Ana")
    accounts = [Account.init(tmp_path / n, passphrase=PASSPHRASE, name=n) for n in names]
    try:
        dana = accounts[0].create_group("Forum", tls.url)
        groups = [dana, *admit(dana, *accounts[1:])]
        _, sam, ana = groups

        # The event stream passes through the proxy: Ana hears Sam's post as it happens.
        heard: list[tuple[int, int]] = []

        def listen() -> None:
            for change in ana.changes(read_timeout=20, until=time.monotonic() + 20):
                heard.append(change)
                if change[0] >= 1:
                    return

        listener = threading.Thread(target=listen)
        listener.start()
        time.sleep(1.0)
        sam.post(b"minutes of the first meeting")
        listener.join(timeout=25)
        assert heard
        assert heard[-1][0] >= 1

        # An attachment, uploaded and fetched through the proxy.
        journal = dana.journal()
        issue = journal.new_issue(title="Budget")
        doc = tmp_path / "budget.pdf"
        doc.write_bytes(bytes(range(256)) * 700)  # three chunks
        posted, _ = journal.attach(journal.item(issue.id), doc)
        dana.checkpoint()

        for g in groups:
            assert g.sync().alarms == ()
            assert b"minutes of the first meeting" in [e.body for e in g.entries()]
            assert g.verify().ok
        assert len({g.meeting_code() for g in groups}) == 1
        saved = ana.journal().save_attachment(posted.id, tmp_path / "fetched.pdf")
        assert saved.path.read_bytes() == doc.read_bytes()
    finally:
        for a in accounts:
            a.close()


def test_a_second_device_and_a_recovery_kit_trust_the_same_private_ca(
    front: tuple[TlsFront, Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linking a device, opening it and making a kit talk to the server before the new home
    has an account of its own: they trust CHATHAM_CA_FILE as every other request does."""
    tls, _ = front
    monkeypatch.setenv("CHATHAM_CA_FILE", str(tls.ca_file))
    with Account.init(tmp_path / "dana", passphrase=PASSPHRASE, name="Dana") as dana:
        dana.create_group("Forum", tls.url).post(b"before the laptop")
        kit = dana.recovery_kit()
        assert kit.servers == (tls.url,)
        words = Account.add_device(
            dana.link_device().line, tmp_path / "laptop", passphrase=PASSPHRASE
        )
        dana.confirm_device(words)
        with Account.open(tmp_path / "laptop", passphrase=PASSPHRASE) as laptop:
            assert laptop.member_id == dana.member_id
            assert b"before the laptop" in [e.body for e in laptop.group().entries()]


def test_an_untrusted_certificate_is_refused_and_nothing_reaches_the_server(
    front: tuple[TlsFront, Settings], tmp_path: Path
) -> None:
    tls, settings = front
    port = tls.url.rsplit(":", 1)[1]
    wrong_name = f"https://127.0.0.2:{port}"  # same Caddy, certificate for 127.0.0.1
    member = CliMember("Dana", tmp_path, PASSPHRASE)

    # No CHATHAM_CA_FILE: the system store does not know Caddy's private CA.
    code, out, err = member("group", "create", "Forum", "--server", tls.url)
    assert code != 0
    assert out == ""
    assert "chatham: error: the certificate of " + tls.url + " is not trusted" in err
    assert "unable to get local issuer certificate" in err
    assert "CHATHAM_CA_FILE" in err
    assert "never switch to http://" in err

    # The CA is trusted, but the certificate is not for the address asked.
    member.env["CHATHAM_CA_FILE"] = str(tls.ca_file)
    code, out, err = member("group", "create", "Forum", "--server", wrong_name)
    assert code != 0
    assert "is not trusted: ip address mismatch" in err.lower()

    # A CA file that cannot be read is said so, before anything is sent.
    member.env["CHATHAM_CA_FILE"] = str(tmp_path / "missing.pem")
    code, _, err = member("group", "create", "Forum", "--server", tls.url)
    assert code != 0
    assert "cannot read the certificate authority in CHATHAM_CA_FILE" in err

    # Not one request reached a server process, over TLS or over plain HTTP: no login was
    # even begun, and no group exists.
    for table in ("auth_challenges", "tokens", "groups"):
        assert _count(settings, table) == 0, table

    # With the right CA and address the same command works.
    member.env["CHATHAM_CA_FILE"] = str(tls.ca_file)
    code, _, err = member("group", "create", "Forum", "--server", tls.url)
    assert code == 0, err
    assert _count(settings, "groups") == 1


def test_a_refused_certificate_reads_as_plain_words_in_the_web_app() -> None:
    from chatham.client.web.words import explain

    said = explain(errors.CertificateRefused("the certificate of https://x is not trusted"))
    assert said.title == "This computer does not trust the server's certificate"
    assert "CHATHAM_CA_FILE" in (said.todo or "")
