"""Offline, kubeconform-style validation of rendered manifests.

Schemas come from pinned sources and are never committed: Kubernetes' own from
the OpenAPI v3 documents inside the ``k8s.io/kubernetes`` Go module at the
configured Kubernetes version, CRDs from the configured sources (files, the
chart's ``crds/``, a Go module; see :class:`SchemaSet`). They are converted
once into a JSON-Schema bundle cached under ``<state>/cache/schemas`` (atomic
write; xdist workers share it). Conversion follows kubeconform's *strict*
mode: every object that lists its properties is closed
(``additionalProperties: false``) unless it preserves unknown fields, optional
fields accept ``null``, ``int-or-string`` accepts both. On top of the schema,
object names and label syntax are checked the way the API server does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator

from .. import yamlload
from ..results import ResultCache, json_native, key_of

__all__ = ["SchemaViolation", "SchemaSet", "SchemaError"]

VERDICT_FORMAT = 1  # bump when what a verdict holds changes
verdict_cache = ResultCache("schema-verdicts", version=VERDICT_FORMAT)


@functools.cache
def _judge_identity() -> str:
    """What judges a manifest besides the bundle, once per process: the installed jsonschema and
    referencing releases, and this module's code (its checks and the wording of its findings)."""
    import jsonschema
    import referencing

    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    return f"{_release(jsonschema)}, {_release(referencing)}, code {code}"


def _release(package: Any) -> str:
    """An installed package's release: the name of its dist-info directory beside it (what
    importlib.metadata reads, found without importing it: ~35 ms), else its file's mtime."""
    where = Path(package.__file__).parent
    found = sorted(p.name for p in where.parent.glob(f"{package.__name__}-*.dist-info"))
    return found[0] if found else f"{package.__file__}:{os.stat(package.__file__).st_mtime_ns}"


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


def _crd_defs(crd_file: Path) -> tuple[dict, dict]:
    defs, index = {}, {}
    for crd in yamlload.load_all(crd_file.read_text()):
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
    # as JSON has it (YAML may give a key True or a date): the bundle a build keeps is then the one
    # later sessions read back from its file
    return json.loads(json.dumps(defs, default=str)), index


TRAEFIK_MODULE = "github.com/traefik/traefik/v3"


