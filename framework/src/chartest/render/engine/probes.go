package main

// The "probes" op: template coverage's measurement of one request on an instrumented copy of
// the chart (chartest/coverage). The copy's top-level templates output the coverage markers
// they reached; rendering it through helm's Install.Run for every values set of a session
// costs as much as the real render again (chart load, template parse, sorting manifests,
// documents). This op answers only the markers each top-level template reached:
//
//   - the values take exactly helm's path (the same client set-up and values merging as a
//     render, ProcessDependenciesWithMerge, ToRenderValues with the release options and
//     capabilities of a client-only dry run, the chart's kubeVersion check);
//   - the copy is loaded and its templates parsed once per process (copies live in
//     content-addressed directories and never change; a stat fingerprint guards that);
//   - the templates run in helm's order, each chart's with the data helm gives them
//     (pkg/engine's allTemplates), through helm's own function map with include, tpl,
//     required, fail and lookup as helm's engine defines them for `helm template`.
//
// Any failure answers not-ok with the stage it failed in; the client then measures the request
// the old way (a render of the copy through helm).

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	_ "unsafe" // go:linkname: helm's function map

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// helmFuncMap is helm's template function map (pkg/engine's funcMap: sprig without env and
// expandenv, plus toYaml, fromYaml, toJson and the others), which helm v3 does not export.
//
//go:linkname helmFuncMap helm.sh/helm/v3/pkg/engine.funcMap
func helmFuncMap() template.FuncMap

const (
	stageBefore    = "before"    // failed as helm fails before any template runs (values, schema, kubeVersion, chart)
	stageTemplates = "templates" // failed while parsing or running the templates
	stageOp        = "op"        // this op could not measure (not helm's failure)
	maxIncludeNest = 1000        // helm's limit of one template's nested includes
	markerOpen     = "⁅"         // coverage/instrument/main.go's markers: ⁅N⁆
	markerClose    = "⁆"
	markerPattern  = "⁅[0-9]+⁆"             // what the copy's regexFindAll/regexReplaceAll search for
	coverageBody   = "__chartest_cov_body:" // instrument/main.go's define of a top-level template's body
)

// probes answers the "probes" op: per top-level template (helm's name), the markers it reached,
// each once, in the order they were first reached (what comes after a stop marker is cut by the
// client: a marker reached again later changes nothing).
func (r *renderer) probes(req *request) response {
	reached, stage, err := r.measure(req)
	if err != nil {
		return response{OK: false, Stage: stage, Stderr: "Error: " + err.Error() + "\n"}
	}
	return response{OK: true, Probes: reached}
}

func (r *renderer) measure(req *request) (reached map[string][]int, stage string, err error) {
	defer func() {
		if p := recover(); p != nil { // helm's engine turns a panic into an error too
			reached, stage, err = nil, stageTemplates, fmt.Errorf("rendering template failed: %v", p)
		}
	}()
	client, chartPath, vals, err := r.install(req)
	if err != nil {
		return nil, stageBefore, err
	}
	copied, err := instrumentedCopies.get(chartPath)
	if err != nil {
		return nil, stageOp, err
	}
	chrt, shared, err := copied.loaded.get(chartPath) // a chart with dependencies: a fresh one per request
	if err != nil {
		return nil, stageBefore, err
	}
	files, err := copied.filesOf(chrt, shared)
	if err != nil {
		return nil, stageOp, err
	}
	if err := checkChart(chrt, io.Discard); err != nil {
		return nil, stageBefore, err
	}
	top, err := renderValues(client, chrt, vals)
	if err != nil {
		return nil, stageBefore, err
	}
	reached, err = copied.execute(chrt, top, files)
	if err != nil {
		return nil, stageTemplates, err
	}
	return reached, "", nil
}

// renderValues is what Install.Run (client-only dry run, as `helm template`) hands its template
// engine: the release name checked, dependencies processed, values coalesced and validated
// against the schema, with the release options and capabilities of a dry run; then the chart's
// kubeVersion checked against them as before rendering.
func renderValues(client *action.Install, chrt *chart.Chart, vals map[string]interface{}) (chartutil.Values, error) {
	if err := chartutil.ValidateReleaseName(client.ReleaseName); err != nil {
		return nil, fmt.Errorf("release name %q: %w", client.ReleaseName, err)
	}
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, err
	}
	caps := chartutil.DefaultCapabilities.Copy()
	if client.KubeVersion != nil {
		caps.KubeVersion = *client.KubeVersion
	}
	caps.APIVersions = append(caps.APIVersions, client.APIVersions...)
	options := chartutil.ReleaseOptions{Name: client.ReleaseName, Namespace: client.Namespace, Revision: 1,
		IsInstall: !client.IsUpgrade, IsUpgrade: client.IsUpgrade} // a dry run: --is-upgrade holds
	// ToRenderValues coalesces, then checks the schema unless skipped: here the check follows,
	// by the compiled schema where it can decide (values_schema.go), else by helm's own
	top, err := chartutil.ToRenderValuesWithSchemaValidation(chrt, vals, options, caps, true)
	if err != nil {
		return nil, err
	}
	if !client.SkipSchemaValidation {
		if err := checkSchema(chrt, top); err != nil {
			return nil, err
		}
	}
	if want := chrt.Metadata.KubeVersion; want != "" && !chartutil.IsCompatibleRange(want, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
			want, caps.KubeVersion.String())
	}
	return top, nil
}

