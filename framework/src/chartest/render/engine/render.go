package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/release"
)

// request is one `helm template RELEASE CHART` call, flag by flag.
type request struct {
	ID          int64    `json:"id"`
	Op          string   `json:"op"` // "" renders; "lint" (lint.go) and "probes" (probes.go) are other ops
	Chart       string   `json:"chart"`
	ChartKey    string   `json:"chart_key"` // the chart's content digest and session: kept loaded by it (charts.go)
	Release     string   `json:"release"`
	Namespace   string   `json:"namespace"`
	KubeVersion string   `json:"kube_version"` // --kube-version
	APIVersions []string `json:"api_versions"` // --api-versions
	ValuesFiles []string `json:"values_files"` // --values, in order
	// Values is one more values document after ValuesFiles, as if passed by --values
	// (chartest's values dict; the CLI path writes it to a temporary file).
	Values        string   `json:"values"`
	Set           []string `json:"set"`        // --set
	SetString     []string `json:"set_string"` // --set-string
	IncludeCRDs   bool     `json:"include_crds"`
	SkipTests     bool     `json:"skip_tests"`
	IsUpgrade     bool     `json:"is_upgrade"`
	NoHooks       bool     `json:"no_hooks"`
	SkipSchemaVal bool     `json:"skip_schema_validation"`
	Documents     bool     `json:"documents"` // also answer with the parsed documents
}

// response carries what `helm template` would print: its stdout when it succeeds,
// else its stderr (warnings, then "Error: ...").
type response struct {
	ID     int64  `json:"id"`
	OK     bool   `json:"ok"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`
	// Docs is the stream parsed as chartest's Python side parses it (documents.go), when asked
	// and representable; absent, Python parses Stdout itself.
	Docs *[]document `json:"docs,omitempty"`
	// Probes answers the "probes" op: the coverage markers each top-level template reached.
	Probes map[string][]int `json:"probes,omitempty"`
	// Stage says where the "probes" op failed: "before" the templates ran (as helm would), in
	// "templates", or in the "op" itself.
	Stage string `json:"stage,omitempty"`
}

const inlineScheme = "chartest-values"

type renderer struct {
	settings  *cli.EnvSettings
	providers getter.Providers // helm's, as the CLI has them
}

func newRenderer() *renderer {
	settings := cli.New()
	return &renderer{settings: settings, providers: getter.All(settings)}
}

// providers gives helm's getters plus one that serves this request's values document.
func (r *renderer) providersWith(values string) getter.Providers {
	inline := &inlineGetter{data: values}
	return append(getter.Providers{{
		Schemes: []string{inlineScheme},
		New:     func(...getter.Option) (getter.Getter, error) { return inline, nil },
	}}, r.providers...)
}

// inlineGetter serves the request's values document to helm's own values merging, so
// the values dict takes exactly the path of a --values file.
type inlineGetter struct{ data string }

func (g *inlineGetter) Get(string, ...getter.Option) (*bytes.Buffer, error) {
	return bytes.NewBufferString(g.data), nil
}

func (r *renderer) render(req *request) response {
	var stderr bytes.Buffer
	defer logs.collect(&stderr)() // helm's warnings go through the standard logger, as in the CLI
	out, err := r.template(req, &stderr)
	if err != nil {
		fmt.Fprintf(&stderr, "Error: %s\n", err.Error()) // what cobra prints for helm
		return response{OK: false, Stderr: stderr.String()}
	}
	resp := response{OK: true, Stdout: out}
	if req.Documents {
		if docs, err := documents(out); err == nil {
			resp.Docs = &docs
		}
	}
	return resp
}

