package main

import (
	"bytes"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Values schemas compiled once per process. helm compiles a chart's values.schema.json on
// every render, and that compile (mostly loading the JSON Schema meta-schema) is a fifth of
// a render's CPU. The engine checks the values against its compiled copy first: when they
// pass, helm is told to skip its own check; when they fail, or the case is not one this
// shortcut covers exactly, helm validates as usual and words the error as `helm template` does.

const schemaURL = "file:///values.schema.json" // where helm's own check places the schema

type schemaCache struct {
	mu       sync.Mutex
	compiled map[string]*jsonschema.Schema // schema bytes -> compiled; nil when it does not compile here
}

var valuesSchemas = &schemaCache{compiled: map[string]*jsonschema.Schema{}}

// valuesPass reports whether helm's schema check of vals (the values a render passes to
// action.Install.Run) is sure to pass, so it can be skipped.
//
// Only charts without dependencies qualify: helm then validates exactly CoalesceValues(chart,
// vals) against the chart's one schema. Schemas that reference anything outside themselves do
// not compile here (no loaders), so helm, which can fetch them, keeps checking those.
func (c *schemaCache) valuesPass(chrt *chart.Chart, vals map[string]interface{}) (pass bool) {
	if chrt.Metadata == nil || chrt.Metadata.Dependencies != nil || len(chrt.Dependencies()) > 0 {
		return false
	}
	if chrt.Schema == nil {
		return false // nothing to skip
	}
	schema := c.get(chrt.Schema)
	if schema == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			pass = false // helm recovers from a panicking check and reports it
		}
	}()
	defer logs.discard()() // helm logs coalescing warnings once, during its own run
	coalesced, err := chartutil.CoalesceValues(chrt, vals)
	if err != nil {
		return false
	}
	return schema.Validate(coalesced.AsMap()) == nil
}

func (c *schemaCache) get(raw []byte) *jsonschema.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if schema, seen := c.compiled[string(raw)]; seen {
		return schema
	}
	if len(c.compiled) >= 64 {
		c.compiled = map[string]*jsonschema.Schema{} // a long session editing its schema
	}
	schema := compileSchema(raw)
	c.compiled[string(raw)] = schema
	return schema
}

// compileSchema compiles as helm's check does (same library, default draft, same resource
// URL), but without loaders: a reference outside the document makes it give up.
func compileSchema(raw []byte) (schema *jsonschema.Schema) {
	defer func() {
		if recover() != nil {
			schema = nil
		}
	}()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(jsonschema.SchemeURLLoader{})
	if compiler.AddResource(schemaURL, doc) != nil {
		return nil
	}
	schema, err = compiler.Compile(schemaURL)
	if err != nil {
		return nil
	}
	return schema
}
