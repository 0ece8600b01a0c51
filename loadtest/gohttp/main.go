// gohttp — the Go net/http twin of examples/hello.cc (same routes and
// flags), for run.sh.
//
//	./gohttp --addr 127.0.0.1:47381 --procs 1
//	curl http://127.0.0.1:47381/plaintext      # Hello, World!
//	curl -d hi http://127.0.0.1:47381/echo     # hi
//	./gohttp --addr 127.0.0.1:47381 --procs 1 --cert cert.pem --key key.pem
//	curl -k https://127.0.0.1:47381/plaintext  # the same over TLS
//
// GET (or HEAD) / and /plaintext answer 200 text/plain "Hello, World!";
// POST /echo answers the request's body (up to 1 MiB, else 413); GET /abort
// sends the head and part of the body, flushes, then aborts the request with
// panic(http.ErrAbortHandler) (net/http's quiet abort, the twin of hello's
// Goexit: the connection is cut mid-answer); other paths are 404, other
// methods 405. --procs sets GOMAXPROCS (0 leaves Go's
// default). --cert and --key (PEM files, both or neither) serve HTTPS with
// ServeTLS and crypto/tls's defaults, as examples/https_hello's twin:
// TLS 1.3 preferred, session tickets on, and for TLS 1.3 Go's own suite
// order (TLS_AES_128_GCM_SHA256 first where the CPU has AES-GCM), which no
// setting changes. On SIGINT or SIGTERM it closes the listener and every
// connection, and exits 0.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
)

var hello = []byte("Hello, World!")

// plaintext: the header map is filled directly (no canonicalising Set) and
// the Content-Type is explicit, so Go does not sniff the body.
func plaintext(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = []string{"GET, HEAD"}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/plain"}
	h["Content-Length"] = []string{strconv.Itoa(len(hello))}
	w.Write(hello)
}

const maxEcho = 1 << 20

// echo reads the whole body first, so the answer has a Content-Length (and
// no chunking) like the hello answers.
func echo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{"POST"}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEcho))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "bad body", http.StatusBadRequest)
		}
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	h := w.Header()
	h["Content-Type"] = []string{ct}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.Write(body)
}

// abort: hello's /abort. Go's answer has no Content-Length after a flush,
// so it is chunked, and the cut leaves the client without its last chunk.
func abort(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header()["Allow"] = []string{"GET"}
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header()["Content-Type"] = []string{"text/plain"}
	io.WriteString(w, "partial response, then the handler aborts\n")
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: Go's default)")
	cert := flag.String("cert", "", "certificate PEM file: serve HTTPS (with --key)")
	key := flag.String("key", "", "private key PEM file (with --cert)")
	flag.Parse()
	if flag.NArg() > 0 || *procs < 0 || (*cert == "") != (*key == "") {
		fmt.Fprintln(os.Stderr, "usage: gohttp [--addr host:port] [--procs n] [--cert file --key file]")
		os.Exit(2)
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/plaintext", plaintext)
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("/abort", abort)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		plaintext(w, r)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gohttp: listen %s: %v\n", *addr, err)
		os.Exit(1)
	}
	scheme := "http"
	if *cert != "" {
		scheme = "https"
	}
	fmt.Printf("gohttp: listening on %s (%s, GOMAXPROCS %d)\n", ln.Addr(), scheme, runtime.GOMAXPROCS(0))

	srv := &http.Server{Handler: mux}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		srv.Close()
	}()
	if *cert != "" {
		// A certificate that does not load fails here, before any request.
		err = srv.ServeTLS(ln, *cert, *key)
	} else {
		err = srv.Serve(ln)
	}
	if !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(os.Stderr, "gohttp: serve: %v\n", err)
		os.Exit(1)
	}
}
