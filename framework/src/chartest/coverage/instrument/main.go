// Command instrument writes a copy of a Helm chart whose templates report what they execute.
//
// Usage: instrument -chart DIR -out DIR  (prints the probe map as JSON on stdout)
//
// Every template of the chart and of its unpacked subcharts is parsed with Go's
// text/template/parse (function names are not checked, so sprig's and helm's
// need no declaring) and written back with probes: a marker text ⁅N⁆ at every
// action, at the start of each if / else if / else, with / else and range / else
// branch (the implicit else too), of each define body and of each top-level
// template, and on both outcomes of every default and ternary.
//
// Markers never reach what a template computes: every include and tpl result is
// stripped of them (their markers are re-emitted where the call stands), and each
// top-level template outputs only one YAML document listing the markers it
// reached, in execution order. (An include whose result is output as it is, or
// only indented, needs no stripping there: its markers flow into the output in
// place. Only with -transparent, where the output is the chart's, is it stripped.) fail and required do not stop the instrumented
// render: they emit a stop marker, and the reader cuts the run there.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template/parse"
)

const (
	markerOpen   = "⁅"
	markerClose  = "⁆"
	markerRegexp = "⁅[0-9]+⁆"
	bodyPrefix   = "__chartest_cov_body:"
	varPrefix    = "$__chartest_cov_"
	coverageKind = "ChartestCoverage"
	notesName    = "NOTES.txt"
	renamedNotes = "NOTES.chartest-cov.txt.yaml"
	// reportStart precedes a top-level template's report: cutting there keeps the template's
	// defines and stops it from running (a render that errors is measured again without it)
	reportStart = "{{/* chartest-coverage: report */}}"
)

// Probe is one point of a template whose execution the instrumented copy reports.
type Probe struct {
	ID     int    `json:"id"`
	File   string `json:"file"` // relative to the chart root: templates/x.yaml, charts/sub/templates/y.yaml
	Line   int    `json:"line"`
	Kind   string `json:"kind"` // file | define | text | action | branch | group | stop
	Group  int    `json:"group,omitempty"`
	What   string `json:"what,omitempty"`   // if, else if, with, range, default, ternary; define name
	Branch string `json:"branch,omitempty"` // then, else, else (implicit), fallback, given, true, false
	Lines  []int  `json:"lines,omitempty"`  // the lines this probe proves were executed
}

// Template is one top-level template: helm's name for it and where its report is.
type Template struct {
	File     string `json:"file"`      // relative to the chart root, as in the probes
	HelmName string `json:"helm_name"` // <chart>/templates/x.yaml, <chart>/charts/sub/templates/y.yaml
	Rendered string `json:"rendered"`  // helm's name of the instrumented copy (NOTES.txt is renamed)
}

type probeMap struct {
	Chart     string     `json:"chart"`
	Kind      string     `json:"kind"`
	Probes    []*Probe   `json:"probes"`
	Templates []Template `json:"templates"`
	Skipped   []string   `json:"skipped"` // files not instrumented (packaged subcharts)
}

type instrumenter struct {
	probes      []*Probe
	vars        int
	transparent bool // top-level templates output their text, stripped of markers (self-tests)
}

func (in *instrumenter) probe(p Probe) *Probe {
	p.ID = len(in.probes) + 1
	in.probes = append(in.probes, &p)
	return in.probes[len(in.probes)-1]
}

func marker(p *Probe) string { return markerOpen + fmt.Sprint(p.ID) + markerClose }

func (in *instrumenter) newVar() string {
	in.vars++
	return fmt.Sprintf("%s%d", varPrefix, in.vars)
}

// file is one template being rewritten: its text for line numbers, its output so far.
type file struct {
	in   *instrumenter
	rel  string
	text string
	out  strings.Builder
}

func (f *file) line(pos parse.Pos) int {
	p := int(pos)
	if p > len(f.text) {
		p = len(f.text)
	}
	return 1 + strings.Count(f.text[:p], "\n")
}

// textLines are the lines holding non-blank text of a text node.
func (f *file) textLines(n *parse.TextNode) []int {
	var lines []int
	start := f.line(n.Pos)
	for i, part := range strings.Split(string(n.Text), "\n") {
		if strings.TrimSpace(part) != "" {
			lines = append(lines, start+i)
		}
	}
	return lines
}