def _crd_files(source: str, chart_dir: Path | None) -> list[Path]:
    """The CRD files one ``schema_sources`` entry names (see :class:`SchemaSet`)."""
    from .. import gomod, pins

    if source == "chart":
        crds = (chart_dir / "crds") if chart_dir else None
        return sorted(p for p in crds.rglob("*") if p.suffix in (".yaml", ".yml", ".json")) if crds and crds.is_dir() else []
    if source == "traefik":
        return [gomod.module_dir(TRAEFIK_MODULE, pins.get("traefik.version")) / TRAEFIK_CRD_FILE]
    if source.startswith("gomod:"):
        spec = source[len("gomod:"):]
        module, _, rest = spec.partition("@")
        version, _, inner = rest.partition("/")
        if not (module and version and inner):
            raise SchemaError(f"schema source {source!r}: expected gomod:MODULE@VERSION/PATH")
        target = gomod.module_dir(module, version) / inner
    else:
        target = Path(source)
    if target.is_dir():
        return sorted(p for p in target.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    if not target.is_file():
        raise SchemaError(f"schema source {source!r}: no such file or directory")
    return [target]


class SchemaSet:
    """Kubernetes' schemas at ``kube_version`` plus the CRDs of ``sources``.

    A source is a CRD file or directory, ``chart`` (``chart_dir/crds``),
    ``traefik`` (Traefik's CRDs at the pinned Traefik version) or
    ``gomod:MODULE@VERSION/PATH``. Kubernetes' OpenAPI documents are read from
    the ``k8s.io/kubernetes`` Go module at ``kube_version`` (so ``go`` is
    needed once; the converted bundle is cached in the state directory).
    """

    def __init__(self, kube_version: str, sources: Iterable[str] = (), chart_dir: Path | None = None):
        self.kube_version = kube_version
        self.sources = tuple(sources)
        self.chart_dir = chart_dir
        self._bundle: dict | None = None
        self._crds: list[Path] | None = None
        self._file: Path | None = None
        self._validators: dict[str, Draft202012Validator | None] = {}
        self._memo: dict[str, tuple[bool, tuple[SchemaViolation, ...]]] = {}

    def crd_files(self) -> list[Path]:
        """The CRD files of the sources, looked up once (a Go module source asks `go` where it is)."""
        if self._crds is None:
            self._crds = [f for source in self.sources for f in _crd_files(source, self.chart_dir)]
        return list(self._crds)

    def bundle_path(self, crd_files: list[Path]) -> Path:
        from .. import state

        digest = hashlib.sha256(f"{self.kube_version}\0{BUNDLE_FORMAT}".encode())
        for f in crd_files:
            digest.update(f.read_bytes())
        return state.cache_dir() / "schemas" / f"k8s-{self.kube_version}-{digest.hexdigest()[:16]}.json"

    def _bundle_file(self) -> Path:
        """The bundle's file: named by the Kubernetes version, the bundle format and the CRDs."""
        if self._file is None:
            self._file = self.bundle_path(self.crd_files())
        return self._file

    def bundle(self) -> dict:
        if self._bundle is None:
            target = self._bundle_file()
            if target.exists():
                with open(target) as fh:
                    self._bundle = json.load(fh)
            else:
                self._bundle = self._build(target, self.crd_files())  # kept: not read back from the file
        return self._bundle

    def _build(self, target: Path, crd_files: list[Path]) -> dict:
        from .. import gomod, state

        spec_dir = gomod.module_dir("k8s.io/kubernetes", self.kube_version) / K8S_SPEC_DIR
        if not spec_dir.is_dir():
            raise SchemaError(f"no OpenAPI v3 spec in k8s.io/kubernetes@{self.kube_version}")
        defs, index = _k8s_defs(spec_dir)
        for f in crd_files:
            cdefs, cindex = _crd_defs(f)
            defs.update(cdefs)
            index.update(cindex)
        data = {"format": BUNDLE_FORMAT, "$defs": defs, "index": index,
                "sources": {"kubernetes": self.kube_version, "crds": [str(f) for f in crd_files]}}
        state.write_atomic(target, json.dumps(data))
        return data

    def known_kinds(self) -> list[str]:
        return sorted(self.bundle()["index"])

    def _validator(self, gvk: str) -> Draft202012Validator | None:
        if gvk not in self._validators:
            b = self.bundle()
            name = b["index"].get(gvk)
            self._validators[gvk] = None if name is None else Draft202012Validator(
                {"$defs": b["$defs"], "$ref": f"#/$defs/{name}"})
        return self._validators[gvk]

    def validate(self, resource: dict, *, ignore_missing: bool = False) -> list[SchemaViolation]:
        """Violations of one manifest (empty list: valid).

        Results are memoised by content; whether a schema was missing is kept
        apart, so a lenient call never hides a missing schema from a strict one.
        """
        ref = f"{resource.get('kind', '?')}/{(resource.get('metadata') or {}).get('name', '?')}"
        gvk = f"{resource.get('apiVersion', '')}/{resource.get('kind', '')}"
        if json_native(resource):
            key = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()
            if key not in self._memo:
                self._memo[key] = self._verdict(key, resource, ref, gvk)
            missing, found_t = self._memo[key]
        else:  # a date, say: as JSON it would be the string of its text, which may judge differently
            missing, found_t = self._judge(resource, ref, gvk)
        out = list(found_t)
        if missing and not ignore_missing:
            sources = ", ".join(self.sources) or "none"
            out.insert(0, SchemaViolation(ref, "$", f"no schema for {gvk} (not a Kubernetes {self.kube_version} "
                                          f"type, nor a CRD of the schema sources: {sources})"))
        return out

    def _verdict(self, key: str, resource: dict, ref: str, gvk: str) -> tuple[bool, tuple[SchemaViolation, ...]]:
        """(no schema, violations) of one manifest: kept by :data:`verdict_cache` for this bundle and
        validator, so a rerun validates only what it has not seen (nor loads the bundle, if nothing)."""
        cache_key = key_of({"bundle": self._bundle_file().name, "judge": _judge_identity(), "resource": key})
        stored = verdict_cache.get(cache_key)
        try:
            return bool(stored["missing"]), tuple(SchemaViolation(*v) for v in stored["found"])
        except (TypeError, KeyError, ValueError):
            pass  # none stored, or not a verdict of this form: judge again
        missing, found = self._judge(resource, ref, gvk)
        verdict_cache.put(cache_key, {"missing": missing, "found": [[v.resource, v.path, v.message] for v in found]})
        return missing, found

    def _judge(self, resource: dict, ref: str, gvk: str) -> tuple[bool, tuple[SchemaViolation, ...]]:
        """(no schema, violations) of one manifest, validated now."""
        validator = self._validator(gvk)
        found: list[SchemaViolation] = []
        if validator is not None:
            for err in sorted(validator.iter_errors(dict(resource)), key=lambda e: list(e.absolute_path)):
                msg = err.message
                if err.validator in ("anyOf", "oneOf") and err.context:
                    msg = "; ".join(sorted({c.message for c in err.context}))
                found.append(SchemaViolation(ref, err.json_path, msg))
        found += _name_checks(resource, ref)
        return validator is None, tuple(found)

    def validate_all(self, resources: Iterable[dict], *, ignore_missing: bool = False) -> list[SchemaViolation]:
        """Violations of every manifest of a render."""
        return [v for r in resources for v in self.validate(r, ignore_missing=ignore_missing)]


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
