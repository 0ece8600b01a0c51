// gonet — the Go twin of net_bench.cc (same modes, flags and output), for
// bench_net.sh. Each mode prints `name value unit` lines.
//
//	GOMAXPROCS=1 ./gonet pingpong -n 100000                # PingPong64 <ns per round trip> ns
//	./gonet throughput -conns 100 -secs 3 -size 4096       # Echo100 <MB/s echoed> MB/s
//	./gonet accept-server -addr 127.0.0.1:47311 &          # AcceptRate <accepts/s> /s, AcceptCPU <ns> ns
//	./gonet accept-client -addr 127.0.0.1:47311 -secs 3    # bench_net.sh uses net_bench's client for both
//	./gonet idle -conns 5000                                # IdleConnRSS <bytes per idle connection> B
//
// A watchdog ends any mode still running after -timeout seconds (default
// 60) with exit status 3: a hang fails the run instead of blocking.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "gonet: %s: %v\n", what, err)
	os.Exit(1)
}

// pingPong: one connection; the client writes 64 bytes, a server goroutine
// echoes them, the client reads them back: ns per round trip.
func pingPong(n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fail("dial", err)
	}
	s, err := ln.Accept()
	if err != nil {
		fail("accept", err)
	}
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return // EOF: the client is done
			}
			if _, err := s.Write(buf); err != nil {
				fail("pingpong server write", err)
			}
		}
	}()
	msg, back := bytes.Repeat([]byte{'p'}, 64), make([]byte, 64)
	roundTrips := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := c.Write(msg); err != nil {
				fail("pingpong write", err)
			}
			if _, err := io.ReadFull(c, back); err != nil {
				fail("pingpong read", err)
			}
		}
		if !bytes.Equal(msg, back) {
			fail("pingpong", errors.New("echo differs from what was sent"))
		}
	}
	roundTrips(n / 10) // warm-up
	t0 := time.Now()
	cpu0 := cpuSeconds()
	roundTrips(n)
	fmt.Printf("PingPong64 %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(n))
	fmt.Printf("PingPong64CPU %.1f ns\n", (cpuSeconds()-cpu0)*1e9/float64(n))
	c.Close()
}

// throughput: an echo server and `conns` clients, each writing `size` bytes
// and reading them back, for `secs`: MB/s (10^6 bytes) the clients got back.
func throughput(conns int, secs float64, size int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				fail("echo accept", err)
			}
			go func() {
				defer c.Close()
				buf := make([]byte, size)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return // EOF: the client is done
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}()
		}
	}()

	var got atomic.Int64
	var stop atomic.Bool
	var ready, done sync.WaitGroup
	start := make(chan struct{}) // closed when every client has connected
	ready.Add(conns)
	done.Add(conns)
	for i := 0; i < conns; i++ {
		go func(i int) {
			defer done.Done()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				fail("dial", err)
			}
			defer c.Close()
			msg, back := bytes.Repeat([]byte{byte('a' + i%26)}, size), make([]byte, size)
			ready.Done()
			<-start
			for !stop.Load() {
				if _, err := c.Write(msg); err != nil {
					fail("echo client write", err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					fail("echo client read", err)
				}
				if !bytes.Equal(msg, back) {
					fail("echo client", errors.New("echo differs from what was sent"))
				}
				got.Add(int64(size))
			}
		}(i)
	}
	ready.Wait()
	close(start)
	t0 := time.Now()
	cpu0 := cpuSeconds()
	time.Sleep(time.Duration(secs * float64(time.Second)))
	n := got.Load()
	elapsed := time.Since(t0).Seconds()
	cpu := cpuSeconds() - cpu0
	stop.Store(true)
	done.Wait()
	ln.Close()
	fmt.Printf("Echo%d %.1f MB/s\n", conns, float64(n)/elapsed/1e6)
	fmt.Printf("Echo%dCPU %.1f ns\n", conns, cpu*1e9/(float64(n)/4096))
}

func cpuSeconds() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return float64(u.Utime.Sec+u.Stime.Sec) + float64(u.Utime.Usec+u.Stime.Usec)/1e6
}

// acceptServer: the client's first connection is its control connection;
// every later one is accepted and closed at once. A "q" on the control
// connection ends the run: accepts per second between the first and last
// accept, and the server's CPU time (all threads, user + system) per accept
// over the same span.
func acceptServer(addr string, timeout time.Duration) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fail("listen", err)
	}
	ctl, err := ln.Accept()
	if err != nil {
		fail("accept (control)", err)
	}

	var n, errs int64
	var first, last time.Time
	var cpu0 float64
	var loop sync.WaitGroup
	loop.Add(1)
	go func() {
		defer loop.Done()
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				if errs++; errs == 1000 {
					fail("accept", err)
				}
				continue
			}
			last = time.Now()
			if n == 0 {
				first = last
				cpu0 = cpuSeconds()
			}
			n++
			c.Close()
		}
	}()

	ctl.SetReadDeadline(time.Now().Add(timeout))
	q := make([]byte, 1)
	if _, err := ctl.Read(q); err != nil {
		fail("read (control)", err)
	}
	if q[0] != 'q' {
		fail("read (control)", errors.New(`want "q", got another byte`))
	}
	cpu := cpuSeconds() - cpu0
	ln.Close()
	loop.Wait()
	if n < 2 {
		fail("accept-server", errors.New("fewer than two connections accepted"))
	}
	span := last.Sub(first).Seconds()
	fmt.Printf("AcceptRate %.0f /s\n", float64(n-1)/span)
	fmt.Printf("AcceptCPU %.0f ns\n", cpu*1e9/float64(n-1))
	fmt.Fprintf(os.Stderr, "accept-server: %d accepts in %.2f s, %d accept errors\n", n, span, errs)
}

