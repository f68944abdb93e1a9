"""Every chartest setting, and where its value came from.

Each setting is read from the command-line option, else the environment
variable, else the ini key (``pytest.ini``, ``[tool.pytest.ini_options]``,
``tox.ini``, ``setup.cfg``), else its default. Relative paths are resolved
against pytest's rootdir, whichever of the four they came from. The run's
header prints each value with its source; ``pytest --help`` lists them all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from . import pins

__all__ = ["Setting", "Settings", "SETTINGS", "register", "resolve", "of"]

STASH = pytest.StashKey["Settings"]()


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    default: Any = None              # a value, or a callable(Settings) for derived defaults
    kind: str = "str"                # str | path | paths | list | bool | int | float
    option: str | None = None        # "--chart"; None: no command-line option
    env: str | None = None
    ini: str | None = None
    shared_option: bool = False      # True: pytest-helm-charts defines the same option; added only without it

    def parse(self, raw: Any) -> Any:
        if self.kind in ("paths", "list"):
            if isinstance(raw, str):
                raw = [p for chunk in raw.splitlines() for p in chunk.split(",")]
            return [str(p).strip() for p in raw if str(p).strip()]
        if self.kind == "bool":
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
        if self.kind == "int":
            return int(raw)
        if self.kind == "float":
            return float(raw)
        return raw


def _chart_name(s: "Settings") -> str:
    """The release defaults to the chart's own name, like ``helm install <name> ./<name>``."""
    try:
        from . import yamlload

        return str(yamlload.load((s.chart / "Chart.yaml").read_text())["name"])
    except Exception:  # noqa: BLE001 - no chart yet: the chart fixture says so
        return "release"


def _base_ref(s: "Settings") -> str | None:
    """merge-base with the main branch (HEAD~1 on it); None outside git: the gate then says so."""
    from .gate.gitref import default_base_ref

    return default_base_ref(s.chart if s.chart.exists() else s.rootdir)


