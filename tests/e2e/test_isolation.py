"""Two webhooks, two sockets: each receives only its own payloads."""

import pytest
import websocket


def test_each_socket_receives_only_its_own_payloads(webhooks):
    a, b = webhooks.create_webhook(), webhooks.create_webhook()
    with webhooks.open_socket(a.token) as sock_a, webhooks.open_socket(b.token) as sock_b:
        assert sock_a.greeting == f"webhook:{a.name}"
        assert sock_b.greeting == f"webhook:{b.name}"
        for n in range(5):
            assert webhooks.post_payload(a.token, {"for": "a", "n": n}).status_code == 201
            assert webhooks.post_payload(b.token, {"for": "b", "n": n}).status_code == 201
        got_a = [sock_a.receive_payload()["content"] for _ in range(5)]
        got_b = [sock_b.receive_payload()["content"] for _ in range(5)]
        assert got_a == [{"for": "a", "n": n} for n in range(5)]
        assert got_b == [{"for": "b", "n": n} for n in range(5)]
        for sock in (sock_a, sock_b):
            with pytest.raises(websocket.WebSocketTimeoutException):
                sock.receive_text(timeout=1)


def test_unknown_token_gets_the_error_frame_and_is_closed(webhooks):
    with webhooks.open_socket("0" * 30) as sock:
        assert sock.greeting == "error:token invalid"
        assert sock.receive_close_code(timeout=5) == 1008  # policy violation