// checkSchema is ToRenderValues' schema check of the coalesced values in top.
func checkSchema(chrt *chart.Chart, top chartutil.Values) error {
	coalesced, ok := top["Values"].(chartutil.Values)
	if !ok {
		return fmt.Errorf("chartest-render: no coalesced values (%T)", top["Values"])
	}
	decided, pass := valuesSchemas.check(chrt, coalesced)
	if decided && pass {
		return nil
	}
	err := errors.New("the values fail the chart's compiled values.schema.json")
	if !decided {
		if err = chartutil.ValidateAgainstSchema(chrt, coalesced); err == nil {
			return nil
		}
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s", err.Error())
}

// chartCopy is one instrumented copy as loaded and parsed by this process.
type chartCopy struct {
	fingerprint string
	loaded      loadedChart // charts.go
	filesOnce   sync.Once
	files       map[*chart.Chart]interface{} // helm's .Files of each chart of the shared one
	filesErr    error                        // those files were not captured
	mu          sync.Mutex
	parsed      map[string]*parsedTemplates // by the names of the templates a request runs
}

type parsedTemplates struct {
	once sync.Once
	set  *template.Template
	err  error
}

type copyCache struct {
	mu     sync.Mutex
	copies map[string]*chartCopy // chart directory -> its copy
}

var instrumentedCopies = &copyCache{copies: map[string]*chartCopy{}}

// get is the copy in dir, loaded once per content.
func (c *copyCache) get(dir string) (*chartCopy, error) {
	fingerprint, err := statFingerprint(dir)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	copied := c.copies[dir]
	if copied == nil || copied.fingerprint != fingerprint {
		if len(c.copies) >= 32 {
			c.copies = map[string]*chartCopy{} // a long-lived engine serving many chart edits
		}
		copied = &chartCopy{fingerprint: fingerprint, parsed: map[string]*parsedTemplates{}}
		c.copies[dir] = copied
	}
	c.mu.Unlock()
	return copied, nil
}

// filesOf is helm's .Files of each chart of chrt: captured once for the shared chart.
func (c *chartCopy) filesOf(chrt *chart.Chart, shared bool) (map[*chart.Chart]interface{}, error) {
	if !shared {
		return helmFiles(chrt)
	}
	c.filesOnce.Do(func() { c.files, c.filesErr = helmFiles(chrt) })
	return c.files, c.filesErr
}

// statFingerprint names every file under dir with its size and modification time: a copy that
// changed in place (it should never) is loaded again.
func statFingerprint(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", p, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String(), err
}

// renderable is one template with the data helm's engine gives it.
type renderable struct {
	text     string
	data     map[string]interface{} // its chart's: shared by the chart's templates, as in helm
	basePath string
}

// layOut places every template of c and its subcharts as helm's engine does (pkg/engine's
// allTemplates): each chart's templates see its metadata, files, values scope and subcharts.
func layOut(c *chart.Chart, parent chartutil.Values, files map[*chart.Chart]interface{}, out map[string]renderable) map[string]interface{} {
	subcharts := map[string]interface{}{}
	data := map[string]interface{}{
		"Chart": struct {
			chart.Metadata
			IsRoot bool
		}{*c.Metadata, c.IsRoot()},
		"Files":        files[c],
		"Release":      parent["Release"],
		"Capabilities": parent["Capabilities"],
		"Values":       make(chartutil.Values),
		"Subcharts":    subcharts,
	}
	if c.IsRoot() {
		data["Values"] = parent["Values"]
	} else if scoped, err := parent.Table("Values." + c.Name()); err == nil {
		data["Values"] = scoped
	}
	for _, sub := range c.Dependencies() {
		subcharts[sub.Name()] = layOut(sub, data, files, out)
	}
	prefix := c.ChartFullPath()
	library := strings.EqualFold(c.Metadata.Type, "library")
	for _, t := range c.Templates {
		if t == nil || (library && !strings.HasPrefix(path.Base(t.Name), "_")) {
			continue // a library chart's templates other than partials are not rendered
		}
		out[path.Join(prefix, t.Name)] = renderable{text: string(t.Data), data: data, basePath: path.Join(prefix, "templates")}
	}
	return data
}

// helmOrder sorts template names as helm parses and runs them: deepest paths first, then by
// name in reverse.
func helmOrder(names []string) {
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if da, db := strings.Count(a, "/"), strings.Count(b, "/"); da != db {
			return da > db
		}
		return a > b
	})
}

