"""This repository's support for testing the webhooks app and chart with chartest.

The client that talks to the app through the ingress, steady traffic for
fault tests, the app as local processes, the image specs, the e2e values and
the readiness probe. The project's conftest wires it into chartest
(:mod:`webhooks_testing.fixtures`); it stands on the framework and the
bootstrap, and neither of them imports it.
"""
