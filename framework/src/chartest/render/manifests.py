"""Rendered Kubernetes manifests as Python objects with convenient accessors.

``Manifests`` is a list of ``Resource`` (a ``dict`` subclass holding one parsed
manifest) with lookups by kind/name and label selectors, and ``Resource`` adds a
JSONPath-like :meth:`Resource.path` plus typed helpers for pod-bearing objects.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Iterator

from .. import yamlload

__all__ = ["Manifests", "Resource", "PathError", "parse_manifests", "POD_SPEC_PATHS", "short_label"]

# Where the pod spec lives, per kind.
POD_SPEC_PATHS = {
    "Pod": "spec",
    "Deployment": "spec.template.spec",
    "StatefulSet": "spec.template.spec",
    "DaemonSet": "spec.template.spec",
    "ReplicaSet": "spec.template.spec",
    "Job": "spec.template.spec",
    "CronJob": "spec.jobTemplate.spec.template.spec",
}

_TOKEN = re.compile(r"""
    \.?(?P<key>[^.\[\]]+)            # .key or key
  | \[(?P<index>-?\d+)\]             # [0]
  | \[(?P<fkey>[^=\]]+)=(?P<fval>[^\]]*)\]   # [name=api]: first list item whose key equals
  | \[['"](?P<qkey>[^'"]+)['"]\]     # ["app.kubernetes.io/name"]: a key with dots
""", re.VERBOSE)


class PathError(KeyError):
    """A path does not resolve in a resource."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def _tokens(path: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot parse path {path!r} at {path[pos:]!r}")
        if m.group("key") is not None:
            out.append(("key", m.group("key")))
        elif m.group("index") is not None:
            out.append(("index", int(m.group("index"))))
        elif m.group("fkey") is not None:
            out.append(("filter", (m.group("fkey"), m.group("fval"))))
        else:
            out.append(("key", m.group("qkey")))
        pos = m.end()
    return out


def get_path(node: Any, path: str, default: Any = PathError, *, where: str = "") -> Any:
    """Resolve ``a.b[0].c``, ``containers[name=api].image``, ``labels["a.b/c"]``."""
    done = []
    for kind, tok in _tokens(path):
        parent = node
        try:
            if kind == "key":
                if not isinstance(node, dict):
                    raise KeyError(tok)
                node = node[tok]
                done.append(f".{tok}" if done else tok)
            elif kind == "index":
                if not isinstance(node, list):
                    raise KeyError(tok)
                node = node[tok]
                done.append(f"[{tok}]")
            else:
                fkey, fval = tok
                if not isinstance(node, list):
                    raise KeyError(fkey)
                node = next(item for item in node if isinstance(item, dict) and str(item.get(fkey)) == fval)
                done.append(f"[{fkey}={fval}]")
        except (KeyError, IndexError, StopIteration, TypeError):
            if default is not PathError:
                return default
            have = "".join(done) or "<root>"
            raise PathError(f"{where}path {path!r}: nothing at {_shown(kind, tok)} after {have!r}; "
                            f"{_what_is_there(parent)}") from None
    return node


def _shown(kind: str, tok: Any) -> str:
    if kind == "index":
        return f"[{tok}]"
    if kind == "filter":
        return f"[{tok[0]}={tok[1]}]"
    return repr(tok)


def _what_is_there(node: Any) -> str:
    """What exists where a path stopped resolving: the keys of a mapping, the items of a list."""
    if isinstance(node, dict):
        return f"there are the keys {sorted(map(str, node))}" if node else "there is an empty mapping"
    if isinstance(node, list):
        names = [item.get("name") for item in node if isinstance(item, dict) and "name" in item]
        listed = f", named {names}" if names else ""
        return f"there is a list of {len(node)} item{'s' if len(node) != 1 else ''}{listed}"
    return f"there is the {type(node).__name__} {node!r:.60}"


def short_label(key: str) -> str:
    """``component`` -> ``app.kubernetes.io/component``; keys with a ``/`` or ``.`` stay."""
    return key if ("/" in key or "." in key) else f"app.kubernetes.io/{key}"


