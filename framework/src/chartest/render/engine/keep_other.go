//go:build !unix

package main

import (
	"fmt"
	"os"
	"time"
)

// keep needs unix sockets and flock; chartest starts a child engine per session here instead.
func keep(r *renderer, workers chan struct{}, path string, idle time.Duration) int {
	fmt.Fprintln(os.Stderr, "chartest-render: -listen needs a unix system")
	return 1
}
