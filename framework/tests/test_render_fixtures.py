"""The render tier's fixtures, run as a chart's author would: an ini naming a chart, tests using fixtures."""

from __future__ import annotations

import re

import pytest


def test_render_returns_manifests_with_get_and_path(project):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        from chartest import Manifests, Resource

        def test_get_and_path(render):
            m = render({"replicas": 3})
            assert isinstance(m, Manifests)
            d = m.get("Deployment", "minimal-web")
            assert isinstance(d, Resource)
            assert d.path("spec.replicas") == 3
            assert d.path("spec.template.spec.containers[name=web].ports[0].containerPort") == 8080
            assert m.get("Service", "minimal-web").path("spec.ports[0].targetPort") == "http"

        def test_release_and_namespace_from_the_settings(render):
            assert render().refs() == ["Service/minimal-web", "Deployment/minimal-web"]
    """)
    project.run().assert_outcomes(passed=2)


def test_path_miss_lists_what_exists_where_it_stopped(project):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        def test_miss(render):
            render().get("Deployment", "minimal-web").path("spec.template.spec.containers[name=web].resources")

        def test_list_miss(render):
            render().get("Deployment", "minimal-web").path("spec.template.spec.containers[name=sidecar].image")
    """)
    result = project.run()
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "nothing at 'resources' after 'spec.template.spec.containers[name=web]'" in out
    assert "there are the keys ['image', 'name', 'ports', 'securityContext']" in out
    assert "nothing at [name=sidecar] after 'spec.template.spec.containers'" in out
    assert "there is a list of 1 item, named ['web']" in out


def test_assert_restricted_lists_findings_one_per_line(project):
    project.chart("insecure")
    project.chart("minimal")
    project.ini(chartest_chart="insecure")
    project.test("""
        from chartest import render_chart

        def test_insecure(render, assert_restricted):
            assert_restricted(render())

        def test_compliant(pytestconfig, assert_restricted):
            assert_restricted(render_chart(pytestconfig.rootpath / "minimal"))
    """)
    result = project.run()
    result.assert_outcomes(passed=1, failed=1)
    findings = [line for line in result.stdout.lines if re.match(r"^E?\s+Pod/insecure-root: ", line)]
    rules = " ".join(findings)
    assert len(findings) >= 4, result.stdout.str()
    for rule in ("hostNamespaces", "privileged", "runAsNonRoot", "seccomp"):
        assert rule in rules
    assert all(line.count("Pod/insecure-root") == 1 for line in findings)  # one finding per line


def test_render_fails_marker_and_fixture(project):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        import pytest

        @pytest.mark.render_fails(match="replicas")
        def test_marker(render):
            render({"replicas": {"not": "a number"}}, extra_args=["--set", "replicas=x", "--show-only", "nope"])

        def test_fixture(render_fails):
            err = render_fails(extra_args=["--show-only", "templates/nope.yaml"])
            assert "could not find template" in str(err)

        def test_fixture_fails_on_success(render_fails):
            render_fails()
    """)
    result = project.run()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*render failed, but stderr does not match 'replicas'*",
                                 "*expected the render to fail*but it produced 2 resources*"])


@pytest.mark.parametrize("how", ["--helm option", "empty PATH"])
def test_missing_helm_is_one_line_once(project, monkeypatch, how):
    project.chart("minimal")
    project.ini(chartest_chart="minimal")
    project.test("""
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_needs_helm(render, n):
            render({"replicas": n})
    """)
    if how == "empty PATH":
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        result = project.run()
    else:
        result = project.run("--helm", "/nonexistent/helm")
    result.assert_outcomes(failed=3)
    summary = [line for line in result.stdout.lines if re.match(r"^-+ chartest needs `helm`", line)]
    assert len(summary) == 1, result.stdout.str()
    assert "install helm" in summary[0] and "--helm / CHARTEST_HELM" in summary[0]
    assert "Traceback" not in result.stdout.str()
