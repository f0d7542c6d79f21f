// Memory per parked goroutine: starts N goroutines blocked on one channel and prints what
// they added, per goroutine: resident memory (from /proc/self/statm) plus the page tables
// that map it (VmPTE in /proc/self/status), RSS alone beside it, and the time it took to
// start them all and see them parked. Then closes the channel and waits for them. Peer of
// examples/rss_per_goroutine.rs (same output format); benches/compare.sh runs both.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
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

// pageTables returns VmPTE in bytes.
func pageTables() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmPTE") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	runtime.GC()
	before, beforePT := rss(), pageTables()
	start := time.Now()
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
	took := time.Since(start)
	after, afterPT := rss(), pageTables()
	r := float64(after-before) / float64(n) / 1024
	pt := float64(afterPT-beforePT) / float64(n) / 1024
	fmt.Printf("go    %8d goroutines parked: %.2f KiB RSS+PT each (%.2f KiB RSS, %.2f KiB page tables; %.3f s to park them)\n",
		n, r+pt, r, pt, took.Seconds())
	close(ch)
	done.Wait()
}
