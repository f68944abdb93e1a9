"""Semantic Versioning 2.0.0 versions, as Helm reads ``version`` in Chart.yaml.

``packaging.version`` implements PEP 440, which orders pre-releases and build
metadata differently, so the gate parses SemVer itself: precedence ignores
build metadata, a pre-release sorts before its release, numeric identifiers
compare as numbers and below alphanumeric ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

__all__ = ["SemVer", "SemVerError"]

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$")


class SemVerError(ValueError):
    """Not a SemVer 2.0.0 version; the message quotes it."""


@total_ordering
@dataclass(frozen=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: object) -> "SemVer":
        m = _SEMVER.match(str(text).strip())
        if not m:
            raise SemVerError(f"{text!r} is not a SemVer 2.0.0 version (MAJOR.MINOR.PATCH[-pre][+build])")
        major, minor, patch, pre, build = m.groups()
        return cls(int(major), int(minor), int(patch), tuple(pre.split(".")) if pre else (),
                   tuple(build.split(".")) if build else ())

    def _key(self):
        def ident(i: str):
            return (0, int(i), "") if i.isdigit() else (1, 0, i)
        # a release (no pre-release) sorts after every pre-release of the same version
        pre = (1,) if not self.prerelease else (0, tuple(ident(i) for i in self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: "SemVer") -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def breaking_level(self) -> tuple[int, ...]:
        """The part whose increase announces a breaking change: MAJOR, or for 0.y.z the first
        non-zero part (SemVer puts 0.y.z outside its rules; charts follow npm's and Cargo's caret)."""
        if self.major:
            return (self.major,)
        if self.minor:
            return (0, self.minor)
        return (0, 0, self.patch)

    def is_breaking_bump_from(self, base: "SemVer") -> bool:
        """True when ``self`` raised ``base``'s breaking level (1.4.2 -> 2.0.0, 0.3.1 -> 0.4.0)."""
        level = base.breaking_level()
        return self > base and tuple([self.major, self.minor, self.patch][:len(level)]) > level

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            s += "-" + ".".join(self.prerelease)
        if self.build:
            s += "+" + ".".join(self.build)
        return s
