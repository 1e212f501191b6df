"""JSON logs, one object a line, with the request id and nothing personal.

Every record passes a filter that masks card numbers and email addresses in the message
and in every extra field, whatever logger wrote it (ours, uvicorn's, a library's).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from checkout.cardguard import mask_pans
from checkout.web.request_id import current_request_id

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


# Credentials as they appear in a logged header: the scheme stays, the secret goes.
_CREDENTIAL = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


def scrub(text: str) -> str:
    masked = mask_pans(text)
    if "@" in masked:
        masked = _EMAIL.sub(r"\1***@\2", masked)
    return _CREDENTIAL.sub(r"\1 ***", masked)


class ScrubFilter(logging.Filter):
    """Masks every record, except those whose writer marks them ``_safe_by_construction``
    (the access log: a route template, numbers and our own request id, on every request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_safe_by_construction", False):
            return True
        record.msg = scrub(record.getMessage())
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, scrub(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": current_request_id.get(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                # Strings were scrubbed by the filter; anything else is scrubbed as text here.
                out[name] = (
                    value
                    if isinstance(value, int | float | bool | str | None)
                    else scrub(str(value))
                )
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception text and tracebacks can quote request data.
            out["error_type"] = record.exc_info[0].__name__
        return orjson.dumps(out, default=str).decode()


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines in batches: a write and flush per request showed in profiles.

    A background thread flushes every ``interval`` seconds; a record at WARNING or above,
    a full buffer, ``flush()`` and ``close()`` (called by logging at exit) flush at once,
    so what matters is never held back and nothing is lost on a clean stop.
    """

    def __init__(self, stream: TextIO, *, interval: float = 0.05, max_bytes: int = 256 * 1024):
        super().__init__(stream)
        self._pending: list[str] = []
        self._pending_bytes = 0
        self._max_bytes = max_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="log-flusher", daemon=True
        )
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            self._pending_bytes += len(line)
            if record.levelno >= logging.WARNING or self._pending_bytes >= self._max_bytes:
                self._write_pending()

    def write_line(self, line: str) -> None:
        """A line already formatted (the access log's fast path, which is INFO)."""
        with self.lock:  # type: ignore[union-attr]
            self._pending.append(line)
            self._pending_bytes += len(line)
            if self._pending_bytes >= self._max_bytes:
                self._write_pending()

    def _write_pending(self) -> None:
        if self._pending:
            self.stream.write("".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0
        self.stream.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.flush()
            except (OSError, ValueError):  # the stream was closed under us
                return

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError, ValueError):
            self.flush()
        super().close()


class AccessLog:
    """One line per request, in the same JSON shape as every other record, written
    straight to the batching handler: building a ``LogRecord`` and running the formatter
    cost about a quarter of a small request's time. Safe by construction (a route
    template, a method, numbers and our own request id), so there is nothing to scrub.
    Without the batching handler (tests, embedding), it logs the ordinary way.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._logger = logging.getLogger(name)
        self._second = -1
        self._second_text = ""

    def _handler(self) -> BatchingStreamHandler | None:
        for h in logging.getLogger().handlers:
            if isinstance(h, BatchingStreamHandler):
                return h
        return None

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"

    def request(self, fields: dict[str, Any]) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        handler = self._handler()
        if handler is None or self._logger.filters:
            self._logger.info("request", extra={**fields, "_safe_by_construction": True})
            return
        line = {
            "ts": self._timestamp(time.time()),
            "level": "info",
            "logger": self._name,
            "msg": "request",
            "request_id": current_request_id.get(),
            **fields,
        }
        handler.write_line(orjson.dumps(line).decode() + "\n")


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    # Skip what the JSON lines never show: the caller's file and line (a stack walk on
    # every record) and thread/process names (logging docs, "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = BatchingStreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # The SDKs log request details (stripe logs params at debug); keep them at warning.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # paypalrestsdk logs every request's URL at INFO and, outside live mode, its headers
    # (the bearer token) at DEBUG; the adapter runs it in live mode, and this keeps even a
    # DEBUG root from reaching it. The scrub above masks credentials regardless.
    for noisy in ("paypalrestsdk", "urllib3", "requests"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