SETTINGS: tuple[Setting, ...] = (
    Setting("chart", "the chart under test (a directory with Chart.yaml)", "chart", "path",
            "--chart", "CHARTEST_CHART", "chartest_chart"),
    Setting("values", "values files applied to every render and release, in order", [], "paths",
            "--chart-values", "CHARTEST_VALUES", "chartest_values"),
    Setting("release", "helm release name", _chart_name, "str",
            "--release", "CHARTEST_RELEASE", "chartest_release"),
    Setting("namespace", "namespace for `helm template` (releases get fresh namespaces)", "default", "str",
            "--release-namespace", "CHARTEST_NAMESPACE", "chartest_namespace"),
    Setting("kube_version", "Kubernetes version for .Capabilities.KubeVersion and built-in schemas",
            lambda s: pins.get("kubernetes.version"), "str",
            "--kube-version", "CHARTEST_KUBE_VERSION", "chartest_kube_version"),
    Setting("api_versions", "extra API versions for .Capabilities.APIVersions (group/version[/Kind])", [],
            "list", "--api-versions", "CHARTEST_API_VERSIONS", "chartest_api_versions"),
    Setting("schema_sources", "CRD schemas for validate_schemas besides Kubernetes' own: a CRD file or "
            "directory, `chart` (the chart's crds/), `gomod:MODULE@VERSION/PATH`, or `traefik` "
            "(Traefik's CRDs at the pinned version)", ["chart"], "list",
            "--schema-source", "CHARTEST_SCHEMA_SOURCES", "chartest_schema_sources"),
    Setting("helm", "helm binary (default: the state directory's bin/helm, else PATH)", None, "str",
            "--helm", "CHARTEST_HELM", "chartest_helm"),
    Setting("render_engine", "who renders: `engine` (helm's library in one long-running process, built "
            "with go on first use), `cli` (`helm template` per render), `auto` (the engine where go can "
            "build it and no helm is configured, else the CLI)", "auto", "str",
            "--render-engine", "CHARTEST_RENDER_ENGINE", "chartest_render_engine"),
    Setting("render_engine_keep", "seconds the render engine waits for the next session after the last "
            "one left (kept between sessions, it spares each its start-up); 0: one engine per pytest process "
            "(the default where CI=true)", lambda s: 0 if os.environ.get("CI") == "true" else 600, "float",
            "--render-engine-keep", "CHARTEST_RENDER_ENGINE_KEEP", "chartest_render_engine_keep"),
    Setting("plan", "where chartest records what each test asked for (renders, helm lints, the routing "
            "tables the real Traefik answered) and starts it ahead of the tests next session; default: the "
            "state directory's cache. A file in the repository (written with --chartest-plan-update), committed, "
            "lets fresh clones and CI prefetch too", None, "path", "--chartest-plan", "CHARTEST_PLAN", "chartest_plan"),
    Setting("state_dir", "where chartest keeps caches, kubeconfigs and artifacts", ".chartest", "path",
            "--chartest-state", "CHARTEST_STATE", "chartest_state"),
    Setting("cluster_name", "kind cluster to create or reuse", "chartest", "str",
            "--cluster-name", "CHARTEST_CLUSTER", "chartest_cluster"),
    Setting("node_image", "kind node image (default: kind's own for its version)", None, "str",
            "--node-image", "CHARTEST_NODE_IMAGE", "chartest_node_image"),
    Setting("nodes", "nodes of a kind cluster chartest creates: 1 is a control plane alone, N > 1 is one "
            "control plane and N-1 workers", 1, "int", "--nodes", "CHARTEST_NODES", "chartest_nodes"),
    Setting("http_port", "loopback port mapped to the ingress controller of a kind cluster", 18080, "int",
            "--http-port", "CHARTEST_HTTP_PORT", "chartest_http_port"),
    Setting("kubeconfig", "use this existing cluster instead of kind (nothing is created or deleted)",
            None, "path", "--kubeconfig", "CHARTEST_KUBECONFIG", "chartest_kubeconfig", shared_option=True),
    Setting("ingress_url", "where the ingress controller answers (default: the kind cluster's loopback "
            "port)", None, "str", "--ingress-url", "CHARTEST_INGRESS_URL", "chartest_ingress_url"),
    Setting("image_registry", "registry the cluster pulls the project's images from", None, "str",
            "--image-registry", "CHARTEST_IMAGE_REGISTRY", "chartest_image_registry"),
    Setting("registry_port", "loopback port of the local OCI registry chartest starts and connects to kind "
            "when no image_registry is given", 5001, "int", "--registry-port", "CHARTEST_REGISTRY_PORT",
            "chartest_registry_port"),
    Setting("keep_cluster", "keep the kind cluster after the session, and the namespaces of failed tests", False, "bool",
            "--keep-cluster", "CHARTEST_KEEP_CLUSTER", "chartest_keep_cluster"),
    Setting("artifacts", "where failure dumps and screenshots go",
            lambda s: s.state_dir / "artifacts", "path",
            "--artifacts", "CHARTEST_ARTIFACTS", "chartest_artifacts"),
    Setting("base_ref", "git ref the release gate compares the chart with (version bump, upgrade safety); "
            "default: the merge-base of HEAD with main/master, HEAD~1 on their tip", _base_ref, "str",
            "--base-ref", "CHARTEST_BASE_REF", "chartest_base_ref"),
    Setting("gate_values", "values files the release gate lints and upgrades with, each on its own besides "
            "the chart's defaults (default: the `values` setting's files)", lambda s: list(s.values), "paths",
            "--gate-values", "CHARTEST_GATE_VALUES", "chartest_gate_values"),
    Setting("chart_cov", "measure template coverage: which lines, branches and defines of the chart the "
            "run's renders reached (needs go once, to build the instrumenter)", False, "bool",
            "--chart-cov", "CHARTEST_CHART_COV", "chartest_chart_cov"),
    Setting("chart_cov_report", "template coverage reports: term, lcov, cobertura, html; TYPE:PATH writes "
            "that file (html: directory), else under <state>/coverage/report", ["term"], "list",
            "--chart-cov-report", "CHARTEST_CHART_COV_REPORT", "chartest_chart_cov_report"),
    Setting("chart_cov_fail_under", "fail the session when template line or branch coverage is below this "
            "percentage", None, "float", "--chart-cov-fail-under", "CHARTEST_CHART_COV_FAIL_UNDER",
            "chartest_chart_cov_fail_under"),
)
BY_NAME = {s.name: s for s in SETTINGS}


