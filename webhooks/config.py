"""Configuration from the environment, validated with pydantic.

| variable | default | meaning |
|---|---|---|
| ``MONGODB_URL`` | ``mongodb://mongo:27017/webhooks`` | MongoDB URL; the database is the URL's path |
| ``NATS_URL`` | ``nats://nats:4222`` | NATS server(s), comma separated |
| ``NATS_USER`` / ``NATS_PASSWORD`` | empty | the service's NATS user (the chart gives api and ws one each, with per-service permissions) |
| ``TRUSTED_PROXIES`` | empty (nobody) | comma-separated IPs/CIDRs whose ``X-Forwarded-For``/``X-Forwarded-Proto`` are believed (the ingress); anyone else's are ignored |
| ``MAX_PAYLOAD_BYTES`` | ``1048576`` | largest accepted POST /data body (api) |
| ``RETENTION_DAYS`` | ``2`` | webhooks and payloads older than this are deleted (api) |
| ``CLEANUP_INTERVAL_SECONDS`` | ``600`` | how often the api runs the retention cleanup |
| ``MONGO_TIMEOUT_MS`` | ``3000`` | server selection / connect timeout of the MongoDB client |
| ``MAX_JSON_VALUES`` | ``20000`` | most JSON values (containers and elements) in one payload, counted before parsing; more -> 413 (api) |
| ``PARSE_BUDGET_BYTES`` | ``8388608`` | bodies being read and parsed at once, in bytes, per api process; a body that does not fit within 2 s -> 503 (api) |
| ``WORDLIST_SIZE`` | ``0`` (all) | names drawn from the first N words of each list (a test knob that forces name reuse) |
| ``WS_QUEUE_SIZE`` | ``256`` | frames buffered per websocket client before it is dropped (ws) |
| ``WS_QUEUE_BYTES`` | ``4194304`` | bytes buffered per websocket client before it is dropped (ws; a single larger frame is still let through) |
| ``WS_TOTAL_QUEUE_BYTES`` | ``33554432`` | bytes buffered for all clients of a ws process; the client that would exceed it is dropped (ws) |
| ``WS_RESYNC_SECONDS`` | ``30`` | how often ws re-checks its sockets against the database (deleted webhooks closed, missed payloads sent) |
| ``WS_PING_INTERVAL`` | ``20`` | websocket ping interval in seconds (ws) |
| ``LOG_LEVEL`` | ``INFO`` | DEBUG, INFO, WARNING, ERROR |
| ``PORT`` | per service (api 5000, ws 8080, www 3000) | listen port (bind 0.0.0.0) |
"""

from __future__ import annotations

import os
from typing import Mapping

from pydantic import BaseModel, Field, field_validator

DEFAULT_PORTS = {"api": 5000, "ws": 8080, "www": 3000}


class Settings(BaseModel):
    mongodb_url: str = "mongodb://mongo:27017/webhooks"
    nats_url: str = "nats://nats:4222"
    nats_user: str = ""
    nats_password: str = ""
    trusted_proxies: str = ""
    max_payload_bytes: int = Field(1_048_576, gt=0)
    retention_days: float = Field(2, gt=0)
    cleanup_interval_seconds: float = Field(600, gt=0)
    mongo_timeout_ms: int = Field(3000, gt=0)
    max_json_values: int = Field(20_000, gt=0)
    parse_budget_bytes: int = Field(8 * 1024 * 1024, gt=0)
    wordlist_size: int = Field(0, ge=0)
    ws_queue_size: int = Field(256, gt=0)
    ws_queue_bytes: int = Field(4 * 1024 * 1024, gt=0)
    ws_total_queue_bytes: int = Field(32 * 1024 * 1024, gt=0)
    ws_resync_seconds: float = Field(30, gt=0)
    ws_ping_interval: float = Field(20, gt=0)
    log_level: str = "INFO"
    port: int | None = Field(None, gt=0, lt=65536)
    host: str = "0.0.0.0"

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value == "WARN":
            value = "WARNING"
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return value

    @property
    def nats_servers(self) -> list[str]:
        return [s.strip() for s in self.nats_url.split(",") if s.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        """The ingress addresses whose forwarded headers count (validated, ``*`` refused)."""
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        import ipaddress

        for item in (p.strip() for p in value.split(",")):
            if item:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or CIDR "
                                     "(`*` would let any caller choose its address)") from None
        return value

    def port_for(self, service: str) -> int:
        return self.port or DEFAULT_PORTS[service]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Settings from environment variables named like the fields, upper case."""
        environ = os.environ if environ is None else environ
        values = {}
        for name in cls.model_fields:
            raw = environ.get(name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        return cls(**values)
