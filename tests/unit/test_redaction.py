"""Redaction: known secrets, private keys, credentials and personal data, and what stays."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.settings import get_settings, transient_settings

from app.core.redaction import Redactor, redact

# Low entropy and no known shape: only the known-secrets path can find it.
CANARY = "canary-gateway-key-do-not-log"

PEM_BODY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aumJc0VHOWnEXAMPLEonly\n"
    "q8xO2nTB3ZpQdV0lYsdl0mdbUcGzQXwTnSDa2SOMEfAKEvaluesONLYx\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


@pytest.fixture
def redactor() -> Redactor:
    """A redactor that knows the canary, as the app's knows the gateway key."""
    return Redactor([CANARY])


@pytest.mark.parametrize(
    "text",
    [
        f"upstream rejected key {CANARY}",
        json.dumps({"detail": f"401 for {CANARY}", "headers": {"x-key": CANARY}}),
        f"POST https://gateway.internal/v1/chat?k={CANARY}&model=smollm2",
        f"GET https://gateway.internal/keys/{CANARY}/usage",
        f"glued{CANARY}glued",
        f"{CANARY}\n{CANARY}",
    ],
)
def test_known_secret_never_appears(redactor: Redactor, text: str) -> None:
    out = redactor.redact(text)
    assert CANARY not in out
    assert "[REDACTED_SECRET]" in out
    assert Redactor().redact(text) == text  # no other detector would have caught it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"upstream rejected key {CANARY}", "upstream rejected key [REDACTED_SECRET]"),
        (f"glued{CANARY}glued", "glued[REDACTED_SECRET]glued"),
        (
            json.dumps({"headers": {"x-key": CANARY}}),
            '{"headers": {"x-key": "[REDACTED_SECRET]"}}',
        ),
        (
            f"https://gateway.internal/keys/{CANARY}/usage?x=1",
            "https://gateway.internal/keys/[REDACTED_SECRET]/usage?x=1",
        ),
    ],
)
def test_known_secret_is_replaced_in_place(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


def test_known_secret_is_found_url_and_json_escaped() -> None:
    redactor = Redactor(['gw/key+"canary"=1'])
    assert redactor.redact("?k=gw%2Fkey%2B%22canary%22%3D1&x") == "?k=[REDACTED_SECRET]&x"
    escaped = json.dumps({"v": 'gw/key+"canary"=1'})
    assert redactor.redact(escaped) == '{"v": "[REDACTED_SECRET]"}'


def test_empty_and_short_known_secrets_are_ignored() -> None:
    redactor = Redactor([None, "", "   ", "abc1234"])
    text = "abc1234 abc abc12345"
    assert redactor.redact(text) == text


def test_add_secret_applies_to_later_calls() -> None:
    redactor = Redactor()
    text = f"key {CANARY}"
    assert redactor.redact(text) == text
    redactor.add_secret(CANARY)
    redactor.add_secret("another-known-value")
    assert redactor.redact(text) == "key [REDACTED_SECRET]"
    assert redactor.redact("another-known-value") == "[REDACTED_SECRET]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"before\n{PEM_BODY}\nafter", "before\n[REDACTED_PEM]\nafter"),
        (
            "a -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE----- b",
            "a [REDACTED_PEM] b",
        ),
        (
            "cut off: -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\nAAAA",
            "cut off: [REDACTED_PEM]",
        ),
        (json.dumps({"key": PEM_BODY}), '{"key": "[REDACTED_PEM]"}'),
        ("file: PuTTY-User-Key-File-2: ssh-rsa\nPrivate-Lines: 14", "file: [REDACTED_PEM]"),
        (
            f"{PEM_BODY.replace('RSA PRIVATE KEY', 'PRIVATE KEY')} {CANARY}",
            "[REDACTED_PEM] [REDACTED_SECRET]",
        ),
    ],
)
def test_private_key_blocks(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # detect-secrets' plugins (these shapes have low entropy: only a plugin finds them)
        ("aws AKIAIOSFODNN7EXAMPLE used", "aws [REDACTED_SECRET] used"),
        ("slack xoxb-1111-2222-abc done", "slack [REDACTED_SECRET] done"),
        ("stripe sk_live_abcabcabcabcabcabcabcabc.", "stripe [REDACTED_SECRET]."),
        (f"jwt {JWT} end", "jwt [REDACTED_SECRET] end"),
        (
            "dsn https://admin:s3cr3tpass@db.example.com:5432/app",
            "dsn https://admin:[REDACTED_SECRET]@db.example.com:5432/app",
        ),
        (
            '{"password": "correct horse battery", "user": "ada"}',
            '{"password": "[REDACTED_SECRET]", "user": "ada"}',
        ),
        # high entropy, base64 and hex
        (
            "token vpMpBXAMtfb698bYHMIMdbHaEXrCGxeNFrtc3hEoKVU here",
            "token [REDACTED_SECRET] here",
        ),
        ("aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws [REDACTED_SECRET]"),
        ("hex e03a995f89698149482999df45c6336cb384b61f", "hex [REDACTED_SECRET]"),
        (
            "GET /v1/keys/vpMpBXAMtfb698bYHMIMdbHaEXrCGxeNFrtc3hEoKVU/x",
            "GET /v1/keys/[REDACTED_SECRET]/x",
        ),
        # our own patterns: short prefixed keys, bearer tokens, unquoted assignments
        ("key sk-abcdefghijklmnop1234", "key [REDACTED_SECRET]"),
        (
            "key sk-proj-abc123DEF456 and pk-abcdefgh1",
            "key [REDACTED_SECRET] and [REDACTED_SECRET]",
        ),
        ("gh ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "gh [REDACTED_SECRET]"),
        ("Authorization: Bearer abc.def.ghi123", "Authorization: Bearer [REDACTED_SECRET]"),
        ("password=hunter22 ok", "password=[REDACTED_SECRET] ok"),
        (
            "db_password: 'hunter22', api_key=zz9plural",
            "db_password: '[REDACTED_SECRET]', api_key=[REDACTED_SECRET]",
        ),
        ("/cb?access_token=abc123xyz&state=1", "/cb?access_token=[REDACTED_SECRET]&state=1"),
    ],
)
def test_credentials(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=256 prompt_tokens: 12 secret_type: x",
        "Bearer authentication failed; the token expired",
        "password reset required, api key missing",
        'password = "${DB_PASSWORD}" and secret: $SECRET',
        "policy.rego:12: rego_parse_error: unexpected token",
        "ThisIsAVeryLongCamelCaseIdentifierName and prometheus_flask_exporter_requests_total",
        "/api/v1/routes/explain/decisions/run_20261127T160224Z_0123456789ab",
        "see api/v1/routes/explain/decisions and v1/data/symphony/route/decision",
    ],
)
def test_not_credentials(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at ada@example.org.", "mail me at [REDACTED_EMAIL]."),
        ("to: Ada.Lovelace+ops@mail.example.co.uk,", "to: [REDACTED_EMAIL],"),
        ("clone git@github.com:org/repo", "clone [REDACTED_EMAIL]:org/repo"),
    ],
)
def test_email(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111", "card [REDACTED_CARD]"),
        ("card 4111-1111-1111-1111.", "card [REDACTED_CARD]."),
        ("card 5555555555554444 ok", "card [REDACTED_CARD] ok"),
        ("amex 3782 822463 10005", "amex [REDACTED_CARD]"),
        ("card 4111 1111 1111 1111 2026", "card [REDACTED_CARD] 2026"),
        # not Luhn-valid: an order id, kept
        ("order 4111 1111 1111 1112", "order 4111 1111 1111 1112"),
        ("order 1234567890123456", "order 1234567890123456"),
        # Luhn-valid, but a leading 1: an epoch-millisecond timestamp, kept
        ("at 1764259344000", "at 1764259344000"),
    ],
)
def test_card_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ssn 123-45-6789.", "ssn [REDACTED_SSN]."),
        ("ssn 000-12-3456", "ssn 000-12-3456"),
        ("ssn 666-12-3456", "ssn 666-12-3456"),
        ("ssn 900-12-3456", "ssn 900-12-3456"),
        ("ssn 123-00-4567", "ssn 123-00-4567"),
        ("ssn 123-45-0000", "ssn 123-45-0000"),
    ],
)
def test_us_ssn(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("iban DE89 3704 0044 0532 0130 00 ok", "iban [REDACTED_IBAN] ok"),
        ("iban GB82WEST12345698765432", "iban [REDACTED_IBAN]"),
        ("iban NO93 8601 1117 947", "iban [REDACTED_IBAN]"),
        ("iban GB82 WEST 1234 5698 7654 33", "iban GB82 WEST 1234 5698 7654 33"),
        ("ref AB12CDEFGHIJKLMNOP", "ref AB12CDEFGHIJKLMNOP"),
    ],
)
def test_iban(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call (555) 123-4567 now", "call [REDACTED_PHONE] now"),
        ("call 555-123-4567", "call [REDACTED_PHONE]"),
        ("call 1-555-123-4567", "call [REDACTED_PHONE]"),
        ("call +49 30 1234567.", "call [REDACTED_PHONE]."),
        ("call +49 30 1234 5678", "call [REDACTED_PHONE]"),
        ("call +1 (555) 123-4567", "call [REDACTED_PHONE]"),
        ("call +44 20 7946 0958, ok", "call [REDACTED_PHONE], ok"),
        ("call +4930123456", "call [REDACTED_PHONE]"),
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "at 2026-11-27T16:02:24Z",
        "at 2026-11-27T16:02:24+01:00 (UTC+01:00, +0100)",
        "between 2026-11-27 and 2026-11-28 12:00:00",
        "HTTP 503",
        "HTTP/1.1 503 Service Unavailable",
        "latency 12.5 ms, p99 812 ms over 10000 requests",
        "model hosted/gemini-1.5-pro",
        "smollm2",
        "openai/gpt-4o-mini-2024-07-18 claude-3-5-sonnet-20241022 llama-3.1-8b-instruct",
        "audit run_20261127T160224Z_0123456789ab",
        "version 1.2.3-rc.1, 3.0.0-alpha+001",
        "upstream 10.0.0.1:8181 and 127.0.0.1:8181",
        "ids 1234567 7654321, rate 1,234,567 tokens, price 12.50 USD, ratio 3.14159265358979",
        "ISBN 978-3-16-148410-0, zip 94105-1234, serial 4111-1111",
        # UUIDs and uuid4 hex are request/correlation ids, kept on purpose
        "request 123e4567-e89b-12d3-a456-426614174000",
        "X-Request-Id: 3f2a9c1e4b7d4e8f9a0b1c2d3e4f5a6b",
        # a SHA-256 digest is a policy revision, kept on purpose
        "revision e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "plain words stay",
        "",
    ],
)
def test_survives_unchanged(text: str) -> None:
    assert redact(text) == text