func (f *file) writeText(s string) {
	// a text ending in "{" right before "{{" would lex as a different delimiter
	if strings.HasSuffix(s, "{") {
		f.out.WriteString(s[:len(s)-1])
		f.out.WriteString(`{{"{"}}`)
		return
	}
	f.out.WriteString(s)
}

// list writes the nodes of a list, the first marker being `entry` (whose lines it fills).
func (f *file) list(l *parse.ListNode, entry *Probe) {
	f.out.WriteString(marker(entry))
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		f.node(n, entry)
	}
}

func (f *file) node(n parse.Node, entry *Probe) {
	switch n := n.(type) {
	case *parse.TextNode:
		// its own probe: text after a fail must not count as reached
		if lines := f.textLines(n); len(lines) > 0 {
			p := f.in.probe(Probe{File: f.rel, Line: lines[0], Kind: "text", Lines: lines})
			f.out.WriteString(marker(p))
		}
		f.writeText(string(n.Text))
	case *parse.CommentNode:
	case *parse.ActionNode:
		p := f.in.probe(Probe{File: f.rel, Line: f.line(n.Pos), Kind: "action"})
		p.Lines = []int{p.Line}
		f.out.WriteString(marker(p))
		if !f.in.transparent && outputsInclude(n.Pipe) {
			// the included markers reach the report in place: only its arguments are hoisted
			for _, arg := range n.Pipe.Cmds[0].Args {
				f.out.WriteString(f.hoistNode(arg, false))
			}
		} else {
			f.out.WriteString(f.hoist(n.Pipe, false))
		}
		f.out.WriteString("{{" + n.Pipe.String() + "}}")
	case *parse.IfNode:
		f.branching("if", n.Pipe, n.List, n.ElseList, n.Pos, entry)
	case *parse.WithNode:
		f.branching("with", n.Pipe, n.List, n.ElseList, n.Pos, entry)
	case *parse.RangeNode:
		f.branching("range", n.Pipe, n.List, n.ElseList, n.Pos, entry)
	case *parse.TemplateNode:
		p := f.in.probe(Probe{File: f.rel, Line: f.line(n.Pos), Kind: "action"})
		p.Lines = []int{p.Line}
		f.out.WriteString(marker(p))
		if n.Pipe != nil {
			f.out.WriteString(f.hoist(n.Pipe, false))
			f.out.WriteString(fmt.Sprintf("{{template %q %s}}", n.Name, n.Pipe.String()))
		} else {
			f.out.WriteString(fmt.Sprintf("{{template %q}}", n.Name))
		}
	case *parse.BreakNode:
		f.out.WriteString("{{break}}")
	case *parse.ContinueNode:
		f.out.WriteString("{{continue}}")
	default:
		f.out.WriteString(n.String())
	}
}

// outputsInclude: the action outputs an include's result as it is, or indented
// (`include "x" ARG`, optionally `| nindent N` or `| indent N`).
func outputsInclude(pipe *parse.PipeNode) bool {
	if len(pipe.Decl) > 0 || pipe.IsAssign || len(pipe.Cmds) == 0 || len(pipe.Cmds) > 2 {
		return false
	}
	if id, ok := pipe.Cmds[0].Args[0].(*parse.IdentifierNode); !ok || id.Ident != "include" {
		return false
	}
	if len(pipe.Cmds) == 1 {
		return true
	}
	args := pipe.Cmds[1].Args
	id, ok := args[0].(*parse.IdentifierNode)
	if !ok || (id.Ident != "nindent" && id.Ident != "indent") || len(args) != 2 {
		return false
	}
	_, number := args[1].(*parse.NumberNode)
	return number
}

