"""Delivery against a real SMTP server (aiosmtpd on 127.0.0.1) and into an outbox folder."""

from __future__ import annotations

import email
import email.policy
import logging
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from alerts.delivery import (
    DeliveryError,
    SmtpSettings,
    check_smtp,
    outbox_name,
    send_smtp,
    write_outbox,
)

SENDER = "alerts@news.example.org"
SIMPLE = b"From: alerts@news.example.org\r\nSubject: x\r\n\r\nbody\r\n"

# The AUTH test server allows AUTH without TLS, and aiosmtpd says so on every connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def send(digest, server, **settings):
    send_smtp(
        digest.message.as_bytes(),
        sender=SENDER,
        recipients=digest.recipients,
        settings=server.settings(**settings),
    )


# --- SMTP: a digest end to end -----------------------------------------------------------------


def test_send_digest_over_smtp(smtp_server, sample_digest, sample_items):
    send(sample_digest, smtp_server)

    [received] = smtp_server.handler.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == ["analyst@example.com", "desk@example.net"]
    assert received.data.rstrip(b"\r\n") == sample_digest.message.as_bytes().rstrip(b"\r\n")

    message = parse(received.data)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["Subject"] == "Russia–Taliban: 1 story, 3 articles — 23 Nov"
    assert message["From"] == "newsmon <alerts@news.example.org>"
    assert message["To"] == "analyst@example.com, desk@example.net"
    assert message["Message-ID"] == sample_digest.message_id
    pattern = r"<digest\.russia-taliban\.[0-9a-f]{16}@news\.example\.org>"
    assert re.fullmatch(pattern, message["Message-ID"])
    assert message["Date"] == "Mon, 23 Nov 2026 07:30:00 +0000"

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for item in sample_items:
        assert item.title in text
        assert item.url in text
        assert item.url.replace("&", "&amp;") in html
    assert "Taliban delegation in Kazan" in html and "Moscow keeps aid flowing to Kabul" in html
    assert "matched: Russia, Taliban" in text and "matched: Russia, Taliban" in html
    # The hostile title is escaped in HTML and left alone in the text part.
    assert "<script>" not in html and "&lt;script&gt;alert(" in html
    assert "<script>alert('x')</script>" in text
    # Story 70's two articles are one entry listing both sources; the single article follows
    # in the compact "Also matched" list.
    assert re.findall(r"^\d+\. ", text, flags=re.MULTILINE) == ["1. "]
    story = text.split("\nAlso matched\n")[0]
    assert "News One" in story and "Wire Two" in story and "2 sources" in story
    assert "Feed https://feeds.example/rss failing: HTTP 404" in html


def test_resending_stored_bytes_sends_the_same_message(smtp_server, sample_digest):
    stored = sample_digest.message.as_bytes()
    send_smtp(stored, sender=SENDER, recipients=["a@example.com"], settings=smtp_server.settings())
    send_smtp(stored, sender=SENDER, recipients=["a@example.com"], settings=smtp_server.settings())
    first, second = smtp_server.handler.received
    assert first.data == second.data
    assert parse(first.data)["Message-ID"] == parse(second.data)["Message-ID"]


def test_send_accepts_an_email_message(smtp_server, sample_digest):
    send_smtp(
        sample_digest.message,
        sender=SENDER,
        recipients=["a@example.com"],
        settings=smtp_server.settings(),
    )
    [received] = smtp_server.handler.received
    assert parse(received.data)["Message-ID"] == sample_digest.message_id


def test_bare_newlines_go_out_as_crlf(smtp_server):
    raw = b"From: a@example.org\nTo: b@example.org\nSubject: hi\n\nline one\nline two\n"
    send_smtp(raw, sender=SENDER, recipients=["b@example.org"], settings=smtp_server.settings())
    [received] = smtp_server.handler.received
    assert received.data.rstrip(b"\r\n") == raw.replace(b"\n", b"\r\n").rstrip(b"\r\n")


def test_no_recipients_is_an_error(smtp_server, sample_digest):
    with pytest.raises(ValueError):
        send_smtp(b"x", sender=SENDER, recipients=[], settings=smtp_server.settings())


# --- SMTP: failures ----------------------------------------------------------------------------


def test_closed_port_is_unreachable_and_temporary(sample_digest):
    port = closed_port()
    settings = SmtpSettings(host="127.0.0.1", port=port, timeout=5.0)
    with pytest.raises(DeliveryError) as info:
        send_smtp(b"x", sender=SENDER, recipients=["a@example.com"], settings=settings)
    assert str(info.value) == f"SMTP 127.0.0.1:{port} unreachable: connection refused"
    assert info.value.permanent is False
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("stage", "reply", "permanent", "what"),
    [
        ("rcpt", "550 5.1.1 No such user here", True, "refused the recipient a@example.com"),
        ("data", "550 5.7.1 Message rejected as spam", True, "refused the message"),
        ("rcpt", "451 4.3.0 Try again later", False, "refused the recipient a@example.com"),
        ("data", "451 4.3.0 Greylisted, try again later", False, "refused the message"),
    ],
)
def test_server_refusals(smtp_server, sample_digest, stage, reply, permanent, what):
    setattr(smtp_server.handler, f"{stage}_reply", reply)
    with pytest.raises(DeliveryError) as info:
        send_smtp(
            sample_digest.message.as_bytes(),
            sender=SENDER,
            recipients=["a@example.com"],
            settings=smtp_server.settings(),
        )
    error = info.value
    assert str(error) == f"SMTP 127.0.0.1:{smtp_server.port} {what}: {reply}"
    assert error.permanent is permanent
    assert error.code == int(reply[:3])
    assert smtp_server.handler.received == []


def test_some_recipients_refused_counts_as_sent(smtp_server, sample_digest, caplog):
    smtp_server.handler.refuse_rcpt = {"gone@example.com"}
    with caplog.at_level(logging.WARNING, logger="alerts.delivery"):
        send_smtp(
            sample_digest.message.as_bytes(),
            sender=SENDER,
            recipients=["a@example.com", "gone@example.com"],
            settings=smtp_server.settings(),
        )
    [received] = smtp_server.handler.received
    assert received.rcpt_tos == ["a@example.com"]
    assert "gone@example.com" in caplog.text and "550" in caplog.text


def test_login(smtp_auth_server, sample_digest):
    settings = smtp_auth_server.settings(username="newsmon", password="s3cret")
    send_smtp(SIMPLE, sender=SENDER, recipients=["a@example.com"], settings=settings)
    assert len(smtp_auth_server.handler.received) == 1
    check_smtp(settings)


def test_wrong_password_is_permanent(smtp_auth_server):
    settings = smtp_auth_server.settings(username="newsmon", password="wrong")
    with pytest.raises(DeliveryError) as info:
        send_smtp(b"x", sender=SENDER, recipients=["a@example.com"], settings=settings)
    assert str(info.value).startswith(
        f"SMTP 127.0.0.1:{smtp_auth_server.port} refused the login: 535"
    )
    assert info.value.permanent is True


def test_missing_login_is_permanent(smtp_auth_server):
    settings = smtp_auth_server.settings()
    with pytest.raises(DeliveryError) as info:
        send_smtp(SIMPLE, sender=SENDER, recipients=["a@example.com"], settings=settings)
    assert "refused the sender" in str(info.value) and "530" in str(info.value)
    assert info.value.permanent is True


def test_starttls_not_offered(smtp_server):
    with pytest.raises(DeliveryError) as info:
        check_smtp(smtp_server.settings(security="starttls"))
    assert str(info.value) == f"SMTP 127.0.0.1:{smtp_server.port} does not offer STARTTLS"
    assert info.value.permanent is True


def test_starttls(smtp_starttls_server, trust_test_certificate, sample_digest):
    settings = smtp_starttls_server.settings(security="starttls")
    check_smtp(settings)
    send_smtp(sample_digest.message, sender=SENDER, recipients=["a@example.com"], settings=settings)
    [received] = smtp_starttls_server.handler.received
    assert parse(received.data)["Message-ID"] == sample_digest.message_id


def test_plain_to_a_server_requiring_starttls_is_refused(smtp_starttls_server):
    settings = smtp_starttls_server.settings()
    with pytest.raises(DeliveryError) as info:
        send_smtp(SIMPLE, sender=SENDER, recipients=["a@example.com"], settings=settings)
    assert "refused the sender" in str(info.value) and "530" in str(info.value)
    assert info.value.permanent is True


def test_ssl(smtp_ssl_server, trust_test_certificate, sample_digest):
    settings = smtp_ssl_server.settings(security="ssl")
    check_smtp(settings)
    send_smtp(sample_digest.message, sender=SENDER, recipients=["a@example.com"], settings=settings)
    [received] = smtp_ssl_server.handler.received
    assert parse(received.data)["Message-ID"] == sample_digest.message_id


