"""Removing secrets and personal data from what is stored in run reports, events and logs."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, NamedTuple
from urllib.parse import quote

from detect_secrets.filters.heuristic import (
    is_not_alphanumeric_string,
    is_potential_uuid,
    is_prefixed_with_dollar_sign,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
)
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

SECRET: Final = "[REDACTED_SECRET]"
PEM: Final = "[REDACTED_PEM]"
EMAIL: Final = "[REDACTED_EMAIL]"
CARD: Final = "[REDACTED_CARD]"
SSN: Final = "[REDACTED_SSN]"
IBAN: Final = "[REDACTED_IBAN]"
PHONE: Final = "[REDACTED_PHONE]"
# Where two findings overlap they are joined, and the marker listed first names the result.
_PRECEDENCE: Final = (PEM, SECRET, EMAIL, CARD, SSN, IBAN, PHONE)

# Longer texts are cut at the last whitespace before the bound (a half token would slip
# past the detectors) and marked: the scan is linear, but reports need no megabyte blobs.
MAX_CHARS: Final = 64 * 1024
# Replacing a shorter literal everywhere would shred ordinary words.
MIN_KNOWN_SECRET: Final = 8

# detect-secrets' plugins, built once: they hold only compiled patterns, so every thread
# shares them. We call `analyze_string`, not `analyze_line`: the latter reads the
# library's process-global settings and may call a plugin's `verify`, a network request.
# IPPublicDetector is left out: upstream addresses in errors are operational data.
_PLUGINS: Final[tuple[BasePlugin, ...]] = (
    AWSKeyDetector(),
    ArtifactoryDetector(),
    AzureStorageKeyDetector(),
    BasicAuthDetector(),
    DiscordBotTokenDetector(),
    GitHubTokenDetector(),
    GitLabTokenDetector(),
    JwtTokenDetector(),
    MailchimpDetector(),
    NpmDetector(),
    OpenAIDetector(),
    PypiTokenDetector(),
    SendGridDetector(),
    SlackDetector(),
    SquareOAuthDetector(),
    StripeDetector(),
    TelegramBotTokenDetector(),
    TwilioKeyDetector(),
)
# `<prefix>_key = ...` detectors have the slowest patterns, so they read only a window
# around a hit of the keyword their patterns cannot match without.
_ASSIGNMENT_PLUGINS: Final[tuple[BasePlugin, ...]] = (
    CloudantDetector(),
    IbmCloudIamDetector(),
    IbmCosHmacDetector(),
    SoftlayerDetector(),
)
_ASSIGNMENT_GATE: Final = re.compile(
    r"(?i)(?:key|pwd?|pass(?:word)?|token)[\"'\]]{0,2}[ =:]|cloudant\.com|softlayer\.com"
)
_KEYWORD: Final = KeywordDetector()  # its default patterns want a quoted value
_KEYWORD_GATE: Final = re.compile(r"(?i)key|pass|pwd|secret|contrase")
_WINDOW: Final = 256
_PRIVATE_KEY: Final = PrivateKeyDetector()
_BASE64: Final = Base64HighEntropyString()  # the library's default limit, 4.5 bits
_HEX: Final = HexHighEntropyString()  # 3.0 bits

_PEM_BLOCK: Final = re.compile(
    r"-----BEGIN [A-Z0-9][A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL
)
# A plain word after "Bearer" ("Bearer authentication failed") is prose, not a token.
_BEARER: Final = re.compile(
    r"(?i)\bbearer\s+((?![A-Za-z]{8,19}(?![A-Za-z0-9._~+/=-]))[A-Za-z0-9._~+/=-]{8,})"
)
# Short `sk-`/`ghp_` keys too, which the plugins' exact-length patterns miss.
_PREFIXED_KEY: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?:(?:sk|pk|rk)-[A-Za-z0-9_-]{8,}"
    r"|(?:ghp|gho|ghs|ghu|ghr|github_pat)_[A-Za-z0-9_]{16,})"
)
_JWT_SHAPE: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# Each runs only on text holding one of its (lower-cased) literals.
_OWN_CREDENTIALS: Final = (
    (_BEARER, ("bearer",)),
    (_PREFIXED_KEY, ("sk-", "pk-", "rk-", "gh")),
    (_JWT_SHAPE, ("eyj",)),
)
# Unquoted `password=...`, `api_key: ...`, `?access_token=...`: the keyword plugin wants
# quotes or takes the rest of the line. The key must end in the keyword, so
# `max_tokens=256` and `secret_type: x` stay.
_ASSIGNED: Final = re.compile(
    r"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
    r"[\"']?\s*[:=]\s*[\"']?([^\s\"',;&<>)}\]]+)"
)
_ASSIGNED_HINTS: Final = ("pass", "pwd", "secret", "token", "key")
_NOT_A_VALUE: Final = frozenset({"null", "none", "true", "false", SECRET.lower()})
_ENTROPY_CANDIDATE: Final = re.compile(r"(?<![A-Za-z0-9_+/=-])[A-Za-z0-9_+/-]{20,}={0,2}")
_PATH_WORD: Final = re.compile(r"[a-z]{3,}")
_HEX_ONLY: Final = re.compile(r"[0-9a-fA-F]+")
_UUID4_HEX: Final = re.compile(r"[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}")

_EMAIL: Final = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_URL_USERINFO: Final = re.compile(r"://[^\s/@]*:\Z")
# Contiguous, or in groups with one kind of separator. Only Luhn-valid numbers are cards,
# so order ids and other long numbers stay; nor does one start with 1 (no major network
# does, and epoch-millisecond timestamps all do).
_CARD: Final = re.compile(
    r"(?<![\w.+-])(?:\d{13,19}|\d{4,6}(?P<sep>[ -])\d{3,6}(?:(?P=sep)\d{1,6}){0,3})"
    r"(?![\w]|[.,-]\d)"
)
_SSN: Final = re.compile(r"(?<![\w.-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_IBAN_START: Final = re.compile(r"[A-Z]{2}\d{2}")
_INTL_PHONE: Final = re.compile(
    r"(?<![\w.+])\+\d{1,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d+(?:[ .-]\d+){0,5}(?![\w]|[.,]\d)"
)
_NATIONAL_PHONE: Final = re.compile(
    r"(?<![\w.+-])(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[-.])\d{3}[-.]\d{4}(?![\w]|[.-]\d)"
)
# Every number pattern needs such a run; finding the runs in one cheap scan and reading
# only them (one character back for "+" or "(", two ahead for look-aheads) keeps long
# texts fast.
_DIGIT_RUN: Final = re.compile(r"\d[\d ().-]{6,}\d")
_ALNUM_RUN: Final = re.compile(r"[A-Za-z0-9]+")


RECENT_CHARS = 160
RECENT_MAX = 2048


class Redactor:
    """Masks known secrets, credentials and personal data in text and JSON-like values."""

    def __init__(
        self, known_secrets: Iterable[str | None] = (), *, max_chars: int = MAX_CHARS
    ) -> None:
        self._max_chars = max_chars
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._known: re.Pattern[str] | None = None
        # Short texts recur (access lines, model names, reason codes): their redaction is
        # remembered, up to RECENT_MAX of them, and forgotten when a secret is added.
        self._recent: dict[str, str] = {}
        for value in known_secrets:
            if value:
                self.add_secret(value)

    def add_secret(self, value: str) -> None:
        """Mask `value` (and its URL- and JSON-escaped forms) wherever it occurs from now on."""
        value = value.strip()
        if len(value) < MIN_KNOWN_SECRET:
            return
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        with self._lock:
            secrets = self._secrets | forms
            longest_first = sorted(secrets, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(form) for form in longest_first))
            # Readers take the pattern without the lock; swapping one reference is atomic.
            self._secrets, self._known = secrets, pattern
            self._recent = {}

    def redact(self, text: str) -> str:
        """`text` with secrets, private keys and personal data replaced by typed markers."""
        if len(text) > RECENT_CHARS:
            return self._redact(text)
        recent = self._recent
        found = recent.get(text)
        if found is None:
            found = self._redact(text)
            if len(recent) >= RECENT_MAX:
                recent.clear()
            recent[text] = found
        return found

    def _redact(self, text: str) -> str:
        tail = ""
        if len(text) > self._max_chars:
            kept = text[: self._max_chars]
            if not text[self._max_chars].isspace():
                kept = re.sub(r"\S+\Z", "", kept)
            tail = f"[TRUNCATED {len(text) - len(kept)} chars]"
            text = kept
        spans = [
            *_pem_spans(text),
            *_known_spans(text, self._known),
            *_credential_spans(text),
            *_personal_spans(text),
        ]
        return _render(text, spans) + tail

    def redact_value(self, value: Any) -> Any:
        """A copy of a JSON-like `value` with every string in it redacted; keys stay."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.redact_value(item) for item in value)
        return value


