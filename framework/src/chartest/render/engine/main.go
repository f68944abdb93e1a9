// Command chartest-render renders Helm charts the way `helm template` does, many times per process.
//
// It links helm's own library at the pinned version and runs pkg/action's Install in
// client-only dry-run mode, as cmd/helm/template.go does, so one process serves every
// render of a pytest session instead of starting helm (~65 ms) per values set.
//
// Protocol: one JSON request per line on stdin, one JSON response per line on stdout,
// in the order of the requests. With -listen PATH it is kept between sessions instead:
// it serves every connection to the unix socket PATH the same way, and exits once no
// client has been connected for -idle. Requests are rendered concurrently (one per CPU), so a
// batch sent at once (chartest's prefetch) uses every core. See request and response
// in render.go; chartest/render/engine_client.py is the client.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

func main() {
	listen := flag.String("listen", "", "serve the clients of this unix socket instead of stdin/stdout")
	idle := flag.Duration("idle", 10*time.Minute, "with -listen: exit once no client has been connected this long")
	flag.Parse()
	// helm's main does this; its warnings (coalesce.go:...) carry the file name
	log.SetFlags(log.Lshortfile)
	log.SetOutput(logs) // each render collects its own goroutine's lines (logs.go)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // renders allocate much and keep little: ~25% less CPU, ~100 MB
	}
	r := newRenderer()
	workers := make(chan struct{}, runtime.NumCPU()) // renders at once, over every client
	if *listen == "" {
		if serve(r, workers, os.Stdin, os.Stdout) != nil {
			os.Exit(2)
		}
		return
	}
	os.Exit(keep(r, workers, *listen, *idle))
}

// serve answers one client's requests, in order, until its input ends.
func serve(r *renderer, workers chan struct{}, input io.Reader, output io.Writer) error {
	in := bufio.NewReaderSize(input, 1<<20)
	order := make(chan chan response, 1<<16)
	written := make(chan error, 1)
	go func() { written <- writeInOrder(order, output) }()
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
				if jerr := json.Unmarshal(line, &req); jerr != nil {
					resp = response{OK: false, Stderr: "Error: chartest-render: bad request: " + jerr.Error() + "\n"}
				} else if req.Op == "lint" {
					resp = r.lint(line) // lint.go
				} else if req.Op == "probes" {
					resp = r.probes(&req) // probes.go
				} else {
					resp = r.render(&req)
				}
				resp.ID = req.ID
				slot <- resp
			}(line)
		}
		if err != nil {
			close(order)
			werr := <-written
			if err == io.EOF {
				return werr
			}
			return err
		}
	}
}

// writeInOrder answers in the order of the requests, flushing before it waits for a render
// and whenever it caught up with the requests. Once the client is gone it only drains.
func writeInOrder(order chan chan response, output io.Writer) error {
	out := bufio.NewWriterSize(output, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var failed error
	for slot := range order {
		var resp response
		select {
		case resp = <-slot:
		default: // not rendered yet: hand over what is done before waiting for it
			if failed == nil {
				failed = out.Flush()
			}
			resp = <-slot
		}
		if failed != nil {
			continue
		}
		if err := enc.Encode(&resp); err != nil {
			resp.Docs = nil // Python parses the stream itself
			if failed = enc.Encode(&resp); failed != nil {
				continue
			}
		}
		if len(order) == 0 {
			failed = out.Flush()
		}
	}
	if failed == nil {
		failed = out.Flush()
	}
	return failed
}
