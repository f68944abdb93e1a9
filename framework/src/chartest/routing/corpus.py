"""A request corpus generated from a routing table: the requests where routing bugs live.

From every literal path of the rules (``Path``, ``PathPrefix``) and ``/``:
the path itself, one character added or removed, with and without a
trailing slash, a sub-path, a sibling (``/wh-x``, ``/whatever``),
percent-encoded forms (an unreserved letter, an encoded slash), dot
segments and doubled slashes, a case change, a query; each as GET, as the
methods the rules name, and as a websocket upgrade; on every host the rules
name, and on other hosts (unknown, upper-case, with a port, a trailing dot).
Deterministic and free of duplicates, so a failing request has a stable id.
"""

from __future__ import annotations

from typing import Iterable

from .request import Request
from .table import RoutingTable

__all__ = ["generate", "path_variants", "OTHER_HOST"]

OTHER_HOST = "other.invalid"


def _encode_first_letter(p: str) -> str | None:
    for i, c in enumerate(p):
        if c.isalnum():
            return p[:i] + f"%{ord(c):02x}" + p[i + 1:]
    return None


def path_variants(p: str) -> list[str]:
    """The boundary cases of one literal path."""
    base = p.rstrip("/") or "/"
    out = [p, base, base.rstrip("/") + "/", p + "x", p + "/x", p + "-x", p + "atever", p + "/x/y",
           p.upper(), p + "?q=1", p + "/?q=1", base + "/..", base + "/../", base + "/./x",
           "/" + p.lstrip("/") if p.startswith("//") else "/" + p, base + "//x", "/x/.." + base,
           base + "%2Fx", base + "/%2e%2e/", base + "%20x", base + "/x/../", p.swapcase(), base + "%2F",
           base + ";x", base + "%2e", base + "/.", base + "~"]
    if len(p) > 1:
        out += [p[:-1], base[:-1] or "/"]
    if (enc := _encode_first_letter(p)) is not None:
        out.append(enc)
    return list(dict.fromkeys(v for v in out if v.startswith("/")))


def literal_paths(table: RoutingTable) -> list[str]:
    paths = ["/"]
    for r in table.routes:
        if r.rule is None:
            continue
        for m in r.rule.matchers():
            if m.name in ("Path", "PathPrefix"):
                paths.append(m.args[0])
    return list(dict.fromkeys(paths))


def _methods(table: RoutingTable) -> list[str]:
    named = [m.args[0].upper() for r in table.routes if r.rule for m in r.rule.matchers("Method")]
    return list(dict.fromkeys(["GET", "POST", "DELETE", *named]))


def _headers(table: RoutingTable) -> list[tuple[str, str]]:
    out = []
    for r in table.routes:
        for m in (r.rule.matchers("Header") if r.rule else []):
            out.append((m.args[0], m.args[1]))
    return list(dict.fromkeys(out))


def generate(table: RoutingTable, hosts: Iterable[str] | None = None, websocket: bool = True) -> list[Request]:
    """The corpus for ``table`` (``hosts`` defaults to every ``Host`` the rules name)."""
    hosts = list(hosts) if hosts is not None else table.hosts
    primary = hosts or [OTHER_HOST]
    paths = list(dict.fromkeys(v for p in literal_paths(table) for v in path_variants(p)))
    methods, headers = _methods(table), _headers(table)
    out: list[Request] = []
    for host in primary:
        for path in paths:
            for method in methods:
                out.append(Request(method, host, path))
            if websocket:
                out.append(Request("GET", host, path, websocket=True))
            for h in headers:
                out.append(Request("GET", host, path, [h]))
    others = [OTHER_HOST] + [v for h in primary[:1] for v in (h.upper(), f"{h}:8080", f"{h}.")]
    literals = literal_paths(table)
    for host in others:
        for path in literals:
            out.append(Request("GET", host, path))
            if websocket:
                out.append(Request("GET", host, path, websocket=True))
    seen, unique = set(), []
    for r in out:
        key = r.label()
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique
