// Command chartest-echo serves the routing tier's local backends: one loopback HTTP server per
// Service:port name, each answering with its own name and the raw path it received.
//
// Usage: chartest-echo [-certificate DIR] NAME...  (prints one JSON object {NAME: URL, ...} on
// stdout, then serves until its stdin closes, so it ends with the Python process that started it)
//
// With -certificate it first writes DIR/tls.crt and DIR/tls.key (certificate.go) for the local
// Traefik's default TLS store.
//
// Every answer carries X-Chartest-Backend: NAME and X-Chartest-Path: the request target up to
// its query, as received; a websocket upgrade is completed (101 with the RFC 6455 accept key)
// with the same headers, then the connection is closed. A real proxy in front of them thus
// tells, for each request, who served it and with which path. chartest.routing.backends has the
// same servers in Python, used where this program cannot be built; this one spares the Python
// process the work of the other end of every request.
package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

const (
	backendHeader = "X-Chartest-Backend"
	pathHeader    = "X-Chartest-Path"
	wsGUID        = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

func main() {
	certificate := flag.String("certificate", "", "write a throwaway TLS certificate and key into this directory")
	flag.Parse()
	if *certificate != "" {
		if err := writeCertificate(*certificate); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	urls := map[string]string{}
	for _, name := range flag.Args() {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		urls[name] = "http://" + listener.Addr().String()
		go http.Serve(listener, echo(name)) //nolint:errcheck // ends with the process
	}
	if err := json.NewEncoder(os.Stdout).Encode(urls); err != nil {
		os.Exit(1)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // the parent is gone when its end of stdin closes
}

// echo answers every request with name and the raw path it received.
func echo(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		path, _, _ := strings.Cut(r.RequestURI, "?")
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			upgrade(w, r, name, path)
			return
		}
		w.Header().Set(backendHeader, name)
		w.Header().Set(pathHeader, path)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", fmt.Sprint(len(name)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, name) // nothing is written for HEAD
	})
}

// upgrade completes a websocket handshake, then closes the connection.
func upgrade(w http.ResponseWriter, r *http.Request, name, path string) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + wsGUID))
	writeUpgrade(buf.Writer, base64.StdEncoding.EncodeToString(sum[:]), name, path)
}

func writeUpgrade(out *bufio.Writer, accept, name, path string) {
	fmt.Fprintf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\n%s: %s\r\n%s: %s\r\n\r\n", accept, backendHeader, name, pathHeader, path)
	_ = out.Flush()
}
