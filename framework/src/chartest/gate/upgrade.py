"""Upgrade safety offline: what ``helm upgrade`` from the base chart would break.

Both charts are rendered with the same values; hook resources are skipped
(helm recreates them). A :class:`Finding` names the resource, the field path
(chartest's path syntax: ``spec.selector.matchLabels["app.kubernetes.io/component"]``, list
items by name: ``containers[name=api]``, ``volumeClaimTemplates[metadata.name=data]``)
and the change:

- ``immutable``: a field the API server refuses to patch, so the upgrade fails
  with ``cannot patch ... field is immutable`` (Deployment/ReplicaSet/DaemonSet
  ``spec.selector``; StatefulSet ``spec`` except replicas, template,
  updateStrategy, minReadySeconds, ordinals, revisionHistoryLimit and
  persistentVolumeClaimRetentionPolicy, so ``selector``, ``volumeClaimTemplates``,
  ``serviceName``, ``podManagementPolicy``; Job ``spec.template`` and
  ``spec.selector``; PersistentVolumeClaim ``spec`` except a storage increase;
  Service ``clusterIP`` set to another address or headless switched, a type
  change to or from ExternalName that keeps an explicit clusterIP; a bare Pod's
  spec except images; ``roleRef`` of (Cluster)RoleBindings; an immutable
  ConfigMap's or Secret's data);
- ``orphan``: a StatefulSet or PersistentVolumeClaim renamed or removed: its
  volumes stay behind (or helm deletes the claim) and the new one starts empty;
- ``removed-resource``: any other resource gone (helm deletes it);
- ``removed-value``: a key of the base values.yaml the current chart rejects
  (its schema says so) or no longer has: users' values files break.

Every kind is breaking (needs a major version bump); the first three of them
(immutable, orphan, removed-value) also fail the upgrade-safety check unless
the version bump is major.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .. import yamlload

__all__ = ["Finding", "compare_manifests", "removed_value_keys", "UPGRADE_BLOCKING"]

UPGRADE_BLOCKING = ("immutable", "orphan", "removed-value")

SELECTOR_ONLY = {"Deployment", "ReplicaSet", "DaemonSet"}
STATEFULSET_MUTABLE = {"replicas", "template", "updateStrategy", "minReadySeconds", "ordinals",
                       "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy"}
STATEFULSET_DEFAULTS = {"podManagementPolicy": "OrderedReady", "serviceName": ""}
POD_MUTABLE = {"activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"}
DATA_KEYS = ("data", "binaryData", "stringData")


@dataclass(frozen=True)
class Finding:
    check: str            # immutable | orphan | removed-resource | removed-value
    ref: str              # "Deployment/api", or the values file
    path: str             # field path, "" for a whole resource
    detail: str
    values: str = ""      # the values set the charts were rendered with

    @property
    def blocks_upgrade(self) -> bool:
        return self.check in UPGRADE_BLOCKING

    def __str__(self) -> str:
        where = f"{self.ref} {self.path}" if self.path else self.ref
        with_values = f" [values: {self.values}]" if self.values else ""
        return f"{self.check}: {where}: {self.detail}{with_values}"


# ------------------------------------------------------------------ manifests

def _key(r) -> tuple[str, str, str]:
    return (r.kind, r.namespace or "", r.name)


def _ref(r) -> str:
    return f"{r.kind}/{r.name}"


def _is_hook(r) -> bool:
    return "helm.sh/hook" in (r.annotations or {})


def _segment(key: Any) -> str:
    k = str(key)
    return f".{k}" if k.replace("_", "").replace("-", "").isalnum() else f'["{k}"]'


def _field(item: Any, field: str) -> Any:
    for part in field.split("."):
        item = item.get(part) if isinstance(item, dict) else None
    return item


def _item_key(items: list) -> str | None:
    """The field naming list items (name, metadata.name, mountPath, ...), when every item has its own."""
    for field in ("name", "metadata.name", "mountPath", "containerPort", "key"):
        values = [_field(i, field) for i in items]
        if None not in values and len(set(map(str, values))) == len(values):
            return field
    return None


def differences(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    """(path, old, new) of every leaf that differs; list items matched by name when they have one."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            out += differences(old.get(k), new.get(k), path + _segment(k))
        return out
    if isinstance(old, list) and isinstance(new, list) and old != new:
        field = _item_key(old) if old and new and _item_key(old) == _item_key(new) else None
        if field:
            a = {str(_field(i, field)): i for i in old}
            b = {str(_field(i, field)): i for i in new}
            out = []
            for name in list(a) + [n for n in b if n not in a]:
                out += differences(a.get(name), b.get(name), f"{path}[{field}={name}]")
            return out
        if len(old) == len(new):
            out = []
            for i, (x, y) in enumerate(zip(old, new)):
                out += differences(x, y, f"{path}[{i}]")
            return out
    return [] if old == new else [(path, old, new)]