// execute runs the top-level templates of chrt with the values helm renders them with; the
// markers each one's output holds.
func (c *chartCopy) execute(chrt *chart.Chart, top chartutil.Values, files map[*chart.Chart]interface{}) (map[string][]int, error) {
	templates := map[string]renderable{}
	layOut(chrt, top, files, templates)
	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	helmOrder(names)
	parsed, err := c.parse(names, templates)
	if err != nil {
		return nil, err
	}
	t, err := parsed.Clone() // this render's own include and tpl, over the shared parse trees
	if err != nil {
		return nil, err
	}
	nesting := map[string]int{}
	t.Funcs(template.FuncMap{"include": includeFunc(t, nesting), "tpl": tplFunc(t, nesting)})
	reached := make(map[string][]int, len(names))
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue // partials only define
		}
		r := templates[name]
		r.data["Template"] = chartutil.Values{"Name": name, "BasePath": r.basePath}
		run := name
		if t.Lookup(coverageBody+name) != nil {
			// the template reports the markers its body outputs (regexFindAll over it, then
			// YAML around them): the body's own output holds them, in the same order
			run = coverageBody + name
		}
		var out strings.Builder
		if err := t.ExecuteTemplate(&out, run, r.data); err != nil {
			return nil, err
		}
		reached[name] = markers(out.String())
	}
	return reached, nil
}

// parse is the template set of these names (in helm's order), parsed once per copy as helm's
// engine parses them: one set named "gotpl", missingkey=zero, each file a template of its name.
func (c *chartCopy) parse(names []string, templates map[string]renderable) (*template.Template, error) {
	key := strings.Join(names, "\x00")
	c.mu.Lock()
	p := c.parsed[key]
	if p == nil {
		p = &parsedTemplates{}
		c.parsed[key] = p
	}
	c.mu.Unlock()
	p.once.Do(func() {
		t := template.New("gotpl")
		t.Option("missingkey=zero")
		t.Funcs(templateFuncs())
		for _, name := range names {
			if _, err := t.New(name).Parse(templates[name].text); err != nil {
				p.err = err
				return
			}
		}
		p.set = t
	})
	return p.set, p.err
}

// templateFuncs is helm's function map with what helm's engine binds for `helm template`
// (no lint mode, no cluster, no DNS), and sprig's regexFindAll/regexReplaceAll compiling each
// pattern once, the copy's marker pattern matched without a regexp (the copy calls them on
// includes inside expressions).
var templateFuncs = sync.OnceValue(func() template.FuncMap {
	funcs := helmFuncMap()
	funcs["required"] = func(message string, value interface{}) (interface{}, error) {
		if s, isString := value.(string); value == nil || (isString && s == "") {
			return value, errors.New(message)
		}
		return value, nil
	}
	funcs["fail"] = func(message string) (string, error) { return "", errors.New(message) }
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil // client-only: no cluster to look in
	}
	funcs["getHostByName"] = func(string) string { return "" }
	funcs["regexFindAll"] = func(pattern, s string, n int) []string {
		if pattern == markerPattern {
			return findMarkers(s, n)
		}
		return patterns.get(pattern).FindAllString(s, n)
	}
	funcs["regexReplaceAll"] = func(pattern, s, replacement string) string {
		if pattern == markerPattern && replacement == "" {
			return stripMarkers(s)
		}
		return patterns.get(pattern).ReplaceAllString(s, replacement)
	}
	// include and tpl are bound per render (execute): placeholders for parsing
	funcs["include"] = func(string, interface{}) (string, error) { return "", errors.New("include: not bound") }
	funcs["tpl"] = func(string, interface{}) (string, error) { return "", errors.New("tpl: not bound") }
	return funcs
})

// includeFunc is helm's include over t: the named template's output, at most maxIncludeNest
// calls of one name deep.
func includeFunc(t *template.Template, nesting map[string]int) func(string, interface{}) (string, error) {
	return func(name string, data interface{}) (string, error) {
		if nesting[name] > maxIncludeNest {
			return "", fmt.Errorf("rendering template has a nested reference name: %s: unable to execute template", name)
		}
		nesting[name]++
		defer func() { nesting[name]-- }()
		var out strings.Builder
		err := t.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
}

// tplFunc is helm's tpl over parent: the text parsed into a copy of parent's templates (so its
// defines stay its own, and include and tpl inside it see them), run with data.
func tplFunc(parent *template.Template, nesting map[string]int) func(string, interface{}) (string, error) {
	return func(text string, data interface{}) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		t.Option("missingkey=zero")
		t.Funcs(template.FuncMap{"include": includeFunc(t, nesting), "tpl": tplFunc(t, nesting)})
		if t, err = t.New(parent.Name()).Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var out strings.Builder
		if err := t.Execute(&out, data); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(out.String(), "<no value>", ""), nil
	}
}