// template is cmd/helm/template.go's RunE and runInstall for a local chart directory.
func (r *renderer) template(req *request, stderr io.Writer) (string, error) {
	client, chartPath, vals, err := r.install(req)
	if err != nil {
		return "", err
	}
	chrt, err := loadedCharts.load(chartPath, req.ChartKey)
	if err != nil {
		return "", err
	}
	if err := checkChart(chrt, stderr); err != nil {
		return "", err
	}
	if !client.SkipSchemaValidation && valuesSchemas.valuesPass(chrt, vals) {
		client.SkipSchemaValidation = true // checked against the compiled schema (values_schema.go)
	}
	rel, err := client.Run(chrt, vals)
	if err != nil {
		if rel != nil {
			return "", fmt.Errorf("%w\n\nUse --debug flag to render out invalid YAML", err)
		}
		return "", err
	}
	return stream(rel, client.DisableHooks, req.SkipTests), nil
}

// install is what cmd/helm/template.go sets up before loading the chart: the Install client with
// the request's flags, the chart's located path and the values merged as the CLI merges them.
func (r *renderer) install(req *request) (*action.Install, string, map[string]interface{}, error) {
	client := action.NewInstall(&action.Configuration{Log: func(string, ...interface{}) {}})
	if req.KubeVersion != "" {
		kv, err := chartutil.ParseKubeVersion(req.KubeVersion)
		if err != nil {
			return nil, "", nil, fmt.Errorf("invalid kube version '%s': %s", req.KubeVersion, err)
		}
		client.KubeVersion = kv
	}
	client.DryRunOption = "true"
	client.DryRun = true
	client.ReleaseName = "release-name"
	client.Replace = true
	client.ClientOnly = true
	client.APIVersions = chartutil.VersionSet(req.APIVersions)
	client.IncludeCRDs = req.IncludeCRDs
	client.IsUpgrade = req.IsUpgrade
	client.DisableHooks = req.NoHooks
	client.SkipSchemaValidation = req.SkipSchemaVal

	name, chartRef, err := client.NameAndChart([]string{req.Release, req.Chart})
	if err != nil {
		return nil, "", nil, err
	}
	client.ReleaseName = name
	cp, err := client.ChartPathOptions.LocateChart(chartRef, r.settings)
	if err != nil {
		return nil, "", nil, err
	}
	opts := values.Options{ValueFiles: append([]string{}, req.ValuesFiles...), Values: req.Set,
		StringValues: req.SetString}
	if req.Values != "" {
		opts.ValueFiles = append(opts.ValueFiles, inlineScheme+"://values")
	}
	vals, err := opts.MergeValues(r.providersWith(req.Values))
	if err != nil {
		return nil, "", nil, err
	}
	if req.Namespace != "" {
		client.Namespace = req.Namespace
	} else {
		client.Namespace = r.settings.Namespace()
	}
	return client, cp, vals, nil
}

// checkChart is what runInstall checks of a loaded chart before installing it.
func checkChart(chrt *chart.Chart, stderr io.Writer) error {
	if err := checkIfInstallable(chrt); err != nil {
		return err
	}
	if chrt.Metadata.Deprecated {
		fmt.Fprintf(stderr, "WARNING: This chart is deprecated\n")
	}
	if deps := chrt.Metadata.Dependencies; deps != nil {
		if err := action.CheckDependencies(chrt, deps); err != nil {
			return fmt.Errorf("An error occurred while checking for chart dependencies. You may need to run `helm dependency build` to fetch missing dependencies: %w", err)
		}
	}
	return nil
}

// stream is what `helm template` prints: the manifest, then every hook (tests unless skipped).
func stream(rel *release.Release, noHooks, skipTests bool) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(rel.Manifest))
	b.WriteString("\n")
	if !noHooks {
		for _, h := range rel.Hooks {
			if skipTests && isTestHook(h) {
				continue
			}
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
		}
	}
	return b.String()
}

func isTestHook(h *release.Hook) bool {
	for _, e := range h.Events {
		if e == release.HookTest {
			return true
		}
	}
	return false
}

func checkIfInstallable(ch *chart.Chart) error {
	switch ch.Metadata.Type {
	case "", "application":
		return nil
	}
	return fmt.Errorf("%s charts are not installable", ch.Metadata.Type)
}
