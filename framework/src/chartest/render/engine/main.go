// Command chartest-render renders Helm charts the way `helm template` does, many times per process.
//
// It links helm's own library at the pinned version and runs pkg/action's Install in
// client-only dry-run mode, as cmd/helm/template.go does, so one process serves every
// render of a pytest session instead of starting helm (~65 ms) per values set.
//
// Protocol: one JSON request per line on stdin, one JSON response per line on stdout,
// in order. See request and response below; chartest/render/engine.py is the client.
package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log"
	"os"
)

func main() {
	// helm's main does this; its warnings (coalesce.go:...) carry the file name
	log.SetFlags(log.Lshortfile)
	r := newRenderer()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = response{OK: false, Stderr: "Error: chartest-render: bad request: " + jerr.Error() + "\n"}
			} else {
				resp = r.render(&req)
			}
			resp.ID = req.ID
			if werr := enc.Encode(&resp); werr != nil {
				resp.Docs = nil // Python parses the stream itself
				if enc.Encode(&resp) != nil {
					os.Exit(2)
				}
			}
			if in.Buffered() == 0 { // nothing else queued: let the client read this one now
				if ferr := out.Flush(); ferr != nil {
					os.Exit(2)
				}
			}
		}
		if err == io.EOF {
			_ = out.Flush()
			return
		}
		if err != nil {
			os.Exit(2)
		}
	}
}
