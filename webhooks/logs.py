"""Structured JSON logs on stdout (structlog), uvicorn's own loggers included."""

from __future__ import annotations

import logging
import re
import sys

import structlog

_shared = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


# a token's value after ``token=`` (any shape, any encoding of the separator), and
# anything shaped like a token (30 hex characters standing alone)
_TOKEN_PARAM = re.compile(r"(token(?:=|%3[dD]))[^&\s\"'\\]+", re.IGNORECASE)
_TOKEN_SHAPE = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{30}(?![0-9a-fA-F])")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every token (query parameter or token-shaped string) replaced."""
    return _TOKEN_SHAPE.sub(REDACTED, _TOKEN_PARAM.sub(r"\1" + REDACTED, text))


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """The JSON line formatter, with tokens removed from the finished line.

    Applied last, so it covers every logger (uvicorn's websocket handshake line
    ``"WebSocket /ws?token=..."`` included), exception texts and tracebacks.
    """

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO", service: str = "") -> None:
    """Send every log record (structlog's and the stdlib's) to stdout as one JSON line."""
    formatter = RedactingFormatter(
        foreign_pre_chain=_shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # the drivers are chatty at DEBUG; keep them at WARNING unless asked otherwise
    for name in ("pymongo", "nats", "websockets"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.WARNING))
    structlog.configure(
        processors=[*_shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)


def get(name: str = "webhooks"):
    return structlog.get_logger(name)


class AccessLog:
    """ASGI middleware: one JSON line per HTTP request, without the query string.

    (Tokens travel in ``?token=``; uvicorn's own access log would write them out.)
    """

    def __init__(self, app, skip: tuple[str, ...] = ()):
        self.app = app
        self.skip = skip
        self.log = get("webhooks.access")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") in self.skip:
            await self.app(scope, receive, send)
            return
        import time

        started = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client") or ("", 0)
            self.log.info("request", method=scope.get("method"), path=scope.get("path"),
                          status=status[0], ms=round((time.perf_counter() - started) * 1000, 1),
                          client=client[0])