@functools.cache
def default_redactor() -> Redactor:
    """The process-wide redactor behind `redact`; wiring adds configured keys to it."""
    return Redactor()


def redact(text: str) -> str:
    """`text` with secrets, private keys and personal data masked by the default redactor."""
    return default_redactor().redact(text)


class _Span(NamedTuple):
    start: int
    end: int
    marker: str


def _pem_spans(text: str) -> list[_Span]:
    if "PRIVATE KEY" not in text and "-----BEGIN" not in text and "PuTTY" not in text:
        return []
    spans = [_Span(m.start(), m.end(), PEM) for m in _PEM_BLOCK.finditer(text)]
    # A key header outside any block (no dashes, PuTTY files) hides all that follows.
    for header in _PRIVATE_KEY.analyze_string(text):
        for start, _ in _occurrences(text, header):
            if not any(s.start <= start < s.end for s in spans):
                spans.append(_Span(start, len(text), PEM))
    return spans


def _known_spans(text: str, known: re.Pattern[str] | None) -> Iterator[_Span]:
    if known is not None:
        for m in known.finditer(text):
            yield _Span(m.start(), m.end(), SECRET)


def _credential_spans(text: str) -> Iterator[_Span]:
    values: set[str] = set()
    for plugin in _PLUGINS:
        values.update(plugin.analyze_string(text))
    for line in text.splitlines():
        values.update(_keyword_values(line))
    values.update(_entropy_values(text))
    for value in values:
        value = value.strip(" \t\"'=:")
        if value:
            for start, end in _occurrences(text, value):
                yield _Span(start, end, SECRET)
    lowered = text.lower()
    for pattern, hints in _OWN_CREDENTIALS:
        if any(hint in lowered for hint in hints):
            group = 1 if pattern.groups else 0
            for m in pattern.finditer(text):
                yield _Span(m.start(group), m.end(group), SECRET)


