"""The Traefik middlewares that change the path a backend receives, applied like Traefik v3.6.

They do not change which router matches (routing happens first) but they do
change what the Service sees: ``StripPrefix``, ``StripPrefixRegex``,
``AddPrefix``, ``ReplacePath``, ``ReplacePathRegex``. Other middlewares are
kept by name and reported as not modelled (a redirect or an auth middleware
can answer before the Service does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PathMiddleware", "from_spec", "PATH_KINDS"]

PATH_KINDS = ("stripPrefix", "stripPrefixRegex", "addPrefix", "replacePath", "replacePathRegex")
# middlewares that may answer themselves instead of the Service
ANSWERING_KINDS = ("redirectScheme", "redirectRegex", "basicAuth", "digestAuth", "forwardAuth",
                   "ipAllowList", "ipWhiteList", "rateLimit", "inFlightReq", "errors")


def _leading_slash(s: str) -> str:
    return s if not s or s.startswith("/") else "/" + s


@dataclass
class PathMiddleware:
    """One resolved middleware: its name, its kind and spec, and whether the path model covers it."""

    name: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def modelled(self) -> bool:
        return self.kind in PATH_KINDS

    @property
    def may_answer(self) -> bool:
        return self.kind in ANSWERING_KINDS

    def apply(self, path: str) -> str:
        """The decoded path after this middleware."""
        s = self.spec
        if self.kind == "stripPrefix":
            for prefix in s.get("prefixes") or []:
                if path.startswith(prefix):
                    rest = path[len(prefix):]
                    if s.get("forceSlash"):
                        return "/" + rest.lstrip("/")
                    return _leading_slash(rest)
            return path
        if self.kind == "stripPrefixRegex":
            for expr in s.get("regex") or []:
                m = re.search(expr, path)
                if m and m.group(0) and path.startswith(m.group(0)):
                    return _leading_slash(path.replace(m.group(0), "", 1))
            return path
        if self.kind == "addPrefix":
            return _leading_slash(str(s.get("prefix", "")) + path)
        if self.kind == "replacePath":
            return str(s.get("path", ""))
        if self.kind == "replacePathRegex":
            rx = re.compile(str(s.get("regex", "")))
            if rx.search(path):
                # Go's $1 / ${1} replacement syntax to Python's \g<1>
                repl = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", str(s.get("replacement", "")))
                return rx.sub(repl, path)
            return path
        return path

    def dynamic_config(self) -> dict[str, Any]:
        """This middleware in Traefik's file-provider form."""
        return {self.kind: self.spec}


def from_spec(name: str, spec: dict[str, Any]) -> PathMiddleware:
    """A Middleware resource's ``spec`` (one key: its kind) as a :class:`PathMiddleware`."""
    kinds = [k for k in (spec or {}) if spec[k] is not None]
    if len(kinds) != 1:
        return PathMiddleware(name, kinds[0] if kinds else "empty", {})
    return PathMiddleware(name, kinds[0], dict(spec[kinds[0]] or {}))