def test_untrusted_certificate_is_refused(smtp_starttls_server, smtp_ssl_server):
    with pytest.raises(DeliveryError) as info:
        check_smtp(smtp_starttls_server.settings(security="starttls"))
    port = smtp_starttls_server.port
    assert str(info.value).startswith(
        f"SMTP 127.0.0.1:{port} TLS failed during STARTTLS: certificate verification failed"
    )
    with pytest.raises(DeliveryError) as info:
        check_smtp(smtp_ssl_server.settings(security="ssl"))
    port = smtp_ssl_server.port
    assert str(info.value).startswith(
        f"SMTP 127.0.0.1:{port} TLS failed during connect: certificate verification failed"
    )
    assert info.value.permanent is False


def test_ssl_to_a_plain_server_fails_cleanly(smtp_server):
    with pytest.raises(DeliveryError) as info:
        check_smtp(smtp_server.settings(security="ssl"))
    assert str(info.value).startswith(f"SMTP 127.0.0.1:{smtp_server.port} TLS failed")
    assert info.value.permanent is False


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_silent_server_times_out(silent_server):
    settings = SmtpSettings(host="127.0.0.1", port=silent_server, timeout=0.3)
    with pytest.raises(DeliveryError) as info:
        check_smtp(settings)
    assert str(info.value) == f"SMTP 127.0.0.1:{silent_server} unreachable: timed out"
    assert info.value.permanent is False


def test_check_smtp(smtp_server):
    check_smtp(smtp_server.settings())
    assert smtp_server.handler.received == []
    with pytest.raises(DeliveryError, match="unreachable: connection refused") as info:
        check_smtp(SmtpSettings(host="127.0.0.1", port=closed_port(), timeout=5.0))
    assert info.value.permanent is False


@pytest.mark.parametrize(
    "kwargs",
    [{"host": ""}, {"port": 0}, {"port": 70000}, {"security": "tls"}, {"timeout": 0}],
)
def test_smtp_settings_are_validated(kwargs):
    with pytest.raises(ValueError):
        SmtpSettings(**{"host": "mail.example.org", **kwargs})


def test_ipv6_server_is_bracketed():
    assert SmtpSettings(host="::1", port=2525).server == "[::1]:2525"


# --- outbox ----------------------------------------------------------------------------------


def test_outbox_writes_a_parsable_eml(tmp_path, sample_digest):
    path = write_outbox(sample_digest.message.as_bytes(), tmp_path / "outbox", "digest-1.eml")
    assert path == tmp_path / "outbox" / "digest-1.eml"
    assert path.read_bytes() == sample_digest.message.as_bytes()
    message = parse(path.read_bytes())
    assert message["Message-ID"] == sample_digest.message_id
    assert message.get_body(("html",)) is not None


def test_outbox_is_idempotent(tmp_path, sample_digest):
    data = sample_digest.message.as_bytes()
    first = write_outbox(data, tmp_path, "digest.eml")
    mtime = first.stat().st_mtime_ns
    second = write_outbox(data, tmp_path, "digest.eml")
    assert first == second
    assert second.stat().st_mtime_ns == mtime  # the same bytes are not written again
    assert [p.name for p in tmp_path.iterdir()] == ["digest.eml"]  # no temporary files left


def test_outbox_name_from_the_message_id(tmp_path, sample_digest):
    path = write_outbox(sample_digest.message, tmp_path)
    assert path.name == sample_digest.message_id.strip("<>") + ".eml"
    assert path.name == outbox_name(sample_digest.message.as_bytes())
    assert write_outbox(sample_digest.message, tmp_path) == path
    assert len(list(tmp_path.iterdir())) == 1
    assert path.read_bytes() == sample_digest.message.as_bytes()


def test_outbox_without_message_id_uses_a_hash(tmp_path):
    path = write_outbox(b"Subject: x\r\n\r\nbody\r\n", tmp_path)
    assert re.fullmatch(r"message-[0-9a-f]{16}\.eml", path.name)


def test_outbox_name_cannot_leave_the_folder(tmp_path):
    folder = tmp_path / "outbox"
    path = write_outbox(b"Subject: x\r\n\r\nbody\r\n", folder, "../../etc/evil name")
    assert path.parent == folder
    assert path.name == "evil_name.eml"


def test_outbox_replaces_different_content_atomically(tmp_path):
    write_outbox(b"Subject: one\r\n\r\n1\r\n", tmp_path, "m.eml")
    path = write_outbox(b"Subject: two\r\n\r\n2\r\n", tmp_path, "m.eml")
    assert path.read_bytes() == b"Subject: two\r\n\r\n2\r\n"
    assert [p.name for p in tmp_path.iterdir()] == ["m.eml"]