def _keyword_values(line: str) -> Iterator[str]:
    lowered = line.lower()
    if not any(hint in lowered for hint in _ASSIGNED_HINTS):
        return
    found = [m.group(1) for m in _ASSIGNED.finditer(line)]
    for window in _windows(line, _ASSIGNMENT_GATE):
        found += [value for p in _ASSIGNMENT_PLUGINS for value in p.analyze_string(window)]
    if any(q in line for q in "\"'`"):
        for window in _windows(line, _KEYWORD_GATE):
            found += _KEYWORD.analyze_string(window)
    for value in found:
        if (
            value.lower() not in _NOT_A_VALUE
            and not is_templated_secret(value)
            and not is_prefixed_with_dollar_sign(value)
        ):
            yield value


def _windows(line: str, gate: re.Pattern[str]) -> list[str]:
    bounds: list[list[int]] = []
    for m in gate.finditer(line):
        low, high = max(0, m.start() - _WINDOW), m.end() + _WINDOW
        if bounds and low <= bounds[-1][1]:
            bounds[-1][1] = high
        else:
            bounds.append([low, high])
    return [line[low:high] for low, high in bounds]


def _entropy_values(text: str) -> Iterator[str]:
    # Whole base64/hex-alphabet runs of 20+ characters are scored with the plugins'
    # entropy, instead of their quoted-string scan: cheaper, and logs rarely quote.
    for m in _ENTROPY_CANDIDATE.finditer(text):
        yield from _high_entropy(m.group())


