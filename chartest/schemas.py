"""Offline, kubeconform-style validation of rendered manifests.

Schemas come from pinned sources at build time and are never committed:

* Kubernetes: the OpenAPI v3 documents inside the pinned ``k8s.io/kubernetes``
  Go module (``api/openapi-spec/v3/*.json``), read from the Go module cache;
* Traefik: the CRDs in the Go module ``github.com/traefik/traefik/v3`` at the
  pinned Traefik version (``kubernetes-crd-definition-v1.yml``).

They are converted once into a single JSON-Schema bundle cached under
``chartest.paths.CACHE / "schemas"`` (atomic write; xdist workers share it).
Conversion follows kubeconform's *strict* mode: every object that lists its
properties is closed (``additionalProperties: false``) unless it preserves
unknown fields, optional fields accept ``null``, ``int-or-string`` accepts both.
On top of the schema, :func:`validate` checks object names and label syntax
the way the API server does.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml
from jsonschema import Draft202012Validator

from . import paths, versions

__all__ = ["SchemaViolation", "validate", "validate_all", "bundle", "known_kinds", "SchemaError",
           "ensure_bundle"]

BUNDLE_FORMAT = 4
TRAEFIK_CRD_FILE = "docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
K8S_SPEC_DIR = "api/openapi-spec/v3"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


class SchemaError(RuntimeError):
    """Schemas cannot be built (module missing from the cache, no Go, ...)."""


@dataclass(frozen=True)
class SchemaViolation:
    resource: str      # Kind/name
    path: str          # JSON path inside the resource ("$" for the whole object)
    message: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.path}: {self.message}"


# ---------------------------------------------------------------------------- conversion

def _nullable(schema: dict) -> dict:
    t = schema.get("type")
    if isinstance(t, str):
        schema["type"] = [t, "null"]
    elif isinstance(t, list) and "null" not in t:
        schema["type"] = [*t, "null"]
    for key in ("oneOf", "anyOf"):
        if key in schema and not any(s.get("type") == "null" for s in schema[key] if isinstance(s, dict)):
            schema[key] = [*schema[key], {"type": "null"}]
    return schema


def _strict(node: Any, *, k8s_refs: bool) -> Any:
    """Convert one OpenAPI schema node (recursively) to a strict JSON Schema."""
    if isinstance(node, list):
        return [_strict(n, k8s_refs=k8s_refs) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref" and k8s_refs and isinstance(value, str):
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key in ("properties", "patternProperties"):
            out[key] = {k: _nullable(_strict(v, k8s_refs=k8s_refs)) for k, v in value.items()}
        elif key == "default" or key == "example" or key == "description":
            continue  # irrelevant to validation, keeps the bundle small
        elif key.startswith("x-") and key not in ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"):
            continue
        elif key == "format":
            continue  # helm output is text; formats are advisory here as in kubeconform
        else:
            out[key] = _strict(value, k8s_refs=k8s_refs)
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}, {"type": "null"}]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if isinstance(out.get("items"), dict):
        out["items"] = out["items"]
    return out


def _k8s_defs(spec_dir: Path) -> tuple[dict, dict]:
    defs, index = {}, {}
    for f in sorted(spec_dir.glob("*.json")):
        doc = json.loads(f.read_text())
        for name, schema in (doc.get("components") or {}).get("schemas", {}).items():
            for gvk in schema.get("x-kubernetes-group-version-kind", []) or []:
                group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
                api_version = f"{group}/{version}" if group else version
                # the meta/v1 WatchEvent etc. are listed for every group; keep the real owner
                if name.startswith("io.k8s.apimachinery") and kind not in ("Status", "APIGroup"):
                    continue
                index.setdefault(f"{api_version}/{kind}", name)
            if name not in defs:
                defs[name] = _strict(schema, k8s_refs=True)
    return defs, index


def _traefik_defs(crd_file: Path) -> tuple[dict, dict]:
    defs, index = {}, {}
    for crd in yaml.safe_load_all(crd_file.read_text()):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for ver in crd["spec"]["versions"]:
            raw = (ver.get("schema") or {}).get("openAPIV3Schema")
            if not raw:
                continue
            schema = _strict(raw, k8s_refs=False)
            props = schema.setdefault("properties", {})
            props["metadata"] = {"$ref": f"#/$defs/{OBJECT_META}"}
            props["apiVersion"] = {"const": f"{group}/{ver['name']}"}
            props["kind"] = {"const": kind}
            schema.setdefault("required", [])
            for req in ("apiVersion", "kind", "metadata"):
                if req not in schema["required"]:
                    schema["required"].append(req)
            name = f"crd.{group}.{ver['name']}.{kind}"
            defs[name] = schema
            index[f"{group}/{ver['name']}/{kind}"] = name
    return defs, index


def _sources() -> tuple[Path, Path]:
    from . import gobuild
    k8s = gobuild.module_dir("k8s.io/kubernetes", versions.get("kubernetes.version")) / K8S_SPEC_DIR
    traefik = gobuild.module_dir("github.com/traefik/traefik/v3", versions.get("traefik.version")) / TRAEFIK_CRD_FILE
    if not k8s.is_dir():
        raise SchemaError(f"no OpenAPI v3 spec in {k8s}")
    if not traefik.is_file():
        raise SchemaError(f"no Traefik CRD file at {traefik}")
    return k8s, traefik


def bundle_path() -> Path:
    tag = f"k8s-{versions.get('kubernetes.version')}_traefik-{versions.get('traefik.version')}_f{BUNDLE_FORMAT}"
    return paths.CACHE / "schemas" / f"{tag}.json"


def ensure_bundle() -> Path:
    """Build the schema bundle unless it is cached; return its path."""
    target = bundle_path()
    if target.exists():
        return target
    k8s_dir, traefik_file = _sources()
    defs, index = _k8s_defs(k8s_dir)
    tdefs, tindex = _traefik_defs(traefik_file)
    defs.update(tdefs)
    index.update(tindex)
    data = {"format": BUNDLE_FORMAT, "$defs": defs, "index": index,
            "sources": {"kubernetes": versions.get("kubernetes.version"),
                        "traefik": versions.get("traefik.version")}}
    paths.write_atomic(target, json.dumps(data))
    return target


@lru_cache(maxsize=1)
def bundle() -> dict:
    with open(ensure_bundle()) as fh:
        return json.load(fh)


def known_kinds() -> list[str]:
    return sorted(bundle()["index"])


@lru_cache(maxsize=None)
def _validator(gvk: str) -> Draft202012Validator | None:
    b = bundle()
    name = b["index"].get(gvk)
    if name is None:
        return None
    schema = {"$defs": b["$defs"], "$ref": f"#/$defs/{name}"}
    return Draft202012Validator(schema)


# ---------------------------------------------------------------------------- API-server-like checks

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAME_KINDS_1035 = {"Service"}
LABEL_ONLY_KINDS = {"Namespace"}


def _name_checks(res: dict, ref: str) -> list[SchemaViolation]:
    out = []
    meta = res.get("metadata") or {}
    name = meta.get("name") or ""
    kind = res.get("kind", "")
    if not name:
        out.append(SchemaViolation(ref, "$.metadata.name", "is required"))
    elif kind in LABEL_NAME_KINDS_1035:
        if not (DNS1035_LABEL.match(name) and len(name) <= 63):
            out.append(SchemaViolation(ref, "$.metadata.name", f"{name!r} is not a DNS-1035 label"))
    elif kind in LABEL_ONLY_KINDS:
        if not (DNS1123_LABEL.match(name) and len(name) <= 63):
            out.append(SchemaViolation(ref, "$.metadata.name", f"{name!r} is not a DNS-1123 label"))
    elif not (DNS1123_SUBDOMAIN.match(name) and len(name) <= 253):
        out.append(SchemaViolation(ref, "$.metadata.name", f"{name!r} is not a DNS-1123 subdomain"))

    def labels(where: str, mapping: dict | None):
        for k, v in (mapping or {}).items():
            prefix, _, key = k.rpartition("/")
            if (prefix and not DNS1123_SUBDOMAIN.match(prefix)) or not LABEL_NAME.match(key) or len(key) > 63:
                out.append(SchemaViolation(ref, f"{where}[{k!r}]", "invalid label key"))
            if v is not None and (not isinstance(v, str) or not LABEL_VALUE.match(v) or len(v) > 63):
                out.append(SchemaViolation(ref, f"{where}[{k!r}]", f"invalid label value {v!r}"))

    labels("$.metadata.labels", meta.get("labels"))
    tmpl = ((res.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels("$.spec.template.metadata.labels", tmpl.get("labels"))
    return out


# ---------------------------------------------------------------------------- public API

_memo: dict[str, tuple[SchemaViolation, ...]] = {}


def validate(resource: dict, *, ignore_missing: bool = False) -> list[SchemaViolation]:
    """Violations of one manifest (empty list: valid)."""
    ref = f"{resource.get('kind', '?')}/{(resource.get('metadata') or {}).get('name', '?')}"
    key = hashlib.sha256(json.dumps(resource, sort_keys=True, default=str).encode()).hexdigest()
    if key in _memo:
        return list(_memo[key])
    gvk = f"{resource.get('apiVersion', '')}/{resource.get('kind', '')}"
    validator = _validator(gvk)
    out: list[SchemaViolation] = []
    if validator is None:
        if not ignore_missing:
            out.append(SchemaViolation(ref, "$", f"no schema for {gvk} (not a Kubernetes "
                                       f"{versions.get('kubernetes.version')} or Traefik type)"))
    else:
        for err in sorted(validator.iter_errors(dict(resource)), key=lambda e: list(e.absolute_path)):
            msg = err.message
            if err.validator in ("anyOf", "oneOf") and err.context:
                msg = "; ".join(sorted({c.message for c in err.context}))
            out.append(SchemaViolation(ref, err.json_path, msg))
    out += _name_checks(resource, ref)
    _memo[key] = tuple(out)
    return out


def validate_all(resources: Iterable[dict], *, ignore_missing: bool = False) -> list[SchemaViolation]:
    """Violations of every manifest of a render."""
    out = []
    for r in resources:
        out += validate(r, ignore_missing=ignore_missing)
    return out