def _short(value: Any) -> str:
    if value is None:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _immutable(r_old, r_new, paths: Iterable[tuple[str, Any, Any]], why: str, values: str) -> list[Finding]:
    return [Finding("immutable", _ref(r_new), p, f"{_short(a)} -> {_short(b)}: {why}", values)
            for p, a, b in paths]


def _vct(templates: list | None) -> list:
    """volumeClaimTemplates as the API server keeps them (apiVersion/kind/status dropped, volumeMode set)."""
    out = []
    for t in templates or []:
        t = copy.deepcopy(t)
        for k in ("apiVersion", "kind", "status"):
            t.pop(k, None)
        t.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        out.append(t)
    return out


def _compare_one(old, new, values: str) -> list[Finding]:
    kind = new.kind
    spec_a, spec_b = old.get("spec") or {}, new.get("spec") or {}
    refused = "the API server refuses to change it (helm upgrade fails: field is immutable)"
    if kind in SELECTOR_ONLY:
        return _immutable(old, new, differences(spec_a.get("selector"), spec_b.get("selector"), "spec.selector"),
                          refused, values)
    if kind == "StatefulSet":
        a = {k: v for k, v in spec_a.items() if k not in STATEFULSET_MUTABLE}
        b = {k: v for k, v in spec_b.items() if k not in STATEFULSET_MUTABLE}
        for d, v in STATEFULSET_DEFAULTS.items():
            a.setdefault(d, v)
            b.setdefault(d, v)
        a["volumeClaimTemplates"], b["volumeClaimTemplates"] = _vct(a.get("volumeClaimTemplates")), \
            _vct(b.get("volumeClaimTemplates"))
        return _immutable(old, new, differences(a, b, "spec"),
                          "StatefulSet spec outside replicas/template/updateStrategy/minReadySeconds/ordinals/"
                          "revisionHistoryLimit/persistentVolumeClaimRetentionPolicy is immutable "
                          "(helm upgrade fails: Forbidden)", values)
    if kind == "Job" and not _is_hook(new):
        found = differences(spec_a.get("selector"), spec_b.get("selector"), "spec.selector")
        found += differences(spec_a.get("template"), spec_b.get("template"), "spec.template")
        return _immutable(old, new, found, refused + "; a changed Job must get a new name", values)
    if kind == "PersistentVolumeClaim":
        a, b = copy.deepcopy(spec_a), copy.deepcopy(spec_b)
        for s in (a, b):
            s.setdefault("volumeMode", "Filesystem")
            s.pop("volumeAttributesClassName", None)
        size_a = (((a.get("resources") or {}).get("requests") or {}).pop("storage", None))
        size_b = (((b.get("resources") or {}).get("requests") or {}).pop("storage", None))
        found = _immutable(old, new, differences(a, b, "spec"),
                           "a claim's spec is immutable except its storage request", values)
        if size_a and size_b and _quantity(size_b) < _quantity(size_a):
            found.append(Finding("immutable", _ref(new), "spec.resources.requests.storage",
                                 f"{size_a} -> {size_b}: a claim can only grow", values))
        return found
    if kind == "Service":
        return _service(old, new, spec_a, spec_b, values)
    if kind == "Pod" and not _is_hook(new):
        def strip(spec):
            s = {k: v for k, v in copy.deepcopy(spec).items() if k not in POD_MUTABLE}
            for c in s.get("containers", []) + s.get("initContainers", []):
                c.pop("image", None)
            return s
        return _immutable(old, new, differences(strip(spec_a), strip(spec_b), "spec"),
                          "a Pod's spec is immutable except images, tolerations and activeDeadlineSeconds",
                          values)
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        return _immutable(old, new, differences(old.get("roleRef"), new.get("roleRef"), "roleRef"), refused,
                          values)
    if kind in ("ConfigMap", "Secret") and old.get("immutable"):
        found = []
        if not new.get("immutable"):
            found.append(Finding("immutable", _ref(new), "immutable", "true -> false: an immutable "
                                 f"{kind} stays immutable (delete and recreate it under a new name)", values))
        for k in DATA_KEYS:
            found += _immutable(old, new, differences(old.get(k), new.get(k), k),
                                f"the {kind} is immutable: a new content needs a new name", values)
        return found
    return []


def _service(old, new, a: dict, b: dict, values: str) -> list[Finding]:
    found = []
    ip_a, ip_b = a.get("clusterIP") or "", b.get("clusterIP") or ""
    if (ip_b and ip_b != ip_a) or (ip_a == "None" and ip_b != "None"):
        found.append(Finding("immutable", _ref(new), "spec.clusterIP",
                             f"{_short(ip_a or None)} -> {_short(ip_b or None)}: spec.clusterIP is immutable "
                             "(a headless Service stays headless; an allocated address cannot be replaced)",
                             values))
    type_a, type_b = a.get("type") or "ClusterIP", b.get("type") or "ClusterIP"
    if type_a != type_b and "ExternalName" in (type_a, type_b) and (ip_a or ip_b) not in ("", None):
        found.append(Finding("immutable", _ref(new), "spec.type",
                             f"{type_a} -> {type_b} with clusterIP {ip_a or ip_b}: an ExternalName Service "
                             "has no clusterIP and the explicit one is kept by the upgrade's patch", values))
    return found


