// webhooks.app dashboard: plain JS, no build step.
// Talks only to its own origin: GET /wh, /wh/info, /data (api, through the ingress)
// and ws(s)://<location.host>/ws?token=... (ws service). Frames from ws:
//   "webhook:<name>"          subscribed
//   "error:<reason>"           refused (then closed)
//   {"content":..,"created_at":..}  one JSON encoding per payload
"use strict";

(() => {
  const KEY_TOKEN = "webhooks.token";
  const KEY_NAME = "webhooks.name";
  const TOKEN_RE = /^[0-9a-f]{30}$/;
  const $ = (id) => document.getElementById(id);

  let socket = null;
  let reconnectTimer = null;
  let reconnectDelay = 1000;
  let received = 0;
  let current = null; // the token shown

  function setWs(state, text) {
    document.body.dataset.ws = state;
    $("ws-status").textContent = text;
    $("ws-status").className = "status " + state;
  }

  function showError(message) {
    const el = $("landing-error");
    el.textContent = message;
    el.hidden = !message;
  }

  function showLanding(message) {
    closeSocket();
    current = null;
    $("dashboard").hidden = true;
    $("landing").hidden = false;
    $("logout").hidden = true;
    showError(message || "");
  }

  async function api(path, token, options = {}) {
    const headers = Object.assign({}, options.headers || {});
    if (token) headers["Authorization"] = "Bearer " + token;
    const resp = await fetch(path, Object.assign({}, options, { headers, cache: "no-store" }));
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    return { status: resp.status, body };
  }

  function curlCommand(token) {
    return `curl -XPOST -H "Authorization: Bearer ${token}" ${location.origin}/data -d '{"ok": "hello"}' -H 'Content-Type: application/json'`;
  }

  function formatDate(iso) {
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }

  function updateTitle() {
    $("history-title").textContent = `Webhooks history (#${received} payload received)`;
    $("history-empty").hidden = $("history").children.length > 0;
  }

  function payloadElement(item) {
    const li = document.createElement("li");
    li.className = "payload";
    const time = document.createElement("time");
    time.dateTime = item.created_at;
    time.textContent = formatDate(item.created_at);
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(item.content, null, 2);
    li.append(time, pre);
    return li;
  }

  async function showDashboard(token) {
    current = token;
    $("landing").hidden = true;
    const info = await api("/wh/info", token);
    if (current !== token) return;
    if (info.status === 404 || info.status === 401) {
      localStorage.removeItem(KEY_TOKEN);
      localStorage.removeItem(KEY_NAME);
      showLanding("This token is unknown (or expired). Get a new webhook.");
      return;
    }
    if (info.status !== 200 || !info.body || !info.body.info) {
      showLanding(`The service is unavailable (HTTP ${info.status}). Try again in a moment.`);
      return;
    }
    const hook = info.body.info;
    localStorage.setItem(KEY_NAME, hook.name);
    $("webhook-name").textContent = hook.name;
    $("webhook-url").textContent = location.origin + "/data";
    $("webhook-token").textContent = token;
    $("webhook-created").textContent = formatDate(hook.created_at);
    $("webhook-created").title = hook.created_at;
    $("curl-command").textContent = curlCommand(token);
    $("logout").hidden = false;
    $("dashboard").hidden = false;

    const history = $("history");
    history.replaceChildren();
    const data = await api("/data?nbr=100", token);
    if (current !== token) return;
    if (data.status === 200 && data.body && Array.isArray(data.body.data)) {
      for (const item of data.body.data) history.append(payloadElement(item));
    }
    received = Math.max(Number(hook.payload_nbr) || 0, history.children.length);
    updateTitle();
    openSocket(token);
  }

  function closeSocket() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (socket) {
      const s = socket;
      socket = null;
      s.onclose = null;
      try { s.close(); } catch (e) { /* already closed */ }
    }
    document.body.dataset.ws = "closed";
  }

  function openSocket(token) {
    closeSocket();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const s = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(token)}`);
    socket = s;
    let refused = false;
    setWs("connecting", "connecting...");
    s.onopen = () => {
      reconnectDelay = 1000;
      setWs("open", "live: new payloads appear below");
    };
    s.onmessage = (event) => {
      const text = String(event.data);
      if (text.startsWith("webhook:")) return;
      if (text.startsWith("error:")) {
        refused = text === "error:token invalid";
        setWs("error", "live updates refused: " + text.slice(6));
        return;
      }
      let item;
      try { item = JSON.parse(text); } catch (e) { return; }
      if (!item || typeof item !== "object" || !("content" in item)) return;
      $("history").prepend(payloadElement(item));
      received += 1;
      updateTitle();
    };
    s.onclose = () => {
      if (socket !== s) return;
      socket = null;
      if (refused) return;
      setWs("closed", "disconnected; reconnecting...");
      reconnectTimer = setTimeout(() => { if (current === token) openSocket(token); }, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 15000);
    };
  }

  function useToken(token, name) {
    localStorage.setItem(KEY_TOKEN, token);
    if (name) localStorage.setItem(KEY_NAME, name);
    showDashboard(token);
  }

  $("get-webhook").addEventListener("click", async () => {
    const button = $("get-webhook");
    button.disabled = true;
    showError("");
    try {
      const resp = await api("/wh", null);
      if (resp.status === 201 && resp.body && resp.body.token) {
        useToken(resp.body.token, resp.body.name);
      } else {
        showError(`Could not create a webhook (HTTP ${resp.status}).`);
      }
    } catch (e) {
      showError("Could not reach the service.");
    } finally {
      button.disabled = false;
    }
  });

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token-input").value.trim().toLowerCase();
    if (!TOKEN_RE.test(token)) {
      showError("A token is 30 hexadecimal characters.");
      return;
    }
    $("token-input").value = "";
    useToken(token, null);
  });

  $("logout").addEventListener("click", () => {
    localStorage.removeItem(KEY_TOKEN);
    localStorage.removeItem(KEY_NAME);
    showLanding("");
  });

  $("copy-curl").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("curl-command").textContent);
      $("copy-curl").textContent = "Copied";
      setTimeout(() => { $("copy-curl").textContent = "Copy"; }, 1500);
    } catch (e) { /* clipboard unavailable (http): select it instead */
      const range = document.createRange();
      range.selectNodeContents($("curl-command"));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
  });

  const saved = localStorage.getItem(KEY_TOKEN);
  if (saved && TOKEN_RE.test(saved)) showDashboard(saved); else showLanding("");
})();
