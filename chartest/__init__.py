"""chartest: test a Helm chart for real, from `helm template` to a kind cluster behind Traefik.

The package is a pytest plugin (see :mod:`chartest.plugin`) plus the tooling it
stands on: a pinned toolchain, a locally buildable kind node image, image
builders and the cluster lifecycle. Everything works online and air-gapped; the
path is picked by detection.
"""

__version__ = "0.1.0"