// branching writes an if/with/range with a probe on each branch, the implicit else included.
func (f *file) branching(keyword string, pipe *parse.PipeNode, body, elseList *parse.ListNode, pos parse.Pos, entry *Probe) {
	line := f.line(pos)
	what := keyword
	if entry.Kind == "branch" && strings.HasSuffix(entry.What, keyword) && entry.Branch == "else" && entry.Line == line {
		what = "else " + keyword // {{else if}}: the else branch of the same line holds only this
	}
	group := f.in.probe(Probe{File: f.rel, Line: line, Kind: "group", What: what})
	then := f.in.probe(Probe{File: f.rel, Line: line, Kind: "branch", Group: group.ID, What: what, Branch: "then", Lines: []int{line}})
	if keyword == "range" && elseList == nil && neverEmpty(pipe, entry) {
		f.out.WriteString(f.hoist(pipe, false))
		f.out.WriteString("{{range " + pipe.String() + "}}")
		f.list(body, then)
		f.out.WriteString("{{end}}")
		return
	}
	elseBranch := "else (implicit)"
	if elseList != nil {
		elseBranch = "else"
	}
	otherwise := f.in.probe(Probe{File: f.rel, Line: line, Kind: "branch", Group: group.ID, What: what, Branch: elseBranch, Lines: []int{line}})
	if elseList != nil && len(elseList.Nodes) > 0 {
		otherwise.Line = f.elseLine(body, elseList, line)
		if otherwise.Line != line {
			otherwise.Lines = []int{otherwise.Line}
		}
	}
	f.out.WriteString(f.hoist(pipe, false))
	f.out.WriteString("{{" + keyword + " " + pipe.String() + "}}")
	f.list(body, then)
	f.out.WriteString("{{else}}")
	f.list(elseList, otherwise)
	f.out.WriteString("{{end}}")
}

// neverEmpty: a range whose implicit else cannot happen, so it is no branch: over a literal
// `list` with items, or over `.` straight inside a `with` body (with enters only when non-empty).
func neverEmpty(pipe *parse.PipeNode, entry *Probe) bool {
	if len(pipe.Cmds) != 1 {
		return false
	}
	args := pipe.Cmds[0].Args
	if id, ok := args[0].(*parse.IdentifierNode); ok && id.Ident == "list" && len(args) > 1 {
		return true
	}
	_, dot := args[0].(*parse.DotNode)
	return dot && len(args) == 1 && entry.Kind == "branch" && strings.HasSuffix(entry.What, "with") && entry.Branch == "then"
}

// elseLine is the line of the {{else}} that starts elseList: an else if's own line, else the
// line of the last "else" keyword between the body and the else list.
func (f *file) elseLine(body, elseList *parse.ListNode, fallback int) int {
	first := elseList.Nodes[0]
	if _, ok := first.(*parse.IfNode); ok && len(elseList.Nodes) == 1 {
		return f.line(first.Position())
	}
	if _, ok := first.(*parse.WithNode); ok && len(elseList.Nodes) == 1 {
		return f.line(first.Position())
	}
	end := int(first.Position())
	start := int(body.Position())
	if start > end || end > len(f.text) {
		return fallback
	}
	idx := strings.LastIndex(f.text[start:end], "else")
	if idx < 0 {
		return fallback
	}
	return f.line(parse.Pos(start + idx))
}

