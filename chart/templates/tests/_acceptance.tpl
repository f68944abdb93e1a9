{{/*
The acceptance script the `helm test` hook pod runs (python3 -c): the seed's acceptance through the
in-cluster Services. Get a webhook (GET /wh on api), open the websocket on ws with its token, POST a
payload to /data, and receive exactly that payload over the websocket; then delete the webhook.
Python's standard library plus `websockets` (the api image has both). Every step is printed, so
`helm test --logs` (and the e2e tier on failure) shows how far it got.
*/}}
{{- define "webhooks.tests.acceptanceScript" -}}
import json, os, sys, time, urllib.error, urllib.request
from websockets.sync.client import connect

API, WS = os.environ["API_URL"], os.environ["WS_URL"]


def step(message):
    print(time.strftime("%H:%M:%S"), message, flush=True)


def call(method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


step("GET " + API + "/wh")
deadline = time.monotonic() + 60
while True:
    try:
        status, hook = call("GET", "/wh")
        break
    except (urllib.error.URLError, OSError) as err:
        if time.monotonic() > deadline:
            raise
        step("api not answering yet: " + str(err))
        time.sleep(2)
assert status == 201 and len(hook["token"]) == 30, (status, hook)
step("webhook " + hook["name"] + " created; websocket " + WS)
with connect(WS + "?token=" + hook["token"], open_timeout=10) as ws:
    hello = ws.recv(timeout=10)
    assert hello == "webhook:" + hook["name"], hello
    step("websocket subscribed: " + hello)
    payload = dict(check="helm test", webhook=hook["name"], sent=time.time())
    status, body = call("POST", "/data", hook["token"], payload)
    assert status == 201, (status, body)
    step("POST /data -> " + str(status))
    frame = json.loads(ws.recv(timeout=15))
    assert frame["content"] == payload, frame
    step("payload received over the websocket at " + str(frame.get("created_at")))
status, body = call("DELETE", "/wh", hook["token"])
step("DELETE /wh -> " + str(status) + "; acceptance PASSED")
{{- end -}}