_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Ki": 2**10, "Mi": 2**20,
          "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60, "m": 1e-3}


def _quantity(text: Any) -> float:
    s = str(text).strip()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if unit and s.endswith(unit):
            return float(s[: -len(unit)]) * _UNITS[unit]
    return float(s)


def compare_manifests(base, current, values: str = "") -> list[Finding]:
    """Every upgrade problem between two renders (``chartest.Manifests``) of the same values."""
    old = {_key(r): r for r in base if not _is_hook(r)}
    new = {_key(r): r for r in current if not _is_hook(r)}
    found: list[Finding] = []
    for key in old:
        if key in new:
            found += _compare_one(old[key], new[key], values)
    added = [new[k] for k in new if k not in old]
    for key in (k for k in old if k not in new):
        r = old[key]
        same_kind = [a.name for a in added if a.kind == r.kind and (a.namespace or "") == key[1]]
        renamed = f"renamed to {same_kind[0]}? " if len(same_kind) == 1 else ""
        if r.kind == "StatefulSet" and (r.get("spec") or {}).get("volumeClaimTemplates"):
            claims = ", ".join(f"{t['metadata']['name']}-{r.name}-<ordinal>"
                               for t in r["spec"]["volumeClaimTemplates"])
            found.append(Finding("orphan", _ref(r), "", f"{renamed}gone from the current chart: its claims "
                                 f"({claims}) are left behind and the new pods start with empty volumes",
                                 values))
        elif r.kind == "PersistentVolumeClaim":
            keep = (r.annotations or {}).get("helm.sh/resource-policy") == "keep"
            fate = "is left behind (resource-policy keep)" if keep else "is DELETED by helm with its data"
            found.append(Finding("orphan", _ref(r), "", f"{renamed}gone from the current chart: the claim "
                                 f"{fate}", values))
        else:
            found.append(Finding("removed-resource", _ref(r), "", f"{renamed}gone from the current chart "
                                 "(helm deletes it on upgrade)", values))
    return found


# ------------------------------------------------------------------ values

def _leaves(node: Any, prefix: tuple = ()) -> Iterable[tuple]:
    if isinstance(node, dict) and node:
        for k, v in node.items():
            yield from _leaves(v, prefix + (k,))
    else:
        yield prefix


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def _nested(path: tuple, value: Any) -> Any:
    for k in reversed(path):
        value = {k: value}
    return value


def removed_value_keys(base_chart: Path, current_chart: Path) -> list[Finding]:
    """Keys of the base values.yaml the current chart no longer has (and, with a values.schema.json,
    rejects): a user's values file that sets them breaks on upgrade."""
    def load(chart: Path) -> dict:
        p = Path(chart) / "values.yaml"
        return (yamlload.load(p.read_text()) or {}) if p.is_file() else {}

    old, new = load(base_chart), load(current_chart)
    schema_file = Path(current_chart) / "values.schema.json"
    schema = json.loads(schema_file.read_text()) if schema_file.is_file() else None
    reported: set[tuple] = set()
    found = []
    for leaf in _leaves(old):
        if not leaf:
            continue
        # the shortest prefix the current values.yaml lacks
        node, missing = new, None
        for i, k in enumerate(leaf):
            if isinstance(node, dict) and node == {} and i:
                break  # a free-form map in the current chart (`podLabels: {}`): any key is fine
            if not isinstance(node, dict) or k not in node:
                missing = leaf[: i + 1]
                break
            node = node[k]
        if missing is None or any(missing[: j] in reported for j in range(1, len(missing) + 1)):
            continue
        if schema is not None and not _schema_rejects(schema, missing, _get(old, missing)):
            continue
        reported.add(missing)
        found.append(Finding("removed-value", "values.yaml", _dotted(missing),
                             "in the base chart's values.yaml, gone from the current one"
                             + (" and rejected by its values.schema.json" if schema is not None else "")
                             + ": users' values files that set it break"))
    return found


def _get(node: dict, path: tuple) -> Any:
    for k in path:
        node = node[k]
    return node


def _schema_rejects(schema: dict, path: tuple, value: Any) -> bool:
    """Does the schema refuse ``path`` as an additional property (at any level of it)?"""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    for err in validator.iter_errors(_nested(path, value)):
        for e in [err, *(err.context or [])]:
            at = tuple(e.absolute_path)
            if (e.validator == "additionalProperties" and len(at) < len(path) and at == path[: len(at)]
                    and repr(str(path[len(at)])) in e.message):
                return True
    return False
