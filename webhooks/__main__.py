"""``python -m webhooks api|ws|www``: run one service under uvicorn.

Without an argument the service is taken from ``WEBHOOKS_SERVICE`` (how the
images select theirs).

Listens on 0.0.0.0 and the service's port (api 5000, ws 8080, www 3000) unless
``PORT`` says otherwise; configuration from the environment (see
:mod:`webhooks.config`). Logs are JSON lines on stdout.
"""

from __future__ import annotations

import os
import sys

import uvicorn

from . import __version__, logs
from .config import Settings

SERVICES = ("api", "ws", "www")


def build(service: str, settings: Settings):
    if service == "api":
        from .api import create_app
    elif service == "ws":
        from .ws import create_app
    else:
        from .www import create_app
    return create_app(settings)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv and os.environ.get("WEBHOOKS_SERVICE"):
        argv = [os.environ["WEBHOOKS_SERVICE"]]
    if len(argv) != 1 or argv[0] not in SERVICES:
        print(f"usage: python -m webhooks {{{'|'.join(SERVICES)}}}", file=sys.stderr)
        return 2
    service = argv[0]
    try:
        settings = Settings.from_env()
    except Exception as exc:
        print(f"invalid configuration: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, service=service)
    logs.get("webhooks").info("starting", service=service, version=__version__,
                              port=settings.port_for(service))
    app = logs.AccessLog(build(service, settings), skip=("/app/healthz", "/healthz", "/readyz", "/app/readyz"))
    uvicorn.run(app, **uvicorn_options(service, settings))
    return 0


def uvicorn_options(service: str, settings: Settings) -> dict:
    """uvicorn's settings for a service; forwarded headers count only from ``TRUSTED_PROXIES``."""
    trusted = settings.trusted_proxy_list
    return dict(
        host=settings.host,
        port=settings.port_for(service),
        log_config=None,
        log_level=settings.log_level.lower(),
        access_log=False,  # logs.AccessLog instead: no query strings (tokens) in logs
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted,
        server_header=False,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_interval,
        ws_max_size=64 * 1024,
        timeout_graceful_shutdown=5,
        lifespan="on" if service != "www" else "off",
    )


if __name__ == "__main__":
    sys.exit(main())