def test_several_findings_in_one_text(redactor: Redactor) -> None:
    text = (
        f"user ada@example.org paid with 4111 1111 1111 1111 via key {CANARY}; "
        "call (555) 123-4567 at 2026-11-27T16:02:24Z (HTTP 503, 12.5 ms)"
    )
    assert redactor.redact(text) == (
        "user [REDACTED_EMAIL] paid with [REDACTED_CARD] via key [REDACTED_SECRET]; "
        "call [REDACTED_PHONE] at 2026-11-27T16:02:24Z (HTTP 503, 12.5 ms)"
    )


def test_redact_value_copies_nested_structures(redactor: Redactor) -> None:
    value: dict[str, Any] = {
        "error": {
            "message": "auth failed for ada@example.org",
            "attempts": [
                {"detail": f"key {CANARY}", "status": 401, "ok": False},
                ("tuple", "call 555-123-4567"),
            ],
            "latency_ms": 12.5,
            "note": None,
        },
        "ada@example.org": "keys stay",
    }
    original = copy.deepcopy(value)
    assert redactor.redact_value(value) == {
        "error": {
            "message": "auth failed for [REDACTED_EMAIL]",
            "attempts": [
                {"detail": "key [REDACTED_SECRET]", "status": 401, "ok": False},
                ("tuple", "call [REDACTED_PHONE]"),
            ],
            "latency_ms": 12.5,
            "note": None,
        },
        "ada@example.org": "keys stay",
    }
    assert value == original
    assert CANARY not in json.dumps(redactor.redact_value(value))