// patternCache holds compiled regular expressions by their text.
type patternCache struct {
	mu       sync.RWMutex
	compiled map[string]*regexp.Regexp
}

var patterns = &patternCache{compiled: map[string]*regexp.Regexp{}}

// get compiles pattern once; a bad one panics as sprig's MustCompile does (the template's error).
func (c *patternCache) get(pattern string) *regexp.Regexp {
	c.mu.RLock()
	re := c.compiled[pattern]
	c.mu.RUnlock()
	if re != nil {
		return re
	}
	re = regexp.MustCompile(pattern)
	c.mu.Lock()
	if len(c.compiled) >= 256 {
		c.compiled = map[string]*regexp.Regexp{} // patterns made from values: keep it small
	}
	c.compiled[pattern] = re
	c.mu.Unlock()
	return re
}

// markers are the numbers of the ⁅N⁆ markers in s, each once, in the order of first appearance.
func markers(s string) []int {
	found := []int{}
	seen := map[string]bool{}
	for _, m := range findMarkers(s, -1) {
		if !seen[m] {
			seen[m] = true
			n, _ := strconv.Atoi(m[len(markerOpen) : len(m)-len(markerClose)])
			found = append(found, n)
		}
	}
	return found
}

// findMarkers is regexp.MustCompile(markerPattern).FindAllString(s, n) without the regexp
// machine: a marker is ⁅, one or more ASCII digits, ⁆ (neither bracket is a digit, so the
// leftmost-first matches are exactly the bracketed digit runs).
func findMarkers(s string, n int) []string {
	var found []string
	for offset := 0; n < 0 || len(found) < n; {
		i := strings.Index(s[offset:], markerOpen)
		if i < 0 {
			break
		}
		start := offset + i
		end := start + len(markerOpen)
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end > start+len(markerOpen) && strings.HasPrefix(s[end:], markerClose) {
			end += len(markerClose)
			found = append(found, s[start:end])
			offset = end
		} else {
			offset = start + len(markerOpen)
		}
	}
	return found
}

// stripMarkers is regexp.MustCompile(markerPattern).ReplaceAllString(s, "").
func stripMarkers(s string) string {
	found := findMarkers(s, -1)
	if len(found) == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	rest := s
	for _, m := range found {
		i := strings.Index(rest, m)
		b.WriteString(rest[:i])
		rest = rest[i+len(m):]
	}
	b.WriteString(rest)
	return b.String()
}

// filesCapture takes the data helm's engine gives a chart's templates.
type filesCapture struct{ data map[string]interface{} }

// Take is called by the capturing template (helmFiles) with its chart's data.
func (f *filesCapture) Take(data map[string]interface{}) string {
	f.data = data
	return ""
}

// helmFiles is helm's own .Files of every chart of root (helm's files type is unexported, its
// methods Get, Glob, AsConfig... are what templates call): a template that hands its data over,
// rendered by helm's engine in a copy of root that holds nothing else.
func helmFiles(root *chart.Chart) (map[*chart.Chart]interface{}, error) {
	capture := &filesCapture{}
	stub := stubOf(root)
	stub.Templates = []*chart.File{{Name: "templates/chartest-files", Data: []byte("{{ .Values.capture.Take . }}")}}
	if _, err := engine.Render(stub, chartutil.Values{"Values": map[string]interface{}{"capture": capture}}); err != nil {
		return nil, err
	}
	if capture.data == nil {
		return nil, errors.New("chartest-render: the chart's files were not captured")
	}
	files := map[*chart.Chart]interface{}{}
	return files, filesOf(root, capture.data, files)
}

func stubOf(c *chart.Chart) *chart.Chart {
	stub := &chart.Chart{Metadata: c.Metadata, Files: c.Files}
	for _, sub := range c.Dependencies() {
		stub.AddDependency(stubOf(sub))
	}
	return stub
}

func filesOf(c *chart.Chart, data map[string]interface{}, out map[*chart.Chart]interface{}) error {
	out[c] = data["Files"]
	subcharts, _ := data["Subcharts"].(map[string]interface{})
	if len(subcharts) != len(c.Dependencies()) {
		return fmt.Errorf("chartest-render: subcharts of %s share a name", c.Name())
	}
	for _, sub := range c.Dependencies() {
		subData, ok := subcharts[sub.Name()].(map[string]interface{})
		if !ok {
			return fmt.Errorf("chartest-render: no data of subchart %s", sub.Name())
		}
		if err := filesOf(sub, subData, out); err != nil {
			return err
		}
	}
	return nil
}
