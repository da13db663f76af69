"""The log sink: appending, capping lines as valid JSON, rotating by size, expiring by age."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.logsink import (
    Retention,
    RotatingLog,
    cap_line,
    fit_object,
    read_lines,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_764_000_000.0


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def run_sink(path: Path, stdin: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "app.logsink", str(path)],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=30,
        check=True,
    )


def test_the_sink_appends_to_an_existing_log_and_never_truncates_it(tmp_path: Path) -> None:
    log = tmp_path / "opa.log"
    log.write_text('{"decision_id":"from-the-last-run"}\n')
    run_sink(log, b'{"decision_id":"this-run"}\nplain text from a service\n\n')
    run_sink(log, b'{"decision_id":"after-a-restart"}')
    lines = lines_of(log)
    assert lines[0] == '{"decision_id":"from-the-last-run"}'
    assert lines[1] == '{"decision_id":"this-run"}'
    wrapped = json.loads(lines[2])
    assert wrapped["msg"] == "plain text from a service"
    assert wrapped["ts"].endswith("Z")
    assert lines[3] == '{"decision_id":"after-a-restart"}'
    assert len(lines) == 4  # the blank line is not kept


def test_a_long_json_line_is_cut_and_stays_valid_json() -> None:
    entry = {"decision_id": "d-1", "path": "symphony/router/decision", "detail": "x" * 20_000}
    raw = json.dumps(entry).encode()
    line = cap_line(raw, 1024, NOW).decode()
    assert line.endswith("\n")
    assert len(line) - 1 <= 1024
    capped = json.loads(line)
    assert capped["decision_id"] == "d-1"
    assert capped["path"] == "symphony/router/decision"
    assert capped["truncated"] is True
    assert capped["detail"].startswith("xxxx") and capped["detail"].endswith("…")


def test_a_json_line_too_big_to_cut_becomes_a_marker_saying_how_long_it_was() -> None:
    entry = {"decision_id": "d-2", "timestamp": "2026-11-27T10:00:00Z", "ids": list(range(5000))}
    raw = json.dumps(entry).encode()
    line = cap_line(raw, 512, NOW).decode()
    assert len(line) - 1 <= 512
    marker = json.loads(line)
    assert marker["decision_id"] == "d-2"
    assert marker["timestamp"] == "2026-11-27T10:00:00Z"
    assert marker["truncated"] is True
    assert marker["original_bytes"] == len(raw)
    assert raw.decode().startswith(marker["head"].removesuffix("…"))


def test_a_long_plain_line_is_wrapped_and_cut() -> None:
    raw = ("é" * 3000).encode()
    line = cap_line(raw, 300, NOW).decode()
    assert len(line) - 1 <= 300
    wrapped = json.loads(line)
    assert wrapped["msg"].startswith("éé") and wrapped["msg"].endswith("…")
    assert wrapped["original_bytes"] == len(raw)
    assert wrapped["truncated"] is True
    assert wrapped["ts"] == "2025-11-24T16:00:00.000Z"


def test_short_lines_pass_unchanged_and_fit_object_leaves_them_alone() -> None:
    assert cap_line(b'{"a": [1, 2]}', 256, NOW) == b'{"a": [1, 2]}\n'
    assert fit_object({"a": "b"}, 256) == '{"a":"b"}'


def test_a_line_longer_than_the_read_bound_is_counted_not_held() -> None:
    stream = io.BytesIO(b"a" * 100 + b"\nshort\n" + b"b" * 250 + b"\ntail")
    assert list(read_lines(stream, bound=64)) == [
        (b"a" * 64, 100),
        (b"short", None),
        (b"b" * 64, 250),
        (b"tail", None),
    ]
    marker = json.loads(cap_line(b"a" * 64, 256, NOW, original_bytes=100))
    assert marker["original_bytes"] == 100 and marker["truncated"] is True


def test_the_log_rotates_at_the_configured_size_and_keeps_that_many_files(
    tmp_path: Path,
) -> None:
    log = RotatingLog(tmp_path / "proxy.log", Retention(max_bytes=1000, keep=2))
    for number in range(60):
        log.write(f'{{"n":{number},"pad":"{"p" * 80}"}}\n'.encode())
    log.close()
    assert [p.name for p in log.rotated()] == ["proxy.log.1", "proxy.log.2"]
    files = [tmp_path / "proxy.log.2", tmp_path / "proxy.log.1", tmp_path / "proxy.log"]
    assert all(0 < f.stat().st_size <= 1000 for f in files)
    kept = [json.loads(line)["n"] for f in files for line in lines_of(f)]
    # The newest lines, in order, with nothing lost inside the kept window.
    assert kept == list(range(60 - len(kept), 60))
    assert len(kept) >= 2 * (1000 // 100)


def test_rotated_files_older_than_the_age_limit_are_deleted(tmp_path: Path) -> None:
    path = tmp_path / "opa.log"
    path.write_text("{}\n")
    for number in (1, 2, 3, 9):
        (tmp_path / f"opa.log.{number}").write_text("{}\n")
    (tmp_path / "opa.log.old-notes").write_text("not a rotation\n")
    fifteen_days_ago = time.time() - 15 * 86400
    os.utime(tmp_path / "opa.log.2", (fifteen_days_ago, fifteen_days_ago))
    log = RotatingLog(path, Retention(keep=5, max_age_s=14 * 86400))
    log.write(b"{}\n")
    log.close()
    left = sorted(p.name for p in tmp_path.iterdir())
    # .2 is too old; .9 is past keep; the current file and other names are untouched.
    assert left == ["opa.log", "opa.log.1", "opa.log.3", "opa.log.old-notes"]
    assert lines_of(path) == ["{}", "{}"]


def test_an_hourly_prune_expires_files_while_the_log_stays_open(tmp_path: Path) -> None:
    clock = [NOW]
    log = RotatingLog(tmp_path / "x.log", Retention(max_age_s=86400), clock=lambda: clock[0])
    log.write(b"{}\n")
    rotated = tmp_path / "x.log.1"
    rotated.write_text("{}\n")
    os.utime(rotated, (NOW - 2 * 86400, NOW - 2 * 86400))
    log.write(b"{}\n")
    assert rotated.exists()  # the last prune was less than an hour ago
    clock[0] += 3600
    log.write(b"{}\n")
    log.close()
    assert not rotated.exists()


def test_settings_come_from_the_environment_and_bad_values_are_reported() -> None:
    warnings: list[str] = []
    retention = Retention.from_env(
        {
            "SYMPHONY_LOG_LINE_MAX": "100",
            "SYMPHONY_LOG_MAX_BYTES": "2048",
            "SYMPHONY_LOG_KEEP": "lots",
            "SYMPHONY_LOG_MAX_AGE_DAYS": "0.5",
        },
        warnings.append,
    )
    assert retention == Retention(line_max=256, max_bytes=2048, keep=5, max_age_s=43200)
    assert warnings == ["SYMPHONY_LOG_KEEP='lots' is not a non-negative number; using 5"]


def test_the_sink_rotates_by_the_environment_settings(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    body = b"".join(b'{"n":%d,"pad":"%s"}\n' % (n, b"p" * 200) for n in range(40))
    run_sink(log, body, SYMPHONY_LOG_MAX_BYTES="2048", SYMPHONY_LOG_KEEP="3")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "svc.log",
        "svc.log.1",
        "svc.log.2",
        "svc.log.3",
    ]
    assert all(p.stat().st_size <= 2048 for p in tmp_path.iterdir())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_sink_exits_cleanly_on_a_signal_with_its_lines_written(
    tmp_path: Path, signum: int
) -> None:
    log = tmp_path / "svc.log"
    sink = subprocess.Popen(
        [sys.executable, "-m", "app.logsink", str(log)],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert sink.stdin is not None and sink.stderr is not None
    sink.stdin.write(b'{"written":"before the signal"}\n')
    sink.stdin.flush()
    deadline = time.monotonic() + 10
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.02)
    sink.send_signal(signum)
    assert sink.wait(timeout=10) == 0
    sink.stdin.close()
    assert sink.stderr.read() == b""
    sink.stderr.close()
    assert lines_of(log) == ['{"written":"before the signal"}']
