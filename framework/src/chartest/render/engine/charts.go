package main

import (
	"sync"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// Charts as loaded, kept by directory and key. Loading (reading and parsing every file of the
// chart) is an eighth of a render, and the unit tier renders one chart ~150 times.
//
// Only a request that names a key is served from here. chartest's key is the chart's content
// digest (computed once per session, as its render cache keys are) and a token of the session:
// a kept engine never serves a later session the chart loaded for an earlier one, and within a
// session a chart is as fresh as chartest's render cache. Only charts that Install.Run leaves as
// loaded are shared: where a chart declares dependencies, it disables them in the chart itself
// (processDependencyEnabled), so those get a fresh load per request, as in helm.
//
// Renders read a shared chart and write nothing to it, with one exception that is harmless: a
// template may call .Validate on one of .Chart.Maintainers (pointers into the chart), which
// rewrites that maintainer's fields with the values they already have.

// loadedChart is one chart directory as loaded, shared where that is safe (also by probes.go's
// instrumented copies).
type loadedChart struct {
	once  sync.Once
	chart *chart.Chart
	err   error
	fixed bool // no chart of it declares dependencies: safe to share between renders
}

// get is loader.Load(dir): the chart loaded first where Install.Run leaves it as loaded, else a
// fresh load (as is helm's error when the first load failed); shared says which.
func (l *loadedChart) get(dir string) (chrt *chart.Chart, shared bool, err error) {
	l.once.Do(func() {
		if l.chart, l.err = loader.Load(dir); l.err == nil {
			l.fixed = !declaresDependencies(l.chart)
		}
	})
	if l.err != nil || !l.fixed {
		chrt, err = loader.Load(dir)
		return chrt, false, err
	}
	return l.chart, true, nil
}

func declaresDependencies(c *chart.Chart) bool {
	if c.Metadata == nil || c.Metadata.Dependencies != nil {
		return true
	}
	for _, sub := range c.Dependencies() {
		if declaresDependencies(sub) {
			return true
		}
	}
	return false
}

type chartCache struct {
	mu     sync.Mutex
	charts map[string]*loadedChart // directory + "\x00" + key
}

var loadedCharts = &chartCache{charts: map[string]*loadedChart{}}

// load is loader.Load(dir), shared between requests naming the same key where that is safe.
func (c *chartCache) load(dir, chartKey string) (*chart.Chart, error) {
	if chartKey == "" {
		return loader.Load(dir)
	}
	key := dir + "\x00" + chartKey
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
	chrt, _, err := loaded.get(dir)
	return chrt, err
}
