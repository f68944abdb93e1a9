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
func (c *schemaCache) valuesPass(chrt *chart.Chart, vals map[string]interface{}) bool {
	if c.compiledFor(chrt) == nil {
		return false
	}
	restore := logs.discard() // helm logs coalescing warnings once, during its own run
	coalesced, err := chartutil.CoalesceValues(chrt, vals)
	restore()
	if err != nil {
		return false
	}
	decided, pass := c.check(chrt, coalesced)
	return decided && pass
}

// check is helm's schema check (chartutil.ValidateAgainstSchema) of coalesced values, by the
// compiled copy: decided is false where the copy cannot say for sure (then helm must check).
//
// Only charts without dependencies qualify: helm then validates exactly the coalesced values
// against the chart's one schema. Schemas that reference anything outside themselves do not
// compile here (no loaders), so helm, which can fetch them, keeps checking those.
func (c *schemaCache) check(chrt *chart.Chart, coalesced chartutil.Values) (decided, pass bool) {
	schema := c.compiledFor(chrt)
	if schema == nil {
		return false, false
	}
	defer func() {
		if recover() != nil {
			decided, pass = false, false // helm recovers from a panicking check and reports it
		}
	}()
	return true, schema.Validate(coalesced.AsMap()) == nil
}

// compiledFor is the compiled schema of a chart this shortcut covers, else nil.
func (c *schemaCache) compiledFor(chrt *chart.Chart) *jsonschema.Schema {
	if chrt.Metadata == nil || chrt.Metadata.Dependencies != nil || len(chrt.Dependencies()) > 0 {
		return nil
	}
	if chrt.Schema == nil {
		return nil // nothing to check
	}
	return c.get(chrt.Schema)
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