class Resource(dict):
    """One rendered manifest (a dict) with accessors."""

    source: str = ""  # the template it came from (helm's "# Source:" comment)

    # -- identity ---------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.get("kind", "")

    @property
    def api_version(self) -> str:
        return self.get("apiVersion", "")

    @property
    def metadata(self) -> dict:
        return self.get("metadata") or {}

    @property
    def name(self) -> str:
        return self.metadata.get("name", "")

    @property
    def namespace(self) -> str | None:
        return self.metadata.get("namespace")

    @property
    def labels(self) -> dict:
        return self.metadata.get("labels") or {}

    @property
    def annotations(self) -> dict:
        return self.metadata.get("annotations") or {}

    @property
    def ref(self) -> str:
        """``Kind/name``, for messages and test ids."""
        return f"{self.kind}/{self.name}"

    def path(self, path: str, default: Any = PathError) -> Any:
        """JSONPath-like access, e.g. ``spec.template.spec.containers[0].image``.

        Supports ``.key``, ``[index]``, ``[key=value]`` (first list item whose
        ``key`` equals ``value``) and ``["dotted.key"]``. Raises :class:`PathError`
        naming the resource and the missing step, unless ``default`` is given.
        """
        return get_path(self, path, default, where=f"{self.ref}: ")

    def has(self, path: str) -> bool:
        return get_path(self, path, None) is not None

    # -- pod-bearing objects ------------------------------------------------
    @property
    def is_workload(self) -> bool:
        return self.kind in POD_SPEC_PATHS

    @property
    def pod_template(self) -> dict:
        """The pod template (metadata + spec) of a workload (the Pod itself for a Pod)."""
        if self.kind == "Pod":
            return self
        spec_path = POD_SPEC_PATHS.get(self.kind)
        if spec_path is None:
            raise TypeError(f"{self.ref} has no pod template")
        return self.path(spec_path.rsplit(".", 1)[0])

    @property
    def pod_spec(self) -> dict:
        spec_path = POD_SPEC_PATHS.get(self.kind)
        if spec_path is None:
            raise TypeError(f"{self.ref} has no pod spec")
        return self.path(spec_path)

    @property
    def pod_labels(self) -> dict:
        return (self.pod_template.get("metadata") or {}).get("labels") or {}

    @property
    def pod_annotations(self) -> dict:
        return (self.pod_template.get("metadata") or {}).get("annotations") or {}

    @property
    def containers(self) -> list[dict]:
        """Every container: init containers first, then containers, then ephemeral ones."""
        spec = self.pod_spec
        return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
                *(spec.get("ephemeralContainers") or [])]

    def container(self, name: str | None = None) -> dict:
        """The container called ``name`` (default: the only/first main container)."""
        if name is None:
            return self.pod_spec["containers"][0]
        for c in self.containers:
            if c.get("name") == name:
                return c
        raise PathError(f"{self.ref}: no container {name!r} (have {[c.get('name') for c in self.containers]})")

    def _c(self, container: str | dict | None) -> dict:
        return container if isinstance(container, dict) else self.container(container)

    def env(self, container: str | dict | None = None) -> dict[str, Any]:
        """``{NAME: value}`` of a container; ``valueFrom`` entries map to their dict."""
        out = {}
        for item in self._c(container).get("env") or []:
            out[item["name"]] = item["value"] if "value" in item else item.get("valueFrom")
        return out

    @property
    def volumes(self) -> dict[str, dict]:
        """``{name: volume}`` of the pod (volumeClaimTemplates included for StatefulSets)."""
        out = {v["name"]: v for v in self.pod_spec.get("volumes") or []}
        for claim in self.path("spec.volumeClaimTemplates", []) or []:
            out[claim["metadata"]["name"]] = {"name": claim["metadata"]["name"], "volumeClaimTemplate": claim}
        return out

    def volume_mounts(self, container: str | dict | None = None) -> dict[str, dict]:
        """``{mountPath: mount}`` of a container."""
        return {m["mountPath"]: m for m in self._c(container).get("volumeMounts") or []}

    def __repr__(self) -> str:
        return f"<Resource {self.api_version} {self.ref}>"

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(dict(self), sort_keys=False)


class Manifests(list):
    """The resources of one render, in helm's output order."""

    def __init__(self, items: Iterable[Resource] = (), *, raw: str = ""):
        super().__init__(items)
        self.raw = raw
        self.request: dict | None = None  # how it was rendered (set by chartest.render.helm.render)

    # -- lookups ------------------------------------------------------------
    def get(self, kind: str, name: str) -> Resource:
        """The resource of ``kind`` called ``name``; KeyError listing what exists otherwise."""
        for r in self:
            if r.kind == kind and r.name == name:
                return r
        raise KeyError(f"no {kind}/{name} in the render; {kind}s: {[r.name for r in self.of_kind(kind)]}")

    def maybe(self, kind: str, name: str) -> Resource | None:
        try:
            return self.get(kind, name)
        except KeyError:
            return None

    def of_kind(self, *kinds: str) -> "Manifests":
        return Manifests(r for r in self if r.kind in kinds)

    def find(self, labels: dict[str, str] | None = None, *, kind: str | None = None, **short: str) -> "Manifests":
        """Resources whose labels match. Keyword keys without ``/`` mean
        ``app.kubernetes.io/<key>``: ``find(component="api", kind="Deployment")``."""
        wanted = dict(labels or {})
        wanted.update({short_label(k): v for k, v in short.items()})
        return Manifests(r for r in self if (kind is None or r.kind == kind)
                         and all(r.labels.get(k) == v for k, v in wanted.items()))

    def one(self, **kw) -> Resource:
        found = self.find(**kw)
        if len(found) != 1:
            raise LookupError(f"expected one resource for {kw}, found {[r.ref for r in found]}")
        return found[0]

    @property
    def workloads(self) -> "Manifests":
        return Manifests(r for r in self if r.is_workload)

    @property
    def kinds(self) -> list[str]:
        return sorted({r.kind for r in self})

    def refs(self) -> list[str]:
        return [r.ref for r in self]

    def __iter__(self) -> Iterator[Resource]:
        return super().__iter__()

    def to_yaml(self) -> str:
        return "---\n".join(r.to_yaml() for r in self)


def _yaml_load(doc: str) -> Any:
    return yamlload.load(doc)


def parse_manifests(text: str) -> Manifests:
    """Parse ``helm template`` output, keeping each document's ``# Source:``."""
    resources = []
    for doc in re.split(r"^---\s*$", text, flags=re.MULTILINE):
        if not doc.strip():
            continue
        source = ""
        m = re.search(r"^# Source: (.+)$", doc, flags=re.MULTILINE)
        if m:
            source = m.group(1).strip()
        data = _yaml_load(doc)
        if not data:
            continue
        if not isinstance(data, dict):
            raise ValueError(f"a rendered document is not a mapping ({source or 'unknown template'})")
        if data.get("kind") == "List":
            for item in data.get("items") or []:
                r = Resource(item)
                r.source = source
                resources.append(r)
            continue
        r = Resource(data)
        r.source = source
        resources.append(r)
    return Manifests(resources, raw=text)
