"""Traefik v3's HTTP rule language: parse a router's ``match`` and evaluate it on a request.

Semantics follow Traefik v3.6 (``pkg/muxer/http`` and ``pkg/rules``), written
afresh here: matchers ``Host``, ``HostRegexp``, ``Path``, ``PathPrefix``,
``PathRegexp``, ``Method``, ``Header``, ``HeaderRegexp``, ``Query``,
``QueryRegexp``, ``ClientIP``; operators ``&&``, ``||``, ``!`` and parentheses
with Go's precedence (``!`` > ``&&`` > ``||``); string arguments in backticks or
double quotes. The facts that cause real bugs are kept exactly:

* ``PathPrefix`` is a plain string prefix on the routing path (``/wh`` matches
  ``/whatever``), not a path-segment prefix;
* regexps are unanchored searches (``PathRegexp(`/a`)`` matches ``/x/a/y``), and
  ``HostRegexp`` is also tried on the empty string, so a pattern that matches
  "" matches every host;
* ``Host`` compares lower-cased hosts, port stripped, a trailing dot ignored;
* ``Query(`k`)`` with one argument matches only ``k`` with an empty value;
* the default priority is the rule's length in bytes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from .request import Request

__all__ = ["RuleError", "Rule", "parse_rule", "MATCHERS", "default_priority"]

# matcher name -> accepted argument counts
MATCHERS = {
    "ClientIP": (1,), "Method": (1,), "Host": (1,), "HostRegexp": (1,), "Path": (1,),
    "PathRegexp": (1,), "PathPrefix": (1,), "Header": (2,), "HeaderRegexp": (2,),
    "Query": (1, 2), "QueryRegexp": (1, 2),
}
# Traefik registers each matcher as written, lower-case, upper-case and Title-case.
_NAMES = {variant: name for name in MATCHERS
          for variant in (name, name.lower(), name.upper(), name.lower().capitalize())}


class RuleError(ValueError):
    """A rule Traefik would refuse (its router is then disabled); the message says where and why."""


def default_priority(rule: str) -> int:
    """Traefik's priority for a router without one: the rule's length in bytes."""
    return len(rule.encode())


# --- the syntax tree --------------------------------------------------------------------------


@dataclass
class Node:
    def matches(self, req: "Request") -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def leaves(self) -> Iterator["Matcher"]:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Matcher(Node):
    name: str
    args: list[str]
    text: str
    test: Callable[["Request"], bool] = field(repr=False, default=None)  # type: ignore[assignment]

    def matches(self, req: "Request") -> bool:
        return self.test(req)

    def leaves(self) -> Iterator["Matcher"]:
        yield self


@dataclass
class Not(Node):
    inner: Node

    def matches(self, req: "Request") -> bool:
        return not self.inner.matches(req)

    def leaves(self) -> Iterator[Matcher]:
        yield from self.inner.leaves()


@dataclass
class And(Node):
    left: Node
    right: Node

    def matches(self, req: "Request") -> bool:
        return self.left.matches(req) and self.right.matches(req)

    def leaves(self) -> Iterator[Matcher]:
        yield from self.left.leaves()
        yield from self.right.leaves()


@dataclass
class Or(Node):
    left: Node
    right: Node

    def matches(self, req: "Request") -> bool:
        return self.left.matches(req) or self.right.matches(req)

    def leaves(self) -> Iterator[Matcher]:
        yield from self.left.leaves()
        yield from self.right.leaves()


@dataclass
class Rule:
    """A parsed rule: ``matches(request)``, and ``why_not(request)`` for near misses."""

    text: str
    tree: Node

    def matches(self, req: "Request") -> bool:
        return self.tree.matches(req)

    def why_not(self, req: "Request") -> list[str]:
        """The matchers that made the rule fail on ``req``, grouped by the request's value."""
        grouped: dict[str, list[str]] = {}
        for failure in _failures(self.tree, req, negated=False):
            matcher, actual = failure.split(": ", 1)
            grouped.setdefault(actual, []).append(matcher)
        return [f"{actual}, not {' / '.join(ms)}" for actual, ms in grouped.items()]

    def matchers(self, name: str | None = None) -> list[Matcher]:
        return [m for m in self.tree.leaves() if name is None or m.name == name]


def _failures(node: Node, req: "Request", negated: bool) -> list[str]:
    if isinstance(node, Matcher):
        ok = node.matches(req)
        if ok != negated:
            return []
        return [f"{'!' if negated else ''}{node.text}: {_actual(node, req)}"]
    if isinstance(node, Not):
        return _failures(node.inner, req, not negated)
    assert isinstance(node, (And, Or))
    # under an even number of negations an And fails if any side fails; an Or only if both do
    conjunctive = isinstance(node, And) != negated
    left, right = _failures(node.left, req, negated), _failures(node.right, req, negated)
    if conjunctive:
        return left + right
    return left + right if left and right else []


def _actual(m: Matcher, req: "Request") -> str:
    if m.name in ("Host", "HostRegexp"):
        return f"host is {req.canonical_host!r}"
    if m.name.startswith("Path"):
        return f"routing path is {req.routing_path!r}"
    if m.name == "Method":
        return f"method is {req.method}"
    if m.name.startswith("Header"):
        return f"header {m.args[0]} is {req.header_values(m.args[0]) or 'absent'}"
    if m.name.startswith("Query"):
        return f"query {m.args[0]} is {req.query.get(m.args[0]) or 'absent'}"
    return f"client IP is {req.client_ip}"


