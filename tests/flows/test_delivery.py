"""Delivery for real: retries against a server that answers 451, exactly once across a SIGKILL at
each step, Apprise to a local webhook, the "nothing new" note, immediate watches, Prefect blocks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from alerts.delivery import DeliveryError
from flows.delivery import smtp_settings, with_retries
from flows.settings import load_settings
from storage.repository import open_corpus
from tests.configfile import write_config
from tests.httpsite import HttpSite, Route
from tests.smtpd import SmtpServer

NEWSMON = Path(sys.executable).parent / "newsmon"

# Three different events (three stories), each relevant to the watch.
EVENTS = [
    "Sergei Lavrov met Taliban envoys in Moscow to discuss wheat and fuel deliveries to "
    "Afghanistan and a new rail link through Uzbekistan.",
    "A Russian trade fair opened in Kabul with forty companies showing trucks, pumps and "
    "solar panels to Taliban ministers and Afghan importers.",
    "Kremlin envoy Zamir Kabulov said Russia would remove the Taliban from its list of banned "
    "organisations after a court hearing planned for the spring.",
]
ARTICLES = [
    {
        "url": f"https://wire.example/{n}",
        "title": f"Lavrov and the Taliban, part {n}",
        "text": f"{event} " + " ".join(f"detail{n}x{i}" for i in range(40)),
        "published": f"2026-11-2{n}T09:00:00Z",
    }
    for n, event in enumerate(EVENTS, start=1)
]


def newsmon(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSMON), "--config", str(config), *args], capture_output=True, text=True, timeout=120
    )


def ingest(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "articles.jsonl"
    source.write_text("\n".join(json.dumps(a) for a in ARTICLES) + "\n")
    assert newsmon(config, "ingest", str(source)).returncode == 0


# --- retries -------------------------------------------------------------------------------


def test_with_retries_backs_off_on_transient_errors_only() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise DeliveryError("451 later", permanent=False)

    with_retries(flaky, retries=3, backoff=0.5, sleep=waits.append)
    assert len(calls) == 3 and waits == [0.5, 1.0]

    def refused() -> None:
        calls.append(1)
        raise DeliveryError("550 no such user", permanent=True)

    calls.clear()
    with pytest.raises(DeliveryError, match="550"):
        with_retries(refused, retries=3, backoff=0.5, sleep=waits.append)
    assert len(calls) == 1

    def down() -> None:
        raise DeliveryError("unreachable", permanent=False)

    waits.clear()
    with pytest.raises(DeliveryError, match="unreachable"):
        with_retries(down, retries=2, backoff=1, sleep=waits.append)
    assert waits == [1, 2]


def test_a_451_is_retried_and_the_digest_delivered_once(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, [], smtp=smtp_server)
    ingest(config, tmp_path)
    smtp_server.mailbox.data_replies.append("451 4.3.0 Greylisted, try again later")
    result = newsmon(config, "digest")
    assert result.returncode == 0, result.stderr
    (message,) = smtp_server.mailbox.messages
    assert "Lavrov and the Taliban, part 3" in message.get_body(("plain",)).get_content()


def test_a_permanent_refusal_is_not_retried_until_asked(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    config = write_config(tmp_path, [], smtp=smtp_server)
    ingest(config, tmp_path)
    smtp_server.mailbox.data_replies.append("554 5.7.1 Rejected as spam")
    result = newsmon(config, "digest")
    assert result.returncode == 2
    assert "marked failed" in result.stderr and "554" in result.stderr
    assert smtp_server.mailbox.messages == []
    with open_corpus(load_settings(config).database_url) as corpus:
        (failed,) = corpus.digests("russia-taliban")
    assert failed.status == "failed" and "554" in (failed.error or "")

    # Not tried again by the next run, and its items go into no other digest ...
    again = newsmon(config, "digest")
    assert again.returncode == 0 and "nothing new" in again.stdout
    assert smtp_server.mailbox.messages == []
    # ... until a person asks: then the same message goes out.
    retried = newsmon(config, "digest", "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    (message,) = smtp_server.mailbox.messages
    assert message["Message-ID"] == failed.message_id


# --- exactly once across a crash -------------------------------------------------------------


def kill_digest_at(config: Path, smtp: SmtpServer, step: str) -> None:
    """Start `newsmon digest`, SIGKILL it once the SMTP server stalls at `step`."""
    smtp.mailbox.stall_at = step
    process = subprocess.Popen(
        [str(NEWSMON), "--config", str(config), "digest"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert smtp.mailbox.stalled.wait(60), f"newsmon never reached {step}"
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        process.kill()
    smtp.mailbox.stall_at = None
    smtp.mailbox.release.set()


@pytest.mark.parametrize("step", ["RCPT", "DATA"])
def test_a_crash_at_any_step_resends_the_same_message(
    tmp_path: Path, smtp_server: SmtpServer, step: str
) -> None:
    """RCPT: killed after the digest was recorded, before the server had it. DATA: killed after
    the server had it, before newsmon heard back. Either way the next run sends the very same
    message (Message-ID, items, bytes) and nothing else."""
    config = write_config(tmp_path, [], smtp=smtp_server)
    ingest(config, tmp_path)
    kill_digest_at(config, smtp_server, step)
    received_before = list(smtp_server.mailbox.messages)
    assert len(received_before) == (1 if step == "DATA" else 0)

    with open_corpus(load_settings(config).database_url) as corpus:
        pending = corpus.pending_digest("russia-taliban")
    assert pending is not None and len(pending.article_ids) == 3

    result = newsmon(config, "digest")
    assert result.returncode == 0, result.stderr
    assert "re-sent pending" in result.stdout
    messages = smtp_server.mailbox.messages
    assert len(messages) == len(received_before) + 1
    assert {m["Message-ID"] for m in messages} == {pending.message_id}
    assert messages[-1].as_bytes() == messages[0].as_bytes()

    # A crash never turns into a second, different digest with the same items.
    assert "nothing new" in newsmon(config, "digest").stdout
    with open_corpus(load_settings(config).database_url) as corpus:
        (digest,) = corpus.digests("russia-taliban")
    assert digest.status == "sent" and sorted(digest.article_ids) == sorted(pending.article_ids)


# --- other channels and settings -------------------------------------------------------------


def test_apprise_channel_gets_the_story_list(tmp_path: Path) -> None:
    with HttpSite() as hook:
        hook.add("/notify", Route(body=b"{}", content_type="application/json"))
        target = hook.base_url.replace("http://", "json://") + "/notify"
        config = write_config(tmp_path, [], extra_watch=f'notify = ["{target}"]')
        ingest(config, tmp_path)
        assert newsmon(config, "digest").returncode == 0
        (post,) = [r for r in hook.requests if r.method == "POST"]
    payload = json.loads(post.body)
    assert "Russia–Taliban" in payload["title"]
    for n in (1, 2, 3):
        assert f"Lavrov and the Taliban, part {n}" in payload["message"]
        assert f"https://wire.example/{n}" in payload["message"]


def test_a_failing_channel_does_not_stop_the_email(tmp_path: Path) -> None:
    config = write_config(tmp_path, [], extra_watch='notify = ["json://127.0.0.1:9/down"]')
    ingest(config, tmp_path)
    result = newsmon(config, "digest")
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_send_empty_mails_a_short_note(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = write_config(tmp_path, [], smtp=smtp_server, extra_watch="send_empty = true")
    first = newsmon(config, "digest")
    assert first.returncode == 0, first.stderr
    assert "short note" in first.stdout
    assert newsmon(config, "digest").returncode == 0
    notes = smtp_server.mailbox.messages
    assert len(notes) == 2 and notes[0]["Message-ID"] != notes[1]["Message-ID"]


def test_an_immediate_watch_mails_after_the_poll(
    tmp_path: Path, news_site: HttpSite, smtp_server: SmtpServer
) -> None:
    from tests.newsite import feed_urls

    config = write_config(
        tmp_path, feed_urls(news_site), smtp=smtp_server, extra_watch='frequency = "immediate"'
    )
    result = newsmon(config, "poll")
    assert result.returncode == 0, result.stderr
    assert len(smtp_server.mailbox.messages) == 1
    assert "sent digest of 3 articles" in result.stdout


@pytest.mark.usefixtures("prefect_harness")
def test_smtp_login_from_prefect_blocks(tmp_path: Path, smtp_server: SmtpServer) -> None:
    from prefect.blocks.system import Secret
    from prefect_email import EmailServerCredentials

    EmailServerCredentials(
        smtp_server=smtp_server.host,
        smtp_port=smtp_server.port,
        smtp_type="INSECURE",
        username="newsmon",
        password="from-the-block",
    ).save("newsmon-test-smtp", overwrite=True)
    Secret(value="from-the-secret").save("newsmon-test-password", overwrite=True)

    by_block = write_config(tmp_path, [], extra_email='credentials_block = "newsmon-test-smtp"')
    smtp = smtp_settings(load_settings(by_block))
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security) == (smtp_server.host, smtp_server.port, "none")
    assert (smtp.username, smtp.password) == ("newsmon", "from-the-block")

    by_secret = write_config(
        tmp_path, [], smtp=smtp_server, extra_email='password_secret = "newsmon-test-password"'
    )
    smtp = smtp_settings(load_settings(by_secret))
    assert smtp is not None and smtp.password == "from-the-secret"

    missing = write_config(tmp_path, [], extra_email='credentials_block = "no-such-block"')
    with pytest.raises(DeliveryError, match="no-such-block"):
        smtp_settings(load_settings(missing))
