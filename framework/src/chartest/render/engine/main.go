// Command chartest-render renders Helm charts the way `helm template` does, many times per process.
//
// It links helm's own library at the pinned version and runs pkg/action's Install in
// client-only dry-run mode, as cmd/helm/template.go does, so one process serves every
// render of a pytest session instead of starting helm (~65 ms) per values set.
//
// Protocol: one JSON request per line on stdin, one JSON response per line on stdout,
// in the order of the requests. Requests are rendered concurrently (one per CPU), so a
// batch sent at once (chartest's prefetch) uses every core. See request and response
// in render.go; chartest/render/engine_client.py is the client.
package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/debug"
)

func main() {
	// helm's main does this; its warnings (coalesce.go:...) carry the file name
	log.SetFlags(log.Lshortfile)
	log.SetOutput(logs) // each render collects its own goroutine's lines (logs.go)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // renders allocate much and keep little: ~25% less CPU, ~100 MB
	}
	r := newRenderer()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	order := make(chan chan response, 1<<16)
	done := make(chan struct{})
	go writeInOrder(order, done)
	workers := make(chan struct{}, runtime.NumCPU())
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			slot := make(chan response, 1)
			order <- slot
			workers <- struct{}{}
			go func(line []byte) {
				defer func() { <-workers }()
				var req request
				var resp response
				if lreq, ok := lintRequested(line); ok {
					resp, req.ID = r.lint(lreq), lreq.ID // lint.go
				} else if jerr := json.Unmarshal(line, &req); jerr != nil {
					resp = response{OK: false, Stderr: "Error: chartest-render: bad request: " + jerr.Error() + "\n"}
				} else {
					resp = r.render(&req)
				}
				resp.ID = req.ID
				slot <- resp
			}(line)
		}
		if err != nil {
			close(order)
			<-done
			if err == io.EOF {
				return
			}
			os.Exit(2)
		}
	}
}

// writeInOrder answers in the order of the requests, flushing before it waits for a render
// and whenever it caught up with the requests.
func writeInOrder(order chan chan response, done chan struct{}) {
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for slot := range order {
		var resp response
		select {
		case resp = <-slot:
		default: // not rendered yet: hand over what is done before waiting for it
			if out.Flush() != nil {
				os.Exit(2)
			}
			resp = <-slot
		}
		if err := enc.Encode(&resp); err != nil {
			resp.Docs = nil // Python parses the stream itself
			if enc.Encode(&resp) != nil {
				os.Exit(2)
			}
		}
		if len(order) == 0 {
			if out.Flush() != nil {
				os.Exit(2)
			}
		}
	}
	_ = out.Flush()
	close(done)
}
