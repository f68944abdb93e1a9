"""An HTTP request as Traefik v3's router sees it.

Before any rule runs, a Traefik v3.6 entry point rewrites the path: a bad
percent-encoding is answered 400; encoded unreserved characters are decoded
(``/%77h`` is ``/wh``) and the other encodings upper-cased; dot segments and
repeated slashes are removed, a trailing slash kept (``sanitizePath``, on by
default); then every encoding except the reserved characters (``%2F``, ``%3F``,
...) is decoded. The result is the *routing path* the matchers compare.
Queries split on ``&`` and ``;``; the host is lower-cased without its port.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Request", "routing_path", "BadRequest", "go_clean"]

_UNRESERVED = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_RESERVED = {":", "/", "?", "#", "[", "]", "@", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", "%"}
_PERCENT = re.compile(r"%(..)?", re.DOTALL)
_HEX = re.compile(r"[0-9A-Fa-f]{2}")


class BadRequest(ValueError):
    """Traefik answers 400 before routing (e.g. an invalid percent-encoding)."""


def go_clean(p: str) -> str:
    """Go's ``path.Clean``: drop ``.``, resolve ``..``, squeeze slashes (``//a`` is ``/a``)."""
    rooted = p.startswith("/")
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = ("/" if rooted else "") + "/".join(parts)
    return out or ("/" if rooted else ".")


def _normalize(raw: str) -> str:
    """Upper-case every %XX, decode those of unreserved characters; 400 on a broken one."""
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        code = raw[i + 1:i + 3]
        if len(code) < 2 or not _HEX.fullmatch(code):
            raise BadRequest(f"invalid percent-encoding {raw[i:i + 3]!r} in {raw!r}")
        byte = int(code, 16)
        out.append(chr(byte) if byte in _UNRESERVED else "%" + code.upper())
        i += 3
    return "".join(out)


def _decode_unreserved_for_routing(escaped: str) -> str:
    """Decode every %XX but the reserved characters', as Traefik's muxer does for its matchers."""
    out = bytearray()
    i = 0
    while i < len(escaped):
        if escaped[i] == "%":
            code = escaped[i + 1:i + 3]
            char = chr(int(code, 16))
            if char in _RESERVED:
                out += ("%" + code.upper()).encode()
            else:
                out.append(int(code, 16))
            i += 3
        else:
            out += escaped[i].encode()
            i += 1
    return out.decode("utf-8", "surrogateescape")


def routing_path(raw_path: str, sanitize: bool = True) -> str:
    """The path Traefik's matchers see for the request target's ``raw_path``."""
    if not raw_path.startswith("/"):
        raise BadRequest(f"the request path {raw_path!r} does not start with '/'")
    escaped = _normalize(raw_path)
    if sanitize:
        cleaned = go_clean(escaped)
        if escaped.endswith("/") and not cleaned.endswith("/"):
            cleaned += "/"
        escaped = cleaned
    return _decode_unreserved_for_routing(escaped)


def websocket_headers(seed: str = "chartest") -> dict[str, str]:
    """The headers of a websocket upgrade (RFC 6455), with a fixed key."""
    key = base64.b64encode(hashlib.sha1(seed.encode()).digest()[:16]).decode()
    return {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": key}


@dataclass
class Request:
    """One request: ``target`` is the raw path and query exactly as sent (``/a%2Fb?x=1``)."""

    method: str
    host: str
    target: str = "/"
    headers: list[tuple[str, str]] = field(default_factory=list)
    websocket: bool = False
    client_ip: str = "127.0.0.1"
    entry_point: str | None = None

    @classmethod
    def from_url(cls, method: str, url: str, headers: dict[str, str] | list[tuple[str, str]] | None = None,
                 websocket: bool = False, entry_point: str | None = None) -> "Request":
        """``Request.from_url("GET", "http://webhooks.localhost/whatever")``; the path is kept raw."""
        parts = urlsplit(url)
        if not parts.netloc:
            raise ValueError(f"{url!r} is not an absolute URL (want http://host/path)")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        return cls(method.upper(), parts.netloc, target, items, websocket, entry_point=entry_point)

    @property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def raw_query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @cached_property
    def routing_path(self) -> str:
        """Raises :class:`BadRequest` when Traefik would answer 400 before routing."""
        return routing_path(self.raw_path)

    @cached_property
    def url_path(self) -> str:
        """The decoded, sanitized path a Service receives before any middleware (Go's ``URL.Path``)."""
        escaped = _normalize(self.raw_path)
        cleaned = go_clean(escaped)
        if escaped.endswith("/") and not cleaned.endswith("/"):
            cleaned += "/"
        return unquote(cleaned, errors="surrogateescape")

    @cached_property
    def canonical_host(self) -> str:
        host = self.host.strip()
        if host.startswith("["):
            host = host[1:host.index("]")] if "]" in host else host
        elif host.count(":") == 1:
            host = host.split(":", 1)[0]
        return host.strip().lower()

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query.replace(";", "&"), keep_blank_values=True)

    def all_headers(self) -> list[tuple[str, str]]:
        extra = list(websocket_headers().items()) if self.websocket else []
        return [*self.headers, *extra]

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.all_headers() if k.lower() == name]

    def label(self) -> str:
        """``GET webhooks.localhost/whatever`` (``WS`` for a websocket upgrade), for ids and tables."""
        extra = "".join(f" [{k}: {v}]" for k, v in self.headers)
        return f"{'WS' if self.websocket else self.method} {self.host}{self.target}{extra}"
