"""JSON logs, one object a line, with the request id and nothing personal.

Every record passes a filter that masks card numbers and email addresses in the message
and in every extra field, whatever logger wrote it (ours, uvicorn's, a library's).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from checkout.cardguard import mask_pans
from checkout.web.request_id import current_request_id

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of msg
}


def scrub(text: str) -> str:
    masked = mask_pans(text)
    return _EMAIL.sub(r"\1***@\2", masked) if "@" in masked else masked


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
        return json.dumps(out, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
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
