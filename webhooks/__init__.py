"""webhooks.app: the three services (api, ws, www) of the webhooks application.

Run one with ``python -m webhooks api|ws|www``; see :mod:`webhooks.__main__`.
The behaviour contract is ``shared/docs/webhooks-app.md``.
"""

__version__ = "1.1.0"