// hoist rewrites the pipeline in place and returns what must run just before it: include and
// tpl results stripped of their markers (which are re-emitted), default and ternary outcomes
// probed, fail and required turned into stop markers. Inside the operands and/or may skip
// (lazy), nothing is moved ahead: includes are only stripped there.
func (f *file) hoist(pipe *parse.PipeNode, lazy bool) string {
	if pipe == nil {
		return ""
	}
	var pre strings.Builder
	for ci := 0; ci < len(pipe.Cmds); ci++ {
		cmd := pipe.Cmds[ci]
		name := ""
		if id, ok := cmd.Args[0].(*parse.IdentifierNode); ok {
			name = id.Ident
		}
		for ai, arg := range cmd.Args {
			argLazy := lazy || ((name == "and" || name == "or") && ai > 1)
			pre.WriteString(f.hoistNode(arg, argLazy))
		}
		if lazy {
			if name == "include" || name == "tpl" {
				pipe.Cmds[ci] = stripCall(cmd)
			}
			continue
		}
		line := f.line(cmd.Pos)
		switch name {
		case "include", "tpl":
			v := f.in.newVar()
			pre.WriteString(fmt.Sprintf("{{%s := %s}}", v, stagesString(pipe.Cmds[:ci+1])))
			pre.WriteString(fmt.Sprintf(`{{regexFindAll %q %s -1 | join ""}}`, markerRegexp, v))
			strip := &parse.CommandNode{NodeType: parse.NodeCommand, Pos: cmd.Pos, Args: []parse.Node{
				ident("regexReplaceAll"), str(markerRegexp), variable(v), str("")}}
			pipe.Cmds = append([]*parse.CommandNode{strip}, pipe.Cmds[ci+1:]...)
			ci = 0
		case "default", "ternary", "required":
			argIndex := map[string]int{"default": 2, "ternary": 3, "required": 2}[name]
			v := f.in.newVar()
			switch {
			case len(cmd.Args) > argIndex && cmd.Args[argIndex].Type() != parse.NodeNil:
				pre.WriteString(fmt.Sprintf("{{%s := %s}}", v, argString(cmd.Args[argIndex])))
				cmd.Args[argIndex] = variable(v)
			case len(cmd.Args) == argIndex && ci > 0:
				pre.WriteString(fmt.Sprintf("{{%s := %s}}", v, stagesString(pipe.Cmds[:ci])))
				pipe.Cmds = append([]*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: cmd.Pos, Args: []parse.Node{variable(v)}}}, pipe.Cmds[ci:]...)
				ci = 1
			default:
				continue // `default X` alone: nothing is given, always the fallback
			}
			switch name {
			case "default":
				pre.WriteString(f.outcomes("default", line, "empty "+v, "fallback", "given"))
			case "ternary":
				pre.WriteString(f.outcomes("ternary", line, v, "true", "false"))
			case "required":
				stop := f.in.probe(Probe{File: f.rel, Line: line, Kind: "stop", What: "required"})
				pre.WriteString(fmt.Sprintf(`{{if or (kindIs "invalid" %s) (and (kindIs "string" %s) (eq %s ""))}}%s{{end}}`,
					v, v, v, marker(stop)))
				// required passes its value through: the value alone
				pipe.Cmds[ci] = &parse.CommandNode{NodeType: parse.NodeCommand, Pos: cmd.Pos, Args: []parse.Node{variable(v)}}
				if ci > 0 { // piped: the stage before already yields the value
					pipe.Cmds = append(pipe.Cmds[:ci], pipe.Cmds[ci+1:]...)
					ci--
				}
			}
		case "fail":
			stop := f.in.probe(Probe{File: f.rel, Line: line, Kind: "stop", What: "fail"})
			pre.WriteString(marker(stop))
			pipe.Cmds[ci] = &parse.CommandNode{NodeType: parse.NodeCommand, Pos: cmd.Pos, Args: []parse.Node{ident("print"), str("")}}
		}
	}
	return pre.String()
}

func (f *file) hoistNode(n parse.Node, lazy bool) string {
	switch n := n.(type) {
	case *parse.PipeNode:
		return f.hoist(n, lazy)
	case *parse.ChainNode:
		return f.hoistNode(n.Node, lazy)
	}
	return ""
}

// outcomes probes the two outcomes of a default or ternary.
func (f *file) outcomes(what string, line int, cond, yes, no string) string {
	group := f.in.probe(Probe{File: f.rel, Line: line, Kind: "group", What: what})
	a := f.in.probe(Probe{File: f.rel, Line: line, Kind: "branch", Group: group.ID, What: what, Branch: yes, Lines: []int{line}})
	b := f.in.probe(Probe{File: f.rel, Line: line, Kind: "branch", Group: group.ID, What: what, Branch: no, Lines: []int{line}})
	return fmt.Sprintf("{{if %s}}%s{{else}}%s{{end}}", cond, marker(a), marker(b))
}

func stripCall(cmd *parse.CommandNode) *parse.CommandNode {
	inner := &parse.PipeNode{NodeType: parse.NodePipe, Pos: cmd.Pos, Cmds: []*parse.CommandNode{cmd}}
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: cmd.Pos, Args: []parse.Node{
		ident("regexReplaceAll"), str(markerRegexp), inner, str("")}}
}

