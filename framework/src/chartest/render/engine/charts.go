package main

import (
	"sync"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// Charts as loaded, kept by directory and content digest. Loading (reading and parsing every file
// of the chart) is an eighth of a render, and the unit tier renders one chart ~150 times.
//
// Only a request that names the chart's digest (chartest sends the sha256 of every file, computed
// once per session) is served from here, so an edited chart is loaded anew. Only charts that
// Install.Run leaves as loaded are shared: where a chart declares dependencies, it disables them in
// the chart itself (processDependencyEnabled), so those get a fresh load per request, as in helm.

type loadedChart struct {
	once  sync.Once
	chart *chart.Chart
	err   error
	fixed bool // no chart of it declares dependencies (probes.go): safe to share between renders
}

type chartCache struct {
	mu     sync.Mutex
	charts map[string]*loadedChart // directory + "\x00" + digest
}

var loadedCharts = &chartCache{charts: map[string]*loadedChart{}}

// load is loader.Load(dir), shared between requests naming the same digest where that is safe.
func (c *chartCache) load(dir, digest string) (*chart.Chart, error) {
	if digest == "" {
		return loader.Load(dir)
	}
	key := dir + "\x00" + digest
	c.mu.Lock()
	loaded := c.charts[key]
	if loaded == nil {
		if len(c.charts) >= 32 {
			c.charts = map[string]*loadedChart{} // a long-lived engine serving many chart edits
		}
		loaded = &loadedChart{}
		c.charts[key] = loaded
	}
	c.mu.Unlock()
	loaded.once.Do(func() {
		if loaded.chart, loaded.err = loader.Load(dir); loaded.err == nil {
			loaded.fixed = !declaresDependencies(loaded.chart)
		}
	})
	if loaded.err != nil || !loaded.fixed {
		return loader.Load(dir) // helm's error, as it gives it; a chart Install.Run edits: a fresh one
	}
	return loaded.chart, nil
}
