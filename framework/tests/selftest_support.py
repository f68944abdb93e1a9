"""What chartest's self-tests share besides fixtures: paths, the local cluster wiring, CI rule.

(A module of its own, not conftest.py: this repository has more than one conftest module.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from chartest import unavailable  # noqa: F401 - self-tests that cannot run skip locally, fail in CI

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"



def engine_in(state_dir: Path, engine: Path) -> None:
    """Give an inner session's state directory the built render engine, as an earlier run would."""
    target = state_dir / "build" / "go" / engine.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(engine)


EXAMPLES_CLUSTER = "chartest-examples"
EXAMPLES_HTTP_PORT = "18090"
LOCAL_NODE_REPOSITORY = "chartest/node"  # the node image this repository's bootstrap builds (tag: version-fingerprint)
LOCAL_WEB_IMAGE = "chartest/python:bookworm"  # a base image the bootstrap builds; serves with http.server

# What this machine needs and the example chart must not know: the example's web server image is
# replaced by a local one loaded into kind (the local node image works as kindest/node: no patch).
LOCAL_CLUSTER_CONFTEST = f'''
import pytest

@pytest.fixture(scope="session")
def release_values(kind_cluster):
    kind_cluster.load_image("{LOCAL_WEB_IMAGE}")
    repository, tag = "{LOCAL_WEB_IMAGE}".split(":")
    return {{"image": {{"repository": repository, "tag": tag, "pullPolicy": "Never"}},
            "command": ["python3", "-m", "http.server", "8080", "--directory", "/usr/share/nginx/html"],
            "runAsUser": 65532}}
'''


def local_node_image() -> str | None:
    """The node image to run the examples on: ``$CHARTEST_NODE_IMAGE``, else the newest one the
    bootstrap built (its tag changes with every input), else None."""
    if os.environ.get("CHARTEST_NODE_IMAGE"):
        return os.environ["CHARTEST_NODE_IMAGE"]
    docker = shutil.which("docker")
    if not docker:
        return None
    out = subprocess.run([docker, "images", "--filter", f"reference={LOCAL_NODE_REPOSITORY}",
                          "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True).stdout
    tags = [line for line in out.split() if not line.endswith(":<none>")]
    return tags[0] if tags else None  # docker lists the newest first
