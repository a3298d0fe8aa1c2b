"""Structured logging to stdout, made for journald.

One JSON object (or logfmt record) per line. Under systemd (``$JOURNAL_STREAM`` set) each line
starts with a ``<N>`` syslog priority prefix, which journald strips and turns into the entry's
priority, so ``journalctl -u hipcam -p warning`` shows only what matters. On a terminal the
"auto" format is plain text for people.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("debug", "info", "warning", "error", "critical")
LEVEL_ENV = "HIPCAM_LOG_LEVEL"
# journald/syslog priorities by Python level.
_SYSLOG = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
# Attributes every LogRecord has; anything else came in through ``extra=`` and is logged as a field.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in record.__dict__.items():
        if key not in _STANDARD and not key.startswith("_"):
            out[key] = value
    if record.exc_info:
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        out["exc"] = record.exc_text
    return out


def _syslog_prefix(record: logging.LogRecord) -> str:
    return f"<{_SYSLOG.get(record.levelno, 6)}>"


class JsonFormatter(logging.Formatter):
    def __init__(self, priority_prefix: bool = False) -> None:
        super().__init__()
        self._prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        line = json.dumps(_fields(record), default=str, ensure_ascii=False)
        return _syslog_prefix(record) + line if self._prefix else line


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' ="\\\n\t'):
        return text
    return json.dumps(text, ensure_ascii=False)  # quoted, with \n and \" escaped: stays one line


class LogfmtFormatter(logging.Formatter):
    def __init__(self, priority_prefix: bool = False) -> None:
        super().__init__()
        self._prefix = priority_prefix

    def format(self, record: logging.LogRecord) -> str:
        line = " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())
        return _syslog_prefix(record) + line if self._prefix else line


def resolve_level(level: str | None, environ: Mapping[str, str] | None = None) -> int:
    """$HIPCAM_LOG_LEVEL wins over the config value; unknown names fall back to INFO."""
    env = os.environ if environ is None else environ
    name = (env.get(LEVEL_ENV) or level or "info").strip().lower()
    return getattr(logging, name.upper()) if name in LEVELS else logging.INFO


def setup_logging(
    level: str | None = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> logging.Handler:
    """Configure the root logger once (replacing earlier handlers); returns the handler."""
    env = os.environ if environ is None else environ
    out = sys.stdout if stream is None else stream
    under_journal = bool(env.get("JOURNAL_STREAM"))
    if fmt == "auto":
        fmt = "json" if under_journal or not _isatty(out) else "text"
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(priority_prefix=under_journal)
    elif fmt == "logfmt":
        formatter = LogfmtFormatter(priority_prefix=under_journal)
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(resolve_level(level, env))
    logging.captureWarnings(True)
    return handler


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
