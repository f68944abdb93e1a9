package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Documents: the stream parsed here, as chartest's Python side would parse it with PyYAML's safe
// loader (YAML 1.1 scalars: yes/no/on/off are booleans, 0755 is octal, 1:30 is sexagesimal), and
// handed over as JSON, which Python decodes ~30 times faster than PyYAML parses YAML. Whatever
// JSON cannot carry the same way (timestamps, tags, merge keys, non-string keys, a document that
// is not a mapping) makes documents() give up, and Python parses the stream itself.

var errUnsure = errors.New("not representable as PyYAML would parse it")

var (
	docSplit  = regexp.MustCompile(`(?m)^---\s*$`)
	sourceRe  = regexp.MustCompile(`(?m)^# Source: (.+)$`)
	boolRe    = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	trueWords = map[string]bool{"yes": true, "Yes": true, "YES": true, "true": true, "True": true, "TRUE": true,
		"on": true, "On": true, "ON": true}
	floatRe = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?` +
		`|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?` +
		`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*` +
		`|[-+]?\.(?:inf|Inf|INF)` +
		`|\.(?:nan|NaN|NAN))$`)
	intRe = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+` +
		`|[-+]?0[0-7_]+` +
		`|[-+]?(?:0|[1-9][0-9_]*)` +
		`|[-+]?0x[0-9a-fA-F_]+` +
		`|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	nullRe      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	timestampRe = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]` +
		`|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]` +
		`(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// document is one resource: the template it came from and its content as JSON.
type document [2]json.RawMessage

// documents splits and parses a `helm template` stream as chartest's parse_manifests does
// (a `kind: List` gives its items), or fails with errUnsure.
func documents(stream string) ([]document, error) {
	out := []document{}
	for _, chunk := range docSplit.Split(stream, -1) {
		if strings.TrimSpace(chunk) == "" {
			continue
		}
		if mayHaveTag(chunk) {
			return nil, errUnsure // an explicit tag, or a "!" where one might be: Python decides
		}
		source := ""
		if m := sourceRe.FindStringSubmatch(chunk); m != nil {
			source = strings.TrimSpace(m[1])
		}
		src, _ := json.Marshal(source)
		var root yaml.Node
		dec := yaml.NewDecoder(strings.NewReader(chunk))
		if err := dec.Decode(&root); err != nil {
			if errors.Is(err, io.EOF) {
				continue // comments only
			}
			return nil, errUnsure
		}
		var extra yaml.Node
		if dec.Decode(&extra) == nil {
			return nil, errUnsure // two documents in one chunk: PyYAML refuses it
		}
		if len(root.Content) != 1 {
			return nil, errUnsure
		}
		node := root.Content[0]
		if node.Kind == yaml.ScalarNode && node.Style == 0 && nullRe.MatchString(node.Value) {
			continue // an empty document
		}
		if node.Kind != yaml.MappingNode {
			return nil, errUnsure
		}
		if len(node.Content) == 0 {
			continue // {} is skipped like an empty document
		}
		items, isList, err := listItems(node)
		if err != nil {
			return nil, err
		}
		if isList {
			for _, item := range items {
				if item.Kind != yaml.MappingNode {
					return nil, errUnsure
				}
				doc, err := toJSON(item)
				if err != nil {
					return nil, err
				}
				out = append(out, document{src, doc})
			}
			continue
		}
		doc, err := toJSON(node)
		if err != nil {
			return nil, err
		}
		out = append(out, document{src, doc})
	}
	return out, nil
}

// listItems gives the items of a `kind: List` document (isList false for any other).
func listItems(m *yaml.Node) (items []*yaml.Node, isList bool, err error) {
	var kind, list *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		switch m.Content[i].Value {
		case "kind":
			kind = m.Content[i+1]
		case "items":
			list = m.Content[i+1]
		}
	}
	if kind == nil || kind.Kind != yaml.ScalarNode || kind.Value != "List" {
		return nil, false, nil
	}
	if list == nil || list.Kind == yaml.ScalarNode && !quoted(list) && scalarKind(list.Value) == "null" {
		return nil, true, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, true, errUnsure
	}
	return resolveAliases(list.Content), true, nil
}

func resolveAliases(nodes []*yaml.Node) []*yaml.Node {
	out := make([]*yaml.Node, len(nodes))
	for i, n := range nodes {
		for n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		out[i] = n
	}
	return out
}

func quoted(n *yaml.Node) bool {
	return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
}

func toJSON(n *yaml.Node) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := write(&b, n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func write(b *bytes.Buffer, n *yaml.Node) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i]
			if key.Kind != yaml.ScalarNode || (!quoted(key) && scalarKind(key.Value) != "str") {
				return errUnsure // a key Python would not get as a string (or a merge key)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(key.Value)
			b.Write(k)
			b.WriteByte(':')
			if err := write(b, n.Content[i+1]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := write(b, item); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(b, n)
	default:
		return errUnsure
	}
	return nil
}

// mayHaveTag reports a "!" at the start or after whitespace or one of ",[{:-": where YAML
// could read a tag.
func mayHaveTag(chunk string) bool {
	for i := strings.IndexByte(chunk, '!'); i >= 0; {
		if i == 0 || strings.IndexByte("\t\n\f\r ,[{:-", chunk[i-1]) >= 0 {
			return true
		}
		next := strings.IndexByte(chunk[i+1:], '!')
		if next < 0 {
			return false
		}
		i += next + 1
	}
	return false
}

// resolverStarts are the first characters PyYAML's implicit resolvers are registered for
// (resolver.py): a plain scalar starting otherwise is a string, no expression tried.
const resolverStarts = "yYnNtTfFoO-+.0123456789<~="

// scalarKind is PyYAML's implicit resolution of a plain scalar (resolver.py, in its order).
func scalarKind(v string) string {
	if v != "" && strings.IndexByte(resolverStarts, v[0]) < 0 {
		return "str"
	}
	switch {
	case boolRe.MatchString(v):
		return "bool"
	case floatRe.MatchString(v):
		return "float"
	case intRe.MatchString(v):
		return "int"
	case v == "<<":
		return "merge"
	case nullRe.MatchString(v):
		return "null"
	case timestampRe.MatchString(v):
		return "timestamp"
	case v == "=":
		return "value"
	}
	return "str"
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	kind := "str"
	if !quoted(n) {
		kind = scalarKind(n.Value)
	}
	switch kind {
	case "str":
		s, _ := json.Marshal(n.Value)
		b.Write(s)
	case "null":
		b.WriteString("null")
	case "bool":
		b.WriteString(strconv.FormatBool(trueWords[n.Value]))
	case "int":
		i, ok := pyInt(n.Value)
		if !ok {
			return errUnsure
		}
		b.WriteString(i.String())
	case "float":
		f, ok := pyFloat(n.Value)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return errUnsure // JSON has no NaN nor infinities
		}
		b.WriteString(floatJSON(f))
	default:
		return errUnsure // timestamps (Python dates), merge and value keys
	}
	return nil
}

func sign(v string) (string, int) {
	if strings.HasPrefix(v, "-") {
		return v[1:], -1
	}
	return strings.TrimPrefix(v, "+"), 1
}

// pyInt is PyYAML's construct_yaml_int.
func pyInt(v string) (*big.Int, bool) {
	v, s := sign(strings.ReplaceAll(v, "_", ""))
	out := new(big.Int)
	var ok bool
	switch {
	case v == "0":
		ok = true
	case strings.HasPrefix(v, "0b"):
		_, ok = out.SetString(v[2:], 2)
	case strings.HasPrefix(v, "0x"):
		_, ok = out.SetString(v[2:], 16)
	case strings.HasPrefix(v, "0"):
		_, ok = out.SetString(v, 8)
	case strings.Contains(v, ":"):
		ok = true
		for _, part := range strings.Split(v, ":") {
			d, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				return nil, false
			}
			out.Mul(out, big.NewInt(60))
			out.Add(out, big.NewInt(d))
		}
	default:
		_, ok = out.SetString(v, 10)
	}
	if s < 0 {
		out.Neg(out)
	}
	return out, ok
}

// pyFloat is PyYAML's construct_yaml_float.
func pyFloat(v string) (float64, bool) {
	v, s := sign(strings.ToLower(strings.ReplaceAll(v, "_", "")))
	switch {
	case v == ".inf":
		return float64(s) * math.Inf(1), true
	case v == ".nan":
		return math.NaN(), true
	case strings.Contains(v, ":"):
		return 0, false // sexagesimal floats: rare enough to leave to Python
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return float64(s) * f, true
}

// floatJSON writes a (finite) float so that Python's json gives the same float back, never an int.
func floatJSON(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}
