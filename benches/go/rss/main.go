// RSS per parked goroutine: starts N goroutines blocked on one channel, measures the
// resident set (from /proc/self/statm) before and after, then closes the channel and
// waits for them. Peer of examples/rss_per_goroutine.rs; run all with benches/go/rss/run.sh.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	runtime.GC()
	before := rss()
	ch := make(chan struct{})
	var parked, done sync.WaitGroup
	parked.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			parked.Done()
			<-ch
			done.Done()
		}()
	}
	parked.Wait()
	after := rss()
	fmt.Printf("go    %8d goroutines parked: %.2f KiB RSS each\n", n, float64(after-before)/float64(n)/1024)
	close(ch)
	done.Wait()
}