func stagesString(cmds []*parse.CommandNode) string {
	p := &parse.PipeNode{NodeType: parse.NodePipe, Cmds: cmds}
	return p.String()
}

func argString(n parse.Node) string {
	if p, ok := n.(*parse.PipeNode); ok {
		return "(" + p.String() + ")"
	}
	return n.String()
}

func ident(name string) *parse.IdentifierNode {
	return &parse.IdentifierNode{NodeType: parse.NodeIdentifier, Ident: name}
}

func str(s string) *parse.StringNode {
	return &parse.StringNode{NodeType: parse.NodeString, Quoted: fmt.Sprintf("%q", s), Text: s}
}

func variable(name string) *parse.VariableNode {
	return &parse.VariableNode{NodeType: parse.NodeVariable, Ident: []string{name}}
}

var defineRe = regexp.MustCompile(`\{\{-?\s*(define|block)\s+"([^"]+)"`)

// defineLine is the line of `{{ define "name" }}` at or before the body's position.
func (f *file) defineLine(name string, body parse.Pos) int {
	best := -1
	for _, m := range defineRe.FindAllStringSubmatchIndex(f.text, -1) {
		if f.text[m[4]:m[5]] == name && m[0] <= int(body) {
			best = m[0]
		}
	}
	if best < 0 {
		return f.line(body)
	}
	return f.line(parse.Pos(best))
}

// instrumentTemplate returns the instrumented text of one template file.
func (in *instrumenter) instrumentTemplate(rel, helmName, text string, topLevel bool) (string, error) {
	f := &file{in: in, rel: rel, text: text}
	t := parse.New(helmName)
	t.Mode = parse.SkipFuncCheck
	trees := map[string]*parse.Tree{}
	if _, err := t.Parse(text, "", "", trees); err != nil {
		return "", err
	}
	names := make([]string, 0, len(trees))
	for name := range trees {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return trees[names[i]].Root.Pos < trees[names[j]].Root.Pos })
	for _, name := range names {
		tree := trees[name]
		if name == helmName {
			continue
		}
		p := in.probe(Probe{File: rel, Kind: "define", What: name})
		p.Line = f.defineLine(name, tree.Root.Pos)
		p.Lines = []int{p.Line}
		f.out.WriteString(fmt.Sprintf("{{define %q}}", name))
		f.list(tree.Root, p)
		f.out.WriteString("{{end}}")
	}
	if top, ok := trees[helmName]; ok && topLevel && in.transparent {
		p := in.probe(Probe{File: rel, Kind: "file", Line: 1})
		body := bodyPrefix + helmName
		f.out.WriteString(fmt.Sprintf("{{define %q}}", body))
		f.list(top.Root, p)
		f.out.WriteString("{{end}}")
		f.out.WriteString(fmt.Sprintf(`{{regexReplaceAll %q (include %q $) ""}}`, markerRegexp, body))
	} else if top, ok := trees[helmName]; ok && topLevel {
		p := in.probe(Probe{File: rel, Kind: "file", Line: 1})
		body := bodyPrefix + helmName
		f.out.WriteString(fmt.Sprintf("{{define %q}}", body))
		f.list(top.Root, p)
		f.out.WriteString("{{end}}")
		f.out.WriteString(reportStart)
		f.out.WriteString(fmt.Sprintf("{{- %sout := include %q $ -}}\n", varPrefix, body))
		f.out.WriteString(fmt.Sprintf("apiVersion: chartest.local/v1\nkind: %s\nmetadata:\n  name: %q\n", coverageKind, rel))
		f.out.WriteString(fmt.Sprintf(`probes: {{regexFindAll %q %sout -1 | join "" | quote}}`+"\n", markerRegexp, varPrefix))
	} else if topLevel {
		// a top-level template holding only defines still reports that it ran
		p := in.probe(Probe{File: rel, Kind: "file", Line: 1})
		f.out.WriteString(reportStart)
		f.out.WriteString(fmt.Sprintf("apiVersion: chartest.local/v1\nkind: %s\nmetadata:\n  name: %q\nprobes: %q\n", coverageKind, rel, marker(p)))
	}
	return f.out.String(), nil
}

