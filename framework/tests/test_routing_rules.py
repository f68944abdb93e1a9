"""The predictor's pieces on their own: rule parsing, matcher semantics, Traefik's path rewriting."""

import pytest

from chartest.routing import BadRequest, Request, RuleError, default_priority, parse_rule, routing_path


def req(target="/", host="example.test", method="GET", headers=(), **kw):
    return Request(method, host, target, list(headers), **kw)


@pytest.mark.parametrize("rule,target,expected", [
    ("PathPrefix(`/wh`)", "/whatever", True),        # a string prefix, the seed's bug
    ("PathPrefix(`/wh/`)", "/whatever", False),
    ("PathPrefix(`/wh/`)", "/wh", False),
    ("Path(`/wh`)", "/wh/", False),
    ("Path(`/wh`) || PathPrefix(`/wh/`)", "/wh/info", True),
    ("PathRegexp(`/a`)", "/x/a/y", True),             # unanchored
    ("PathRegexp(`^/a$`)", "/x/a/y", False),
    ("Path(`/a b`)", "/a%20b", True),                 # non-reserved encodings are decoded for routing
    ("Path(`/a/b`)", "/a%2Fb", False),                # reserved ones are not
    ("Path(`/a%2Fb`)", "/a%2fb", True),               # ... and are upper-cased
    ("Path(`/wh`)", "/%77h", True),                   # an encoded unreserved letter is the letter
    ("Path(`/x`)", "/wh/../x", True),                 # dot segments are resolved before routing
    ("Path(`/x`)", "/wh/%2e%2e/x", True),
    ("Path(`/wh/`)", "/wh//", True),                  # repeated slashes squeezed, trailing one kept
    ("!PathPrefix(`/api`)", "/web", True),
    ("!(PathPrefix(`/a`) || PathPrefix(`/b`))", "/b", False),
    ("PathPrefix(`/a`) || PathPrefix(`/b`) && Method(`POST`)", "/a", True),   # && binds tighter
    ("(PathPrefix(`/a`) || PathPrefix(`/b`)) && Method(`POST`)", "/a", False),
    ("pathprefix(`/a`)", "/a", True),                 # lower-case matcher names are accepted
    ('Path("/a")', "/a", True),                       # double-quoted strings too
    ("Query(`k`)", "/?k", True),                      # one argument: an empty value
    ("Query(`k`)", "/?k=1", False),
    ("Query(`k`, `1`)", "/?x=2;k=1", True),           # semicolons separate like &
    ("QueryRegexp(`k`, `^[0-9]+$`)", "/?k=12", True),
])
def test_path_and_query_semantics(rule, target, expected):
    assert parse_rule(rule).matches(req(target)) is expected


@pytest.mark.parametrize("rule,host,expected", [
    ("Host(`example.test`)", "EXAMPLE.test:8080", True),   # case and port ignored
    ("Host(`example.test`)", "example.test.", True),       # trailing dot
    ("Host(`example.test`)", "other.test", False),
    ("HostRegexp(`^[a-z]+\\.test$`)", "abc.test", True),
    ("HostRegexp(`^x*$`)", "anything.example", True),       # matches "" (the empty CNAME-flattened host)
])
def test_host_semantics(rule, host, expected):
    assert parse_rule(rule).matches(req(host=host)) is expected


def test_method_header_clientip():
    r = req(method="DELETE", headers=[("X-Env", "prod")])
    assert parse_rule("Method(`delete`)").matches(r)
    assert parse_rule("Header(`x-env`, `prod`)").matches(r)
    assert not parse_rule("Header(`X-Env`, `pro`)").matches(r)
    assert parse_rule("HeaderRegexp(`X-Env`, `^pr`)").matches(r)
    assert parse_rule("ClientIP(`127.0.0.0/8`)").matches(r)
    assert not parse_rule("ClientIP(`10.0.0.1`)").matches(r)
    assert parse_rule("Header(`Upgrade`, `websocket`)").matches(req(websocket=True))


@pytest.mark.parametrize("rule,message", [
    ("PathPrefix(`wh`)", "does not start with a '/'"),
    ("Path(`/a`, `/b`)", "takes 1 argument"),
    ("Hots(`a`)", "unknown matcher 'Hots'"),
    ("Path(`/a`) &&", "ends early"),
    ("Path(`/a`) Path(`/b`)", "unexpected"),
    ("PathRegexp(`(`)", "does not compile"),
    ("Host(``)", "empty argument"),
])
def test_rules_traefik_refuses(rule, message):
    with pytest.raises(RuleError, match=message):
        parse_rule(rule)


def test_default_priority_is_the_rule_length_in_bytes():
    assert default_priority("Host(`a`)") == 9
    assert default_priority("Path(`/é`)") == 11


@pytest.mark.parametrize("raw,expected", [
    ("/a/./b/../c", "/a/c"), ("//a", "/a"), ("/a/..", "/"), ("/a/../", "/"), ("/a%41", "/aA"),
    ("/%2e%2e/x", "/x"), ("/a%2fb", "/a%2Fb"), ("/a%20b", "/a b"),
])
def test_routing_path(raw, expected):
    assert routing_path(raw) == expected


@pytest.mark.parametrize("raw", ["/a%zz", "/a%2", "x"])
def test_bad_paths_are_rejected_before_routing(raw):
    with pytest.raises(BadRequest):
        routing_path(raw)


def test_why_not_names_the_failing_matchers():
    rule = parse_rule("Host(`a.test`) && (Path(`/wh`) || PathPrefix(`/wh/`))")
    why = rule.why_not(req("/whatever", host="a.test"))
    assert why == ["routing path is '/whatever', not Path(`/wh`) / PathPrefix(`/wh/`)"]
    assert rule.why_not(req("/wh", host="a.test")) == []