@pytest.mark.parametrize("scalar", [None, True, 3, 2.5])
def test_redact_value_leaves_scalars(scalar: object) -> None:
    assert Redactor().redact_value(scalar) is scalar


def test_long_text_is_cut_at_whitespace_and_marked(redactor: Redactor) -> None:
    head = "word " * 20
    text = head + CANARY + " tail"
    out = Redactor([], max_chars=len(head) + 5).redact(text)
    assert out == head + f"[TRUNCATED {len(text) - len(head)} chars]"
    assert "cana" not in out
    assert redactor.redact(text) == head + "[REDACTED_SECRET] tail"


def test_text_at_the_bound_is_not_cut() -> None:
    assert Redactor(max_chars=9).redact("short one") == "short one"


def test_detect_secrets_global_settings_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # With verification switched on globally, `analyze_line` would call `verify`
    # (a network request); redaction must neither do that nor change the settings.
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("verify() must not run")

    monkeypatch.setattr(AWSKeyDetector, "verify", no_network)
    verifying = {
        "plugins_used": [{"name": "AWSKeyDetector"}],
        "filters_used": [
            {
                "path": "detect_secrets.filters.common.is_ignored_due_to_verification_policies",
                "min_level": 2,
            }
        ],
    }
    with transient_settings(verifying):
        before = get_settings().json()
        assert Redactor().redact("key AKIAIOSFODNN7EXAMPLE") == "key [REDACTED_SECRET]"
        assert get_settings().json() == before
