package main

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// logs routes the standard logger's lines (helm's warnings) to the render running on the
// goroutine that wrote them, so concurrent renders each report their own, as the CLI would.
var logs = &logRouter{buffers: map[uint64]*bytes.Buffer{}}

type logRouter struct {
	mu      sync.Mutex
	buffers map[uint64]*bytes.Buffer
}

// collect sends this goroutine's log lines to buf until the returned function is called.
func (l *logRouter) collect(buf *bytes.Buffer) func() {
	id := goroutineID()
	l.mu.Lock()
	l.buffers[id] = buf
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.buffers, id)
		l.mu.Unlock()
	}
}

// discard drops this goroutine's log lines until the returned function restores where they went.
func (l *logRouter) discard() func() {
	id := goroutineID()
	l.mu.Lock()
	previous, had := l.buffers[id]
	delete(l.buffers, id)
	l.mu.Unlock()
	return func() {
		if had {
			l.mu.Lock()
			l.buffers[id] = previous
			l.mu.Unlock()
		}
	}
}

func (l *logRouter) Write(p []byte) (int, error) {
	id := goroutineID()
	l.mu.Lock()
	defer l.mu.Unlock()
	if buf, ok := l.buffers[id]; ok {
		buf.Write(p)
	}
	return len(p), nil
}

// goroutineID reads the current goroutine's number from its stack header ("goroutine 42 [...").
func goroutineID() uint64 {
	var b [64]byte
	s := b[:runtime.Stack(b[:], false)]
	s = bytes.TrimPrefix(s, []byte("goroutine "))
	if i := bytes.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	id, _ := strconv.ParseUint(string(s), 10, 64)
	return id
}
