"""Running external commands with useful errors."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from . import paths


class CommandError(RuntimeError):
    """An external command failed; carries its output for the error message."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-25:])
        super().__init__(f"`{shlex.join(self.argv)}` exited {returncode}\n{tail}")


def env_with_tools(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment with the project's bin directory first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{paths.BIN}{os.pathsep}{env.get('PATH', '')}"
    if extra:
        env.update(extra)
    return env


def run(
    argv: Sequence[str | os.PathLike],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    stream: bool = False,
    check: bool = True,
    timeout: float | None = None,
) -> str:
    """Run a command and return its combined output.

    With ``stream`` the output goes to the terminal as it comes (long builds),
    and only the error path keeps it. A failure raises :class:`CommandError`
    with the last lines of output.
    """
    argv = [str(a) for a in argv]
    full_env = env_with_tools(env)
    if stream:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if input is not None else None, text=True,
        )
        if input is not None:
            proc.stdin.write(input if isinstance(input, str) else input.decode())
            proc.stdin.close()
        lines = []
        for line in proc.stdout:
            lines.append(line)
            print("      " + line, end="", flush=True)
        proc.wait(timeout=timeout)
        output = "".join(lines)
        code = proc.returncode
    else:
        done = subprocess.run(
            argv, cwd=cwd, env=full_env, input=input, capture_output=True,
            text=not isinstance(input, bytes), timeout=timeout,
        )
        out, err = done.stdout, done.stderr
        if isinstance(out, bytes):
            out, err = out.decode(errors="replace"), err.decode(errors="replace")
        output = out + err
        code = done.returncode
    if check and code != 0:
        raise CommandError(argv, code, output)
    return output


_apt_updated = False


def apt_install(*packages: str) -> None:
    """``apt-get install`` Debian packages, refreshing the package lists once per process
    (a fresh machine may have none)."""
    global _apt_updated
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        run(["apt-get", "update", "-qq"], env=env)
        _apt_updated = True
    run(["apt-get", "install", "-y", "-qq", *packages], env=env)
