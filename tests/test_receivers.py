"""The sandbox's notification receivers: a JSON-POST hook that checks the HMAC, an SMTP sink."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from connectors.sandbox.receivers import SIGNATURE_HEADER, SmtpSink, WebhookReceiver, sign


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_receiver_records_a_signed_post_and_says_ok() -> None:
    with WebhookReceiver(secret="s3cret") as hook:
        body = json.dumps({"text": "@ana: BE-12 waits for your approval"}).encode()
        status, text = _post(
            hook.url,
            body,
            {"Content-Type": "application/json", SIGNATURE_HEADER: sign("s3cret", body)},
        )
        got = hook.received()
    assert (status, text) == (200, "ok")
    assert len(got) == 1
    assert got[0].verified and got[0].json == {"text": "@ana: BE-12 waits for your approval"}
    assert got[0].path == "/hook"


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc"])
def test_receiver_rejects_a_missing_or_wrong_signature(signature: str) -> None:
    with WebhookReceiver(secret="s3cret") as hook:
        body = b'{"text": "x"}'
        headers = {"Content-Type": "application/json"}
        if signature:
            headers[SIGNATURE_HEADER] = signature
        status, text = _post(hook.url, body, headers)
        got = hook.received()
    assert (status, text) == (401, "invalid_signature")
    assert [r.verified for r in got] == [False]


def test_receiver_signature_covers_the_body() -> None:
    with WebhookReceiver(secret="s3cret") as hook:
        signed = sign("s3cret", b'{"text": "a"}')
        status, _ = _post(hook.url, b'{"text": "b"}', {SIGNATURE_HEADER: signed})
    assert status == 401


def test_receiver_without_secret_answers_like_a_slack_webhook() -> None:
    with WebhookReceiver() as hook:
        ok = _post(hook.url, b'{"text": "hi"}', {"Content-Type": "application/json"})
        bad = _post(hook.url, b"not json", {"Content-Type": "application/json"})
        got = hook.received()
    assert ok == (200, "ok") and bad == (400, "invalid_payload")
    assert [r.verified for r in got] == [False, False]


def test_smtp_sink_keeps_what_smtplib_sends() -> None:
    msg = EmailMessage()
    msg["From"] = "handoff-sync@127.0.0.1"
    msg["To"] = "ana@example.test"
    msg["Subject"] = "BE-12: your approval is due"
    msg.set_content("Hello Ana,\n.leading dot survives\n")
    with SmtpSink() as sink:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
            refused = client.send_message(msg)
        got = sink.envelopes()
    assert refused == {}
    assert len(got) == 1
    sender, rcpt, kept, _ = got[0]
    assert (sender, rcpt) == ("handoff-sync@127.0.0.1", ["ana@example.test"])
    assert kept["Subject"] == "BE-12: your approval is due"
    assert kept.get_content() == "Hello Ana,\n.leading dot survives\n"


def test_smtp_sink_refuses_what_a_local_relay_does_not_offer() -> None:
    with SmtpSink() as sink, smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        client.ehlo()
        code, _ = client.docmd("STARTTLS")
        assert code == 502
        code, _ = client.docmd("DATA")
        assert code == 503  # no recipient yet
    assert sink.messages() == []