def _high_entropy(token: str) -> Iterator[str]:
    segments = token.split("/")
    words = sum(1 for segment in segments if _PATH_WORD.fullmatch(segment))
    if len(segments) > 1 and (token[0] == "/" or words >= 2):
        # A URL path: a segment may be a secret, the path as a whole is not.
        for segment in segments:
            if len(segment) >= 20:
                yield from _high_entropy(segment)
    elif is_potential_uuid(token) or is_sequential_string(token):
        return
    elif _HEX_ONLY.fullmatch(token):
        # Request ids (uuid4 hex) and SHA-256 digests (policy revisions) are ids this
        # service emits itself, and short hex runs are mostly ids too.
        is_an_id = len(token) < 32 or len(token) == 64 or bool(_UUID4_HEX.fullmatch(token))
        if not is_an_id and _HEX.calculate_shannon_entropy(token) > _HEX.entropy_limit:
            yield token
    elif not is_not_alphanumeric_string(token) and (
        _BASE64.calculate_shannon_entropy(token) > _BASE64.entropy_limit
    ):
        yield token


def _personal_spans(text: str) -> Iterator[_Span]:
    if "@" in text:
        for m in _EMAIL.finditer(text):
            # `user:password@host` in a URL is a credential's tail, not an address.
            if not _URL_USERINFO.search(text, max(0, m.start() - 256), m.start()):
                yield _Span(m.start(), m.end(), EMAIL)
    for start in _IBAN_START.finditer(text):
        iban = _IBAN.match(text, start.start())
        end = _longest_valid_end(iban, _is_iban) if iban else None
        if end is not None:
            yield _Span(start.start(), end, IBAN)
    for run in _DIGIT_RUN.finditer(text):
        low, high = max(0, run.start() - 1), min(len(text), run.end() + 2)
        for pattern, is_valid, marker in _NUMBER_CHECKS:
            for m in pattern.finditer(text, low, high):
                end = _longest_valid_end(m, is_valid)
                if end is not None:
                    yield _Span(m.start(), end, marker)


def _longest_valid_end(m: re.Match[str], is_valid: Callable[[str], bool]) -> int | None:
    # A greedy match may have swallowed a neighbouring group ("card ... 2026"); dropping
    # trailing groups finds the number that is really there.
    matched = m.group()
    for run in reversed([*_ALNUM_RUN.finditer(matched)]):
        if is_valid(matched[: run.end()]):
            return m.start() + run.end()
    return None


def _is_card(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19 or not 2 <= digits[0] <= 6:
        return False
    total = sum(digits[-1::-2]) + sum(sum(divmod(2 * d, 10)) for d in digits[-2::-2])
    return total % 10 == 0


def _is_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _is_phone(candidate: str) -> bool:
    return 8 <= sum(c.isdigit() for c in candidate) <= 15  # E.164 allows at most 15


def _any(_: str) -> bool:
    return True


_NUMBER_CHECKS: Final[tuple[tuple[re.Pattern[str], Callable[[str], bool], str], ...]] = (
    (_CARD, _is_card, CARD),
    (_SSN, _any, SSN),
    (_INTL_PHONE, _is_phone, PHONE),
    (_NATIONAL_PHONE, _any, PHONE),
)


def _occurrences(text: str, value: str) -> Iterator[tuple[int, int]]:
    # A detector reports values, not places: mask every place. Short values only where
    # they stand alone, so a 3-character password does not eat parts of other words.
    if len(value) >= MIN_KNOWN_SECRET:
        start = text.find(value)
        while start != -1:
            yield start, start + len(value)
            start = text.find(value, start + len(value))
        return
    alone = re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
    places = [(m.start(), m.end()) for m in alone.finditer(text)]
    if not places:
        places = [(m.start(), m.end()) for m in re.finditer(re.escape(value), text)]
    yield from places


def _render(text: str, spans: list[_Span]) -> str:
    if not spans:
        return text
    merged: list[_Span] = []
    for span in sorted(spans):
        last = merged[-1] if merged else None
        if last is not None and span.start < last.end:
            # Joined: masking a little too much is safe, leaving a fragment is not.
            marker = min(last.marker, span.marker, key=_PRECEDENCE.index)
            merged[-1] = _Span(last.start, max(last.end, span.end), marker)
        else:
            merged.append(span)
    parts: list[str] = []
    position = 0
    for span in merged:
        parts += [text[position : span.start], span.marker]
        position = span.end
    parts.append(text[position:])
    return "".join(parts)
