// goclient — the Go net/http twin of loadtest/client_bench.cc, for
// bench_client.sh: `-conns` goroutines share one http.Client and send GETs
// back to back (each reads its body to the end and closes it, so the
// connection goes back to the pool) until `-requests` have been answered.
//
//	./goclient --url http://127.0.0.1:27480/ --conns 64 --requests 200000 --procs 1
//	requests=200000 errors=0 seconds=3.901 rps=51269 dials=64
//
// The Transport keeps `conns` idle connections per host (Go's default of 2
// would dial and close all the time, which is not what is measured).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/", "the URL to GET")
	conns := flag.Int("conns", 64, "goroutines (and connections)")
	requests := flag.Int64("requests", 100000, "requests in all")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: Go's default)")
	flag.Parse()
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	var dials int64
	dialer := &net.Dialer{Timeout: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			atomic.AddInt64(&dials, 1)
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		IdleConnTimeout:     90 * time.Second,
	}
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var errors int64
	one := func() bool {
		resp, err := client.Get(*url)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return false
		}
		return resp.StatusCode == 200
	}
	var wg sync.WaitGroup
	for g := 0; g < *conns; g++ { // warm-up: every connection dialled before the clock starts
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !one() {
				atomic.AddInt64(&errors, 1)
			}
		}()
	}
	wg.Wait()
	left := *requests
	t0 := time.Now()
	for g := 0; g < *conns; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&left, -1) >= 0 {
				if !one() {
					atomic.AddInt64(&errors, 1)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	fmt.Printf("requests=%d errors=%d seconds=%.3f rps=%.0f dials=%d\n", *requests, errors, secs,
		float64(*requests)/secs, atomic.LoadInt64(&dials))
	if errors != 0 {
		os.Exit(1)
	}
}
