"""Detection logic: decide by what the host is, never by a flag."""

import json
import subprocess
from pathlib import Path

import pytest

from bootstrap import engine as docker_engine

STATUS = "Name:\tpython3\nCapInh:\t0000000000000000\nCapBnd:\t{}\nCapAmb:\t0000000000000000\n"


@pytest.mark.parametrize(("capbnd", "lacks"), [
    ("000001ffffffffff", False),   # full set: a normal root host
    ("000001fffeffffff", True),    # bit 24 (CAP_SYS_RESOURCE) cleared: this VM kind
    ("00000000a80425fb", True),    # docker's default set, without SYS_RESOURCE
])
def test_bounding_set_detection(capbnd, lacks):
    assert docker_engine.bounding_set_lacks_sys_resource(STATUS.format(capbnd)) is lacks


def test_no_capbnd_line_means_no_wrapper():
    assert docker_engine.bounding_set_lacks_sys_resource("Name:\tx\n") is False


def test_daemon_config_keeps_user_settings_and_is_idempotent():
    current = {"log-level": "warn", "runtimes": {"other": {"path": "/x"}}}
    once = docker_engine.daemon_config(current, Path("/w"))
    assert once["log-level"] == "warn"
    assert once["runtimes"]["other"] == {"path": "/x"}
    assert once["runtimes"][docker_engine.RUNTIME_NAME] == {"path": "/w"}
    assert once["default-runtime"] == docker_engine.RUNTIME_NAME
    assert docker_engine.daemon_config(once, Path("/w")) == once
    assert current == {"log-level": "warn", "runtimes": {"other": {"path": "/x"}}}, "input not mutated"


def _run_wrapper(tmp_path, *args):
    fake_runc = tmp_path / "runc"
    fake_runc.write_text("#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/called\"\n")
    fake_runc.chmod(0o755)
    subprocess.run([str(docker_engine.WRAPPER_SRC), *args], check=True,
                   env={"CHARTEST_REAL_RUNC": str(fake_runc), "PATH": "/usr/bin:/bin"})
    return (tmp_path / "called").read_text().split()


CAPS = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]


def test_runc_wrapper_strips_the_capability_from_the_bundle(tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"process": {"capabilities": {k: list(CAPS) for k in ("bounding", "effective", "permitted")}},
            "root": {"path": "rootfs"}}
    (bundle / "config.json").write_text(json.dumps(spec))
    called = _run_wrapper(tmp_path, "--root", "/run/x", "create", "--bundle", str(bundle), "cid")
    assert called == ["--root", "/run/x", "create", "--bundle", str(bundle), "cid"]
    caps = json.loads((bundle / "config.json").read_text())["process"]["capabilities"]
    assert all(v == ["CAP_CHOWN", "CAP_SYS_ADMIN"] for v in caps.values())


def test_runc_wrapper_strips_the_capability_from_exec_process_files(tmp_path):
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"capabilities": {"bounding": list(CAPS)}, "args": ["sh"]}))
    _run_wrapper(tmp_path, "exec", "--process", str(process), "cid")
    assert json.loads(process.read_text()) == {"capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"]},
                                               "args": ["sh"]}


def test_runc_wrapper_leaves_other_commands_alone(tmp_path):
    assert _run_wrapper(tmp_path, "state", "cid") == ["state", "cid"]