// dialPlain is a blocking connect() with SO_LINGER{1,0}, so close sends RST.
func dialPlain(sa *syscall.SockaddrInet4) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket", err)
	}
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &syscall.Timeval{Sec: 10})
	if err := syscall.Connect(fd, sa); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// acceptClient: plain blocking connect()/close() for `secs`, after a control
// connection (retried for up to 10 s while the server starts); then "q" on
// the control connection, and wait for the server to close it. The same
// loop as net_bench's accept-client, with the Go runtime around it.
func acceptClient(addr string, secs float64, timeout time.Duration) {
	tcp, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil || tcp.IP.To4() == nil {
		fail("-addr", fmt.Errorf("want an IPv4 host:port, got %s", addr))
	}
	sa := &syscall.SockaddrInet4{Port: tcp.Port}
	copy(sa.Addr[:], tcp.IP.To4())
	ctl := -1
	for t0 := time.Now(); ctl < 0; time.Sleep(10 * time.Millisecond) {
		if ctl, err = dialPlain(sa); ctl < 0 && (err != syscall.ECONNREFUSED || time.Since(t0) > 10*time.Second) {
			fail("connect (control)", err)
		}
	}
	n := 0
	t0 := time.Now()
	for end := t0.Add(time.Duration(secs * float64(time.Second))); time.Now().Before(end); n++ {
		fd, err := dialPlain(sa)
		if err != nil {
			fail("connect", err)
		}
		syscall.Close(fd)
	}
	elapsed := time.Since(t0).Seconds()
	if _, err := syscall.Write(ctl, []byte("q")); err != nil {
		fail("send (control)", err)
	}
	syscall.SetsockoptTimeval(ctl, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: int64(timeout / time.Second)})
	if _, err := syscall.Read(ctl, make([]byte, 1)); err != nil {
		fail("recv (control): waiting for the server to finish", err)
	}
	syscall.Close(ctl)
	fmt.Fprintf(os.Stderr, "accept-client: %d connections in %.2f s (%.0f /s)\n", n, elapsed, float64(n)/elapsed)
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("statm", err)
	}
	var pages, rss int64
	fmt.Sscan(string(b), &pages, &rss)
	return rss * int64(os.Getpagesize())
}

// idle: conns connections in the process, each with a server goroutine
// waiting in Read with a 4 KiB buffer (net/http's bufio.Reader size): RSS
// per idle connection, both ends included.
func idle(conns int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen", err)
	}
	var clients []net.Conn
	var parked atomic.Int64
	var done sync.WaitGroup
	one := func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fail("dial", err)
		}
		s, err := ln.Accept()
		if err != nil {
			fail("accept", err)
		}
		clients = append(clients, c)
		done.Add(1)
		go func() {
			defer done.Done()
			parked.Add(1)
			buf := make([]byte, 4096)
			s.Read(buf)
			s.Close()
		}()
	}
	one()
	time.Sleep(100 * time.Millisecond)
	before := rssBytes()
	for i := 0; i < conns; i++ {
		one()
	}
	for parked.Load() < int64(conns+1) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	after := rssBytes()
	fmt.Printf("IdleConnRSS %.0f B\n", float64(after-before)/float64(conns))
	for _, c := range clients {
		c.Close()
	}
	done.Wait()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gonet pingpong|throughput|accept-server|accept-client|idle\n"+
		"         [-n N] [-conns C] [-secs S] [-size BYTES] [-addr HOST:PORT] [-timeout SECS]")
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	fs.Usage = usage
	n := fs.Int("n", 100000, "pingpong: timed round trips")
	conns := fs.Int("conns", 100, "throughput: client connections")
	secs := fs.Float64("secs", 3, "throughput, accept-client: how long")
	size := fs.Int("size", 4096, "throughput: bytes per write")
	addr := fs.String("addr", "127.0.0.1:47311", "accept-*: the server's address")
	timeoutSecs := fs.Int("timeout", 60, "watchdog, seconds")
	fs.Parse(os.Args[2:])
	if *n < 1 || *conns < 1 || *secs <= 0 || *size < 1 || *timeoutSecs < 1 || fs.NArg() > 0 {
		usage()
	}
	timeout := time.Duration(*timeoutSecs) * time.Second
	time.AfterFunc(timeout, func() {
		fmt.Fprintf(os.Stderr, "gonet %s: still running after %d s (-timeout): giving up\n", mode, *timeoutSecs)
		os.Exit(3)
	})
	switch mode {
	case "pingpong":
		pingPong(*n)
	case "throughput":
		throughput(*conns, *secs, *size)
	case "accept-server":
		acceptServer(*addr, timeout)
	case "accept-client":
		acceptClient(*addr, *secs, timeout)
	case "idle":
		idle(*conns)
	default:
		usage()
	}
}
