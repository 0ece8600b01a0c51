// gobench — the Go twins of runtime_bench.cc, for bench_runtime.sh.
//
//	GOMAXPROCS=1 ./gobench        # one "name ns-per-op" line per benchmark
//	./gobench -rss 10000          # RSS per parked goroutine
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func spawnExit(b *testing.B) {
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		wg.Add(1000)
		for i := 0; i < 1000; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
	}
}

func gosched(b *testing.B) {
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			for i := 0; i < 1000; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
		for i := 0; i < 1000; i++ {
			runtime.Gosched()
		}
		wg.Wait()
	}
}

func deferGoexit(b *testing.B) {
	for n := 0; n < b.N; n++ {
		var wg sync.WaitGroup
		wg.Add(1000)
		for i := 0; i < 1000; i++ {
			go func() {
				defer wg.Done()
				runtime.Goexit()
			}()
		}
		wg.Wait()
	}
}

func chanPingPong(b *testing.B) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	for n := 0; n < b.N; n++ {
		for i := 0; i < 1000; i++ {
			ping <- i
			<-pong
		}
	}
	close(ping)
}

var sink int64

func chanBuffered(b *testing.B) {
	for n := 0; n < b.N; n++ {
		ch := make(chan int, 128)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			for i := 0; i < 1000; i++ {
				ch <- i
			}
			close(ch)
			wg.Done()
		}()
		var sum int64
		for v := range ch {
			sum += int64(v)
		}
		sink += sum
		wg.Wait()
	}
}

func mutexUncontended(b *testing.B) {
	var mu sync.Mutex
	var n int64
	for k := 0; k < b.N; k++ {
		for i := 0; i < 1000; i++ {
			mu.Lock()
			n++
			mu.Unlock()
		}
	}
	sink += n
}

func select4(b *testing.B) {
	var c [4]chan int
	for i := range c {
		c[i] = make(chan int, 1)
	}
	var sum int64
	for n := 0; n < b.N; n++ {
		for i := 0; i < 1000; i++ {
			select {
			case c[i&3] <- i:
			default:
			}
			select {
			case v := <-c[0]:
				sum += int64(v)
			case v := <-c[1]:
				sum += int64(v)
			case v := <-c[2]:
				sum += int64(v)
			case v := <-c[3]:
				sum += int64(v)
			}
		}
	}
	sink += sum
}

func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	f := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func rssPerParked(n int) {
	var gate, started sync.WaitGroup
	gate.Add(1)
	runtime.GC()
	before := rssBytes()
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			gate.Wait()
		}()
	}
	started.Wait()
	fmt.Printf("rss_per_parked_goroutine %d\n", (rssBytes()-before)/int64(n))
	gate.Done()
}

func main() {
	rss := flag.Int("rss", 0, "measure RSS per parked goroutine with this many goroutines")
	flag.Parse()
	if *rss > 0 {
		rssPerParked(*rss)
		return
	}
	for _, bm := range []struct {
		name string
		fn   func(*testing.B)
	}{{"SpawnExit", spawnExit}, {"Gosched", gosched}, {"DeferGoexit", deferGoexit},
		{"ChanPingPong", chanPingPong}, {"ChanBuffered", chanBuffered},
		{"MutexUncontended", mutexUncontended}, {"Select4", select4}} {
		r := testing.Benchmark(bm.fn)
		// Per goroutine (or per Gosched call): each op is 1000 of them.
		fmt.Printf("%s %.1f\n", bm.name, float64(r.T.Nanoseconds())/float64(r.N)/1000)
	}
}
