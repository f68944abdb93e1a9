"""Running external commands with errors that carry their output."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

from . import state


class CommandError(RuntimeError):
    """An external command failed; carries its output for the error message."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str):
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        tail = "\n".join(output.strip().splitlines()[-25:])
        super().__init__(f"`{shlex.join(self.argv)}` exited {returncode}\n{tail}")


def env_with_tools(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment with the state directory's ``bin/`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{state.bin_dir()}{os.pathsep}{env.get('PATH', '')}"
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
    stdout_only: bool = False,
) -> str:
    """Run a command and return its combined output (``stdout_only``: just stdout, for
    output that is parsed, where a warning on stderr must not end up in the YAML).

    With ``stream`` the output goes to the terminal as it comes (long builds),
    and only the error path keeps it. A failure raises :class:`CommandError`
    with the last lines of both.
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
        return out if stdout_only else output
    if check and code != 0:
        raise CommandError(argv, code, output)
    return output
