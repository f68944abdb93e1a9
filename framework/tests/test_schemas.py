"""validate_schemas: Kubernetes' schemas plus the chart's own CRDs; a lenient call never hides a
missing schema from a strict one."""

from __future__ import annotations


def test_schemas_lenient_then_strict_and_the_charts_own_crd(project):
    project.chart("crd")
    project.chart("minimal")
    project.ini(chartest_chart="crd")  # schema sources default to `chart`: the chart's crds/
    project.test("""
        from chartest import render_chart

        GADGET = {"apiVersion": "example.test/v1", "kind": "Gadget", "metadata": {"name": "g"}}

        def test_1_lenient(validate_schemas):
            validate_schemas([GADGET], ignore_missing=True)

        def test_2_strict_after_lenient(validate_schemas):
            validate_schemas([GADGET])

        def test_3_custom_resource_valid(render, validate_schemas):
            validate_schemas(render())

        def test_4_custom_resource_wrong_field(render, validate_schemas):
            validate_schemas(render({"size": 0, "extra": {"colour": "red", "sizes": 2}}))

        def test_5_kubernetes_kinds(pytestconfig, validate_schemas):
            validate_schemas(render_chart(pytestconfig.rootpath / "minimal", {"port": "http"}))
    """)
    result = project.run("-v")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines([
        "*test_1_lenient PASSED*",
        "*test_2_strict_after_lenient FAILED*",
        "*test_3_custom_resource_valid PASSED*",
        "*test_4_custom_resource_wrong_field FAILED*",
        "*test_5_kubernetes_kinds FAILED*",
    ])
    out = result.stdout.str()
    assert "Gadget/g: $: no schema for example.test/v1/Gadget" in out
    assert "schema sources: chart" in out
    assert "Widget/crd-widget: $.spec: Additional properties are not allowed ('sizes' was unexpected)" in out
    assert "Widget/crd-widget: $.spec.size: 0 is less than the minimum of 1" in out
    assert "Deployment/release-web: $.spec.template.spec.containers[0].ports[0].containerPort" in out


def test_a_built_bundle_is_the_one_later_sessions_read(tmp_path, monkeypatch):
    """The session that builds the schema bundle keeps what it built instead of reading the file back:
    it must be exactly what later sessions read from that file, YAML-typed CRD keys included."""
    import json
    import shutil

    from chartest import pins, state
    from chartest.render.schemas import SchemaSet
    from selftest_support import TESTDATA

    chart = shutil.copytree(TESTDATA / "crd", tmp_path / "crd")
    crd = chart / "crds" / "widgets.yaml"
    # a property YAML 1.1 reads as the key True, and a date: JSON has "true" and a string
    crd.write_text(crd.read_text().replace("properties:", "properties:\n            on: {type: string}\n"
                                           "            stamp: {type: string, enum: [2024-01-02]}", 1))
    monkeypatch.setattr(state, "_state_dir", tmp_path / "state")  # no bundle built before
    kube = pins.get("kubernetes.version")
    built = SchemaSet(kube, ["chart"], chart).bundle()
    props = built["$defs"]["crd.selftest.chartest.dev.v1.Widget"]["properties"]
    assert "true" in props and "stamp" in props  # the key True and the date, as JSON writes them
    read = SchemaSet(kube, ["chart"], chart).bundle()
    assert json.dumps(built, sort_keys=True) == json.dumps(read, sort_keys=True)
    assert built == read