class Settings:
    """Resolved values (attributes) and their sources (:meth:`source`)."""

    def __init__(self, rootdir: Path):
        self.rootdir = rootdir
        self._values: dict[str, Any] = {}
        self._sources: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def source(self, name: str) -> str:
        return self._sources[name]

    def set(self, name: str, value: Any, source: str) -> None:
        self._values[name] = value
        self._sources[name] = source

    def header_lines(self) -> list[str]:
        lines = []
        for s in SETTINGS:
            value = self._values[s.name]
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"  {s.name} = {shown if shown not in (None, '') else '-'}  [{self._sources[s.name]}]")
        return lines


def register(parser: pytest.Parser) -> None:
    """Add every setting's option and ini key, with the three ways to set it in the help."""
    group = parser.getgroup("chartest", "chartest: Helm chart testing (every setting: option, "
                                        "else $ENV, else ini key, else default)")
    for s in SETTINGS:
        ways = " / ".join(w for w in (f"${s.env}" if s.env else "", f"ini {s.ini}" if s.ini else "") if w)
        default = "derived" if callable(s.default) else s.default
        text = f"{s.help} ({ways}; default: {default})"
        if s.option and not (s.shared_option and _helm_charts_plugin_installed()):
            if s.kind == "bool":
                group.addoption(s.option, action="store_true", default=None, dest=_dest(s), help=text)
            elif s.kind in ("paths", "list"):
                group.addoption(s.option, action="append", default=None, dest=_dest(s), help=text)
            else:
                group.addoption(s.option, action="store", default=None, dest=_dest(s), help=text)
        if s.ini:
            ini_type = "linelist" if s.kind in ("paths", "list") else ("bool" if s.kind == "bool" else "string")
            parser.addini(s.ini, help=text, type=ini_type, default=None)
    group.addoption("--snapshot-update", action="store_true", default=False,
                    help="write snapshot files instead of comparing (also when CI=true)")
    group.addoption("--chartest-plan-update", action="store_true", default=False,
                    help="write what this session's tests asked for into the `plan` setting's file (it is "
                         "read by every session, written only when asked)")
    group.addoption("--check-determinism", action="store_true", default=False,
                    help="render every values set twice, bypassing the render cache, and fail on any "
                         "difference (non-deterministic templates such as randAlphaNum)")


def _dest(s: Setting) -> str:
    if s.shared_option:  # the other plugin's dest, whichever of us added the option
        return s.option.lstrip("-").replace("-", "_")
    return "chartest_" + s.name


def _helm_charts_plugin_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("pytest_helm_charts") is not None


def _from_option(config: pytest.Config, s: Setting) -> Any:
    if not s.option:
        return None
    try:
        return config.getoption(_dest(s))
    except ValueError:
        return None


def _from_ini(config: pytest.Config, s: Setting) -> Any:
    if not s.ini:
        return None
    value = config.getini(s.ini)
    return None if value in ("", []) else value


def resolve(config: pytest.Config) -> Settings:
    """Every setting's value and source for this run; paths against the rootdir."""
    settings = Settings(Path(str(config.rootpath)))
    derived = []
    for s in SETTINGS:
        value, source = _from_option(config, s), f"option {s.option}"
        if value in (None, []) and s.env and os.environ.get(s.env, "") != "":
            value, source = os.environ[s.env], f"env {s.env}"
        if value in (None, []):
            value, source = _from_ini(config, s), f"ini {s.ini}"
        if value in (None, []):
            if callable(s.default):
                derived.append(s)
                continue
            value, source = s.default, "default"
        settings.set(s.name, _finish(settings, s, s.parse(value) if value is not None else None), source)
    for s in derived:  # defaults computed from other settings (release from the chart, ...)
        settings.set(s.name, _finish(settings, s, s.default(settings)), "default")
    return settings


def _finish(settings: Settings, s: Setting, value: Any) -> Any:
    if value is None:
        return None
    if s.kind == "path":
        return (settings.rootdir / Path(str(value)).expanduser()).resolve()
    if s.kind == "paths":
        return [(settings.rootdir / Path(v).expanduser()).resolve() for v in value]
    return value


def of(config: pytest.Config) -> Settings:
    """The run's settings (resolved once, at configure time)."""
    if STASH not in config.stash:
        config.stash[STASH] = resolve(config)
    return config.stash[STASH]


def apply(settings: Settings) -> None:
    """Apply the settings that steer module-level state (state directory, helm binary)."""
    from . import state, tools
    from .render import engine_client, renderers

    state.configure(settings.state_dir)
    tools.configure("helm", settings.helm)
    renderers.configure(settings.render_engine)
    engine_client.configure(settings.render_engine_keep)
