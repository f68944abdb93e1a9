"""Property tests: arbitrary bodies, headers, content types and tokens never cause a 5xx or a crash."""

from __future__ import annotations

import json
import string

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

# header values requests can send: latin-1, no CR/LF, no leading space
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=60).filter(lambda v: not v[:1].isspace())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
tokens = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789abcdef", min_size=28, max_size=32),
    st.text(alphabet=string.hexdigits, min_size=30, max_size=30),
)
header_tokens = st.one_of(
    header_text,
    st.text(alphabet="0123456789abcdef", min_size=28, max_size=32),
    st.text(alphabet=string.hexdigits, min_size=30, max_size=30),
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                     "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                     "application/ld+json", "", ";", "application/json;;;"]),
    header_text,
)


def _still_alive(client) -> None:
    assert requests.get(f"{client.api}/app/healthz", timeout=5).status_code == 200


@FUZZ
@given(body=st.binary(max_size=2000) | json_values.map(lambda v: json.dumps(v).encode()),
       content_type=content_types)
def test_post_arbitrary_body_never_5xx(client, fuzz_hook, body, content_type):
    headers = {"Authorization": f"Bearer {fuzz_hook['token']}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    resp = requests.post(f"{client.api}/data", data=body, headers=headers, timeout=10)
    assert resp.status_code in (201, 400), (resp.status_code, resp.text)
    assert isinstance(resp.json(), dict)
    if resp.status_code == 201:
        value = json.loads(body)
        assert isinstance(value, dict) or (isinstance(value, str) and value)
        assert client.history(fuzz_hook["token"], nbr=1)[0]["content"] == value


@FUZZ
@given(payload=json_values)
def test_post_json_values(client, fuzz_hook, payload):
    resp = client.post(fuzz_hook["token"], payload)
    accepted = isinstance(payload, dict) or (isinstance(payload, str) and payload != "")
    assert resp.status_code == (201 if accepted else 400), resp.text


@FUZZ
@given(headers=st.dictionaries(
    st.text(alphabet=string.ascii_letters + "-", min_size=1, max_size=20), header_text, max_size=5),
    token=header_tokens, query=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3))
def test_post_arbitrary_headers_and_tokens(client, headers, token, query):
    headers = {k: v for k, v in headers.items() if k.lower() not in {"content-length", "transfer-encoding", "host"}}
    headers["Authorization"] = f"Bearer {token}"
    resp = requests.post(f"{client.api}/data", params=query, data=b'{"a": 1}', headers=headers, timeout=10)
    assert resp.status_code < 500, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")


@FUZZ
@given(token=tokens, nbr=st.text(max_size=10))
def test_get_data_arbitrary_query(client, token, nbr):
    resp = requests.get(f"{client.api}/data", params={"token": token, "nbr": nbr}, timeout=10)
    assert resp.status_code in (401, 404), resp.text


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(token=tokens)
def test_ws_arbitrary_tokens(client, token):
    from urllib.parse import quote

    sock = client.ws(quote(token, safe=""))
    try:
        first = sock.recv()
        assert first == "error:token invalid"
    finally:
        sock.close()


def test_everything_still_works_after_fuzzing(client):
    _still_alive(client)
    client.assert_round_trip({"after": "fuzz"})
