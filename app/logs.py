"""The proxy's one logging configuration: every record, the application's, werkzeug's and
gunicorn's (error and access log), as one JSON line on stderr, capped and redacted.

Stderr is a pipe to the service's log sink (app/logsink.py), which appends, rotates and keeps
the file; docs/logs.md says where each log is. Gunicorn's own logs take this format with
`--logger-class app.logs.GunicornLogger`.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

from app.logsink import DEFAULT_LINE_MAX, MIN_LINE_MAX, dumps, fit_object, rfc3339

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Loggers that bring their own handlers; they are made to go through the root's instead.
_LIBRARY_LOGGERS = ("werkzeug", "gunicorn.error", "gunicorn.access")
_OURS = "_symphony_json_lines"


class JsonLinesFormatter(logging.Formatter):
    """A record as one JSON object `{ts, level, logger, msg, ...extra fields, exc}` of at most
    `line_max` characters; `redact` is applied to the message and the traceback."""

    def __init__(
        self, line_max: int = DEFAULT_LINE_MAX, redact: Callable[[str], str] | None = None
    ) -> None:
        super().__init__()
        self.line_max = max(line_max, MIN_LINE_MAX)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line (without a newline)."""
        extra = {
            key: value
            for key, value in vars(record).items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
        }
        return self.line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            extra,
            self._exception_text(record),
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        msg: str,
        extra: Mapping[str, Any],
        exc: str = "",
    ) -> str:
        """One entry's JSON line (without a newline): message and traceback redacted, the
        extra fields after the standard ones, all within the line cap."""
        entry: dict[str, Any] = {
            "ts": rfc3339(created),
            "level": level,
            "logger": logger,
            "msg": self.clean(msg),
        }
        kept = {key: value for key, value in extra.items() if key not in entry}
        entry.update(kept)
        if exc:
            entry["exc"] = self.clean(exc)
        line = fit_object(entry, self.line_max, prefer=("exc", "msg"))
        if line is None:  # the extra fields alone are over the cap: name them, drop them
            for key in kept:
                del entry[key]
            entry["dropped"] = sorted(kept)
            line = fit_object(entry, self.line_max, prefer=("exc", "msg", "dropped"))
        return line or dumps({"ts": entry["ts"], "level": level, "truncated": True})

    def clean(self, text: str) -> str:
        """`text` through the configured redaction."""
        return self._redact(text) if self._redact is not None else text

    def _exception_text(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        return


def configure_logging(
    *,
    level: str = "INFO",
    line_max: int = DEFAULT_LINE_MAX,
    redact: Callable[[str], str] | None = None,
) -> None:
    """Send every record of this process to stderr as JSON lines. Calling it again replaces
    the previous configuration (one handler, never two)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _OURS, False) or _plain_console(handler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    setattr(handler, _OURS, True)
    handler.setFormatter(JsonLinesFormatter(line_max, redact))
    root.addHandler(handler)
    root.setLevel(level.upper())
    flask_logging = sys.modules.get("flask.logging")
    flask_handler = getattr(flask_logging, "default_handler", None)
    loggers = [logging.getLogger(name) for name in _LIBRARY_LOGGERS]
    loggers += [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and flask_handler in logger.handlers
    ]
    for logger in loggers:
        for own in list(logger.handlers):
            if not isinstance(own, logging.NullHandler):
                logger.removeHandler(own)
        logger.propagate = True


def _our_formatter() -> JsonLinesFormatter | None:
    """The formatter configure_logging() installed on the root logger, if any."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, _OURS, False) and isinstance(handler.formatter, JsonLinesFormatter):
            return handler.formatter
    return None


def _plain_console(handler: logging.Handler) -> bool:
    """What logging.basicConfig() installs: a bare StreamHandler on stdout or stderr."""
    return type(handler) is logging.StreamHandler and handler.stream in (
        sys.stdout,
        sys.stderr,
        sys.__stdout__,
        sys.__stderr__,
    )


def env_line_max(env: Mapping[str, str]) -> int:
    """SYMPHONY_LOG_LINE_MAX (the cap the log sinks apply too), or the default."""
    raw = env.get("SYMPHONY_LOG_LINE_MAX", "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_LINE_MAX


class GunicornLogger(glogging.Logger):  # type: ignore[misc]
    """Gunicorn's error log and access log (`--access-logfile -`) as JSON lines on stderr,
    in the master and the worker: `--logger-class app.logs.GunicornLogger`."""

    def setup(self, cfg: Any) -> None:
        """Gunicorn's own setup, then its handlers replaced by the JSON one on the root."""
        super().setup(cfg)
        configure_logging(level=cfg.loglevel, line_max=env_line_max(os.environ))

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        """One access record with the request's fields; the query string is left out (it
        may carry keys)."""
        if not self.access_log_enabled:
            return
        status = str(resp.status).split(None, 1)[0]
        method = environ.get("REQUEST_METHOD", "-")
        path = environ.get("PATH_INFO", "-")
        fields = {
            "method": method,
            "path": path,
            "status": int(status) if status.isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        }
        formatter = _our_formatter()
        if formatter is None or not self.access_log.isEnabledFor(logging.INFO):
            self.access_log.info("%s %s %s", method, path, status, extra=fields)
            return
        # Straight to the handler's stream: the same line the logging module would write,
        # without a LogRecord, a caller lookup and handler locks on every request.
        line = formatter.line(
            time.time(), "INFO", "gunicorn.access", f"{method} {path} {status}", fields
        )
        try:
            sys.stderr.write(line + "\n")
        except (OSError, ValueError):
            self.access_log.exception("access log record failed")
