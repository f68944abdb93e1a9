"""A working Docker engine: use the running one, or install and start Debian's.

On hosts whose capability bounding set lacks CAP_SYS_RESOURCE, ``--privileged``
containers (and so kind nodes) fail; there the engine gets a runc wrapper that
drops that one capability. The condition is detected, never assumed. Every kind
node runs its own systemd, kubelet and containerd, each taking inotify instances:
the host's limits are raised to what kind's known-issues page recommends, or
kube-proxy fails with "too many open files" once a few clusters run side by side.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import paths
from chartest.progress import info, skip, step
from chartest.shell import CommandError, run

from .apt import can_install, install as apt_install

CAP_SYS_RESOURCE = 24
DAEMON_JSON = Path("/etc/docker/daemon.json")
WRAPPER_SRC = Path(__file__).parent / "data" / "runc-drop-sys-resource"
WRAPPER_DST = Path("/usr/local/sbin/runc-drop-sys-resource")
RUNTIME_NAME = "runc-drop-sys-resource"


def engine_answers() -> bool:
    try:
        run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
        return True
    except (CommandError, FileNotFoundError, subprocess.TimeoutExpired):
        return False


def bounding_set_lacks_sys_resource(status: str | None = None) -> bool:
    """True when this process's capability bounding set has no CAP_SYS_RESOURCE."""
    if status is None:
        proc = Path("/proc/self/status")
        if not proc.exists():  # not Linux (e.g. macOS with Docker Desktop)
            return False
        status = proc.read_text()
    for line in status.splitlines():
        if line.startswith("CapBnd:"):
            return not (int(line.split()[1], 16) >> CAP_SYS_RESOURCE) & 1
    return False


def daemon_config(current: dict, wrapper: Path = WRAPPER_DST) -> dict:
    """``current`` daemon.json with the runc wrapper registered as default runtime."""
    config = dict(current)
    runtimes = dict(config.get("runtimes", {}))
    runtimes[RUNTIME_NAME] = {"path": str(wrapper)}
    config["runtimes"] = runtimes
    config["default-runtime"] = RUNTIME_NAME
    return config


def _start_dockerd() -> None:
    log = paths.STATE / "dockerd.log"
    paths.ensure(paths.STATE)
    info(f"starting dockerd in the background (log: {log})")
    with open(log, "ab") as fh:
        subprocess.Popen(["dockerd"], stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(1)
    raise RuntimeError(f"dockerd did not answer within 90 s; see {log}")


def _stop_dockerd() -> None:
    pidfile = Path("/var/run/docker.pid")
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text().strip())
    os.kill(pid, 15)
    for _ in range(60):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.5)


def _install_engine() -> None:
    apt_install("docker.io", "jq")


def _wrapper_needed() -> bool:
    """The host needs the wrapper and the engine is not yet configured with it."""
    if not bounding_set_lacks_sys_resource():
        return False
    current = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    installed = WRAPPER_DST.exists() and WRAPPER_DST.read_bytes() == WRAPPER_SRC.read_bytes()
    return not (installed and daemon_config(current) == current)


def _install_wrapper() -> bool:
    """Register the runc wrapper; returns True when daemon.json changed."""
    WRAPPER_DST.parent.mkdir(parents=True, exist_ok=True)
    if not WRAPPER_DST.exists() or WRAPPER_DST.read_bytes() != WRAPPER_SRC.read_bytes():
        shutil.copy2(WRAPPER_SRC, WRAPPER_DST)
        WRAPPER_DST.chmod(0o755)
    current = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    wanted = daemon_config(current)
    if wanted == current:
        return False
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps(wanted, indent=2) + "\n")
    return True


INOTIFY_LIMITS = {"fs.inotify.max_user_instances": 512, "fs.inotify.max_user_watches": 524288}


def ensure_inotify_limits(sysctl_root: Path = Path("/proc/sys")) -> None:
    """Raise the host's inotify limits to kind's recommendation where they are lower (root only)."""
    low = {}
    for key, wanted in INOTIFY_LIMITS.items():
        path = sysctl_root / key.replace(".", "/")
        try:
            current = int(path.read_text())
        except (OSError, ValueError):
            continue
        if current < wanted:
            low[key] = (path, current, wanted)
    if not low:
        skip("inotify limits", "enough for several kind clusters")
        return
    hint = "as root: " + "; ".join(f"sysctl -w {k}={w}" for k, (_, _, w) in low.items())
    if os.geteuid() != 0:
        info(f"inotify limits are low for several kind clusters side by side ({hint})")
        return
    with step("raise inotify limits for kind nodes", hint):
        for key, (path, current, wanted) in low.items():
            path.write_text(str(wanted))
            info(f"{key}: {current} -> {wanted}")


def ensure_engine() -> None:
    """Make ``docker`` answer, installing and starting the engine if this host allows
    (and the host's inotify limits fit kind nodes)."""
    ensure_inotify_limits()
    hint = "start a Docker engine yourself (or run as root on a Debian-like host so chartest can)"
    answers = engine_answers()
    needs_wrapper = _wrapper_needed() and can_install()
    if answers and not needs_wrapper:
        skip("docker engine", "running")
        return
    if not answers and not can_install():
        with step("docker engine", hint):
            raise RuntimeError("no Docker engine answers and this host cannot install one (not root, or no apt-get)")
    with step("docker engine: install, configure and start", hint):
        if shutil.which("dockerd") is None or shutil.which("jq") is None:
            _install_engine()
        changed = False
        if needs_wrapper:
            info("this host's capability bounding set lacks CAP_SYS_RESOURCE: using the runc wrapper")
            changed = _install_wrapper()
        if answers and changed:
            _stop_dockerd()
            answers = False
        if not answers:
            _start_dockerd()


if __name__ == "__main__":
    ensure_engine()
