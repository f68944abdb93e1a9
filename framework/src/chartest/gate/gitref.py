"""The git side of the gate: the base ref, what changed since it, and the chart as it was there.

The base defaults to what a pull request is compared with: the merge-base of
HEAD with the main branch (``main``, else ``master``, local or ``origin/``),
or ``HEAD~1`` when HEAD is that branch's tip (a push to main compares with
the commit before). The base chart is exported with ``git archive``, so the
work tree, the index and the user's checkouts are never touched.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

__all__ = ["GitError", "repo_root", "default_base_ref", "changed_files", "export_dir", "resolve_ref",
           "file_at"]

MAIN_BRANCHES = ("main", "master", "origin/main", "origin/master")


class GitError(RuntimeError):
    """A git command failed; the message says which and why."""


def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise GitError("the release gate needs `git` (install it, e.g. apt-get install git)") from None
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: "
                       f"{done.stderr.decode(errors='replace').strip()}")
    return done


def repo_root(path: Path) -> Path:
    """The top of the git work tree holding ``path``."""
    path = Path(path).resolve()
    start = path if path.is_dir() else path.parent
    done = _git(start, "rev-parse", "--show-toplevel", check=False)
    if done.returncode != 0:
        raise GitError(f"{path} is not inside a git work tree: the version and upgrade checks compare "
                       "the chart with a git base ref (--base-ref)")
    return Path(done.stdout.decode().strip())


def _rev(cwd: Path, ref: str) -> str | None:
    done = _git(cwd, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    return done.stdout.decode().strip() if done.returncode == 0 else None


def resolve_ref(cwd: Path, ref: str) -> str:
    """The commit ``ref`` names, or a :class:`GitError` saying the ref is unknown."""
    sha = _rev(cwd, ref)
    if sha is None:
        raise GitError(f"base ref {ref!r} is not a commit of the repository at {cwd} (a shallow clone? "
                       "fetch more history, or give --base-ref / CHARTEST_BASE_REF)")
    return sha


def default_base_ref(cwd: Path) -> str | None:
    """merge-base(HEAD, main/master), or HEAD~1 on the main branch's tip; None outside git."""
    try:
        root = repo_root(cwd)
    except GitError:
        return None
    head = _rev(root, "HEAD")
    if head is None:
        return None
    for branch in MAIN_BRANCHES:
        tip = _rev(root, branch)
        if tip is None:
            continue
        if tip == head:
            return "HEAD~1" if _rev(root, "HEAD~1") else None
        done = _git(root, "merge-base", "HEAD", branch, check=False)
        if done.returncode == 0:
            return done.stdout.decode().strip()
    return "HEAD~1" if _rev(root, "HEAD~1") else None


def changed_files(chart_dir: Path, ref: str) -> list[str]:
    """Files under ``chart_dir`` that differ from ``ref`` (committed, staged, unstaged or untracked),
    as paths relative to the repository root."""
    chart_dir = Path(chart_dir).resolve()
    root = repo_root(chart_dir)
    rel = chart_dir.relative_to(root).as_posix() or "."
    resolve_ref(root, ref)
    diff = _git(root, "diff", "--name-only", ref, "--", rel).stdout.decode().split("\n")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", rel).stdout.decode().split("\n")
    return sorted({p for p in diff + untracked if p})


def file_at(chart_dir: Path, ref: str, name: str) -> str | None:
    """The text of ``chart_dir/name`` at ``ref``, None when it did not exist there."""
    chart_dir = Path(chart_dir).resolve()
    root = repo_root(chart_dir)
    rel = (chart_dir / name).relative_to(root).as_posix()
    done = _git(root, "show", f"{resolve_ref(root, ref)}:{rel}", check=False)
    return done.stdout.decode() if done.returncode == 0 else None


def export_dir(chart_dir: Path, ref: str, dest: Path) -> Path | None:
    """Write ``chart_dir`` as it was at ``ref`` under ``dest``; returns the exported chart directory,
    or None when the chart did not exist at ``ref`` (a new chart: nothing to upgrade from)."""
    chart_dir = Path(chart_dir).resolve()
    root = repo_root(chart_dir)
    rel = chart_dir.relative_to(root).as_posix()
    sha = resolve_ref(root, ref)
    if _git(root, "cat-file", "-e", f"{sha}:{rel}/Chart.yaml", check=False).returncode != 0:
        return None
    archive = _git(root, "archive", "--format=tar", sha, "--", rel).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / rel
