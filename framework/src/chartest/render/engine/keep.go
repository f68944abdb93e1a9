//go:build unix

package main

import (
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// keep serves every client of the unix socket at path until none has been connected for idle.
// The engine holding path+".lock" owns the socket; one started beside it exits at once.
func keep(r *renderer, workers chan struct{}, path string, idle time.Duration) int {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartest-render:", err)
		return 1
	}
	defer lock.Close() // the lock is held until the engine exits
	if syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return 0 // another engine owns the socket
	}
	_ = os.Remove(path) // left by an engine that died
	ln, err := net.Listen("unix", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartest-render:", err)
		return 1
	}
	var mu sync.Mutex
	var clients sync.WaitGroup
	connected := 0
	timer := time.AfterFunc(idle, func() {
		mu.Lock()
		defer mu.Unlock()
		if connected == 0 {
			ln.Close() // Accept returns; the socket file goes with the listener
		}
	})
	for {
		conn, err := ln.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		connected++
		timer.Stop()
		mu.Unlock()
		clients.Add(1)
		go func() {
			defer clients.Done()
			_ = serve(r, workers, conn, conn)
			conn.Close()
			mu.Lock()
			connected--
			if connected == 0 {
				timer.Reset(idle)
			}
			mu.Unlock()
		}()
	}
	clients.Wait()
	return 0
}
