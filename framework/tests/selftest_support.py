"""What chartest's self-tests share besides fixtures: paths, the local cluster wiring, CI rule.

(A module of its own, not conftest.py: this repository has more than one conftest module.)
"""

from __future__ import annotations

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
LOCAL_NODE_IMAGE = "chartest/node:v1.34.4"   # the node image this repository's bootstrap builds
LOCAL_WEB_IMAGE = "chartest/python:bookworm"  # a base image the bootstrap builds; serves with http.server

# What this machine needs and the example chart must not know: the locally built node image brings
# its own CNI, and the example's web server image is replaced by a local one loaded into kind.
LOCAL_CLUSTER_CONFTEST = f'''
import pytest

@pytest.fixture(scope="session")
def kind_config_patch():
    return {{"networking": {{"disableDefaultCNI": True}}}}

@pytest.fixture(scope="session")
def release_values(kind_cluster):
    kind_cluster.load_image("{LOCAL_WEB_IMAGE}")
    repository, tag = "{LOCAL_WEB_IMAGE}".split(":")
    return {{"image": {{"repository": repository, "tag": tag, "pullPolicy": "Never"}},
            "command": ["python3", "-m", "http.server", "8080", "--directory", "/usr/share/nginx/html"],
            "runAsUser": 65532}}
'''