# --- parsing ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op>&&|\|\||!|\(|\)|,)
  | (?P<raw>`[^`]*`)
  | (?P<quoted>"(?:[^"\\\n]|\\.)*")
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise RuleError(f"rule {text!r}: unexpected {text[pos:pos + 10]!r} at character {pos}")
        kind = m.lastgroup
        if kind != "space":
            out.append((kind, m.group(), pos))
        pos = m.end()
    return out


def _string_value(kind: str, token: str) -> str:
    if kind == "raw":
        return token[1:-1]
    import ast

    return ast.literal_eval(token)  # a Go interpreted string; Python's escapes cover the usual ones


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise RuleError(f"rule {self.text!r}: ends early" + (f", expected {value!r}" if value else ""))
        if value is not None and tok[1] != value:
            raise RuleError(f"rule {self.text!r}: expected {value!r} at character {tok[2]}, found {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise RuleError("empty rule")
        node = self.or_expr()
        if self.peek() is not None:
            tok = self.peek()
            raise RuleError(f"rule {self.text!r}: unexpected {tok[1]!r} at character {tok[2]}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while (tok := self.peek()) and tok[1] == "||":
            self.take()
            node = Or(node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while (tok := self.peek()) and tok[1] == "&&":
            self.take()
            node = And(node, self.unary())
        return node

    def unary(self) -> Node:
        tok = self.peek()
        if tok and tok[1] == "!":
            self.take()
            return Not(self.unary())
        if tok and tok[1] == "(":
            self.take()
            node = self.or_expr()
            self.take(")")
            return node
        return self.call()

    def call(self) -> Node:
        kind, name, pos = self.take()
        if kind != "ident":
            raise RuleError(f"rule {self.text!r}: expected a matcher at character {pos}, found {name!r}")
        canonical = _NAMES.get(name)
        if canonical is None:
            raise RuleError(f"rule {self.text!r}: unknown matcher {name!r} at character {pos} "
                            f"(Traefik v3 knows {', '.join(MATCHERS)})")
        self.take("(")
        args: list[str] = []
        while (tok := self.peek()) and tok[1] != ")":
            if args:
                self.take(",")
                tok = self.peek()
            if tok is None or tok[0] not in ("raw", "quoted"):
                raise RuleError(f"rule {self.text!r}: {name} takes string arguments (`...` or \"...\")")
            self.take()
            args.append(_string_value(tok[0], tok[1]))
        _, _, end = self.take(")")
        return build_matcher(canonical, args, self.text[pos:end + 1])


def parse_rule(text: str) -> Rule:
    """Parse ``text``; raises :class:`RuleError` for a rule Traefik would refuse."""
    return Rule(text, _Parser(text).parse())


# --- the matchers ----------------------------------------------------------------------------


def _regexp(pattern: str, name: str, text: str) -> re.Pattern:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"{text}: {name} does not compile: {exc}") from None


def build_matcher(name: str, args: list[str], text: str) -> Matcher:
    if len(args) not in MATCHERS[name]:
        raise RuleError(f"{text}: {name} takes {' or '.join(map(str, MATCHERS[name]))} argument(s), "
                        f"got {len(args)}")
    if any(a == "" for a in args):
        raise RuleError(f"{text}: empty argument")
    test: Callable[["Request"], bool]
    if name == "Host":
        if not args[0].isascii():
            raise RuleError(f"{text}: non-ASCII host")
        want = args[0].lower()

        def test(req, want=want):
            got = req.canonical_host
            return bool(got) and (got == want or (want.endswith(".") and got == want[:-1])
                                  or (got.endswith(".") and got[:-1] == want))
    elif name == "HostRegexp":
        if not args[0].isascii():
            raise RuleError(f"{text}: non-ASCII host")
        rx = _regexp(args[0], name, text)

        def test(req, rx=rx):  # Traefik also tries the (empty) CNAME-flattened host
            return bool(rx.search(req.canonical_host)) or bool(rx.search(""))
    elif name in ("Path", "PathPrefix"):
        if not args[0].startswith("/"):
            raise RuleError(f"{text}: path {args[0]!r} does not start with a '/'")
        want = args[0]
        if name == "Path":
            def test(req, want=want):
                return req.routing_path == want
        else:
            def test(req, want=want):
                return req.routing_path.startswith(want)
    elif name == "PathRegexp":
        rx = _regexp(args[0], name, text)

        def test(req, rx=rx):
            return bool(rx.search(req.routing_path))
    elif name == "Method":
        want = args[0].upper()

        def test(req, want=want):
            return req.method == want
    elif name in ("Header", "HeaderRegexp"):
        key = args[0]
        if name == "Header":
            def test(req, key=key, want=args[1]):
                return want in req.header_values(key)
        else:
            rx = _regexp(args[1], name, text)

            def test(req, key=key, rx=rx):
                return any(rx.search(v) for v in req.header_values(key))
    elif name in ("Query", "QueryRegexp"):
        key = args[0]
        if name == "Query" or len(args) == 1:
            def test(req, key=key, want=args[1] if len(args) == 2 else ""):
                return want in req.query.get(key, ())
        else:
            rx = _regexp(args[1], name, text)

            def test(req, key=key, rx=rx):
                return any(rx.search(v) for v in req.query.get(key, ()))
    else:  # ClientIP
        try:
            net = ipaddress.ip_network(args[0], strict=False)
        except ValueError as exc:
            raise RuleError(f"{text}: {exc}") from None

        def test(req, net=net):
            try:
                return ipaddress.ip_address(req.client_ip) in net
            except ValueError:
                return False
    return Matcher(name, list(args), text, test)