// instrumentChart instruments chartDir's templates into outDir (already a copy of it), and its
// unpacked subcharts, helm naming them under helmPrefix.
func (in *instrumenter) instrumentChart(chartDir, outDir, rel, helmPrefix string, pm *probeMap) error {
	tplDir := filepath.Join(chartDir, "templates")
	var files []string
	_ = filepath.WalkDir(tplDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	for _, path := range files {
		sub, _ := filepath.Rel(chartDir, path)
		sub = filepath.ToSlash(sub)
		relFile := rel + sub
		helmName := helmPrefix + sub
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		topLevel := !strings.HasPrefix(filepath.Base(path), "_")
		text, err := in.instrumentTemplate(relFile, helmName, string(data), topLevel)
		if err != nil {
			return fmt.Errorf("%s: %w", relFile, err)
		}
		target := filepath.Join(outDir, filepath.FromSlash(sub))
		rendered := helmName
		if filepath.Base(path) == notesName && !in.transparent {
			// helm template renders NOTES.txt but never prints it: a normal template reports
			if err := os.Remove(target); err != nil {
				return err
			}
			target = filepath.Join(filepath.Dir(target), renamedNotes)
			rendered = strings.TrimSuffix(helmName, notesName) + renamedNotes
		}
		if err := os.WriteFile(target, []byte(text), 0o644); err != nil {
			return err
		}
		if topLevel {
			pm.Templates = append(pm.Templates, Template{File: relFile, HelmName: helmName, Rendered: rendered})
		}
	}
	entries, _ := os.ReadDir(filepath.Join(chartDir, "charts"))
	for _, e := range entries {
		subDir := filepath.Join(chartDir, "charts", e.Name())
		if !e.IsDir() {
			pm.Skipped = append(pm.Skipped, rel+"charts/"+e.Name())
			continue
		}
		name := chartName(subDir)
		if name == "" {
			continue
		}
		if err := in.instrumentChart(subDir, filepath.Join(outDir, "charts", e.Name()),
			rel+"charts/"+e.Name()+"/", helmPrefix+"charts/"+name+"/", pm); err != nil {
			return err
		}
	}
	return nil
}

var nameRe = regexp.MustCompile(`(?m)^name:\s*["']?([^"'\s#]+)`)

func chartName(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return ""
	}
	m := nameRe.FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// notChart are directories inside a chart's directory that are not part of the chart.
var notChart = map[string]bool{".git": true, "__pycache__": true, ".pytest_cache": true}

func copyTree(src, dst string, exclude []string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			abs, _ := filepath.Abs(path)
			for _, ex := range exclude {
				if abs == ex {
					return filepath.SkipDir
				}
			}
			if notChart[d.Name()] {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			info, err := os.Stat(path)
			if err != nil || info.IsDir() {
				return nil
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

type excludes []string

func (e *excludes) String() string { return strings.Join(*e, ",") }

func (e *excludes) Set(v string) error {
	abs, err := filepath.Abs(v)
	*e = append(*e, abs)
	return err
}

func main() {
	chart := flag.String("chart", "", "the chart directory")
	out := flag.String("out", "", "where to write the instrumented copy (must not exist)")
	var exclude excludes
	transparent := flag.Bool("transparent", false, "top-level templates output their own text, stripped of markers, "+
		"instead of their markers: the copy must render exactly like the chart (self-tests)")
	flag.Var(&exclude, "exclude", "a directory inside the chart not to copy (repeatable)")
	flag.Parse()
	if *chart == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: instrument -chart DIR -out DIR")
		os.Exit(2)
	}
	name := chartName(*chart)
	if name == "" {
		fmt.Fprintf(os.Stderr, "no chart name in %s/Chart.yaml\n", *chart)
		os.Exit(1)
	}
	if err := copyTree(*chart, *out, exclude); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	in := &instrumenter{transparent: *transparent}
	pm := &probeMap{Chart: name, Kind: coverageKind, Templates: []Template{}, Skipped: []string{}}
	if err := in.instrumentChart(*chart, *out, "", name+"/", pm); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pm.Probes = in.probes
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pm); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
