// Scheduler workloads of gort's benches, for Go itself. Prints the elapsed nanoseconds.
//
//	go run ./sched -bench spawn -n 1000000   # spawn+exit n goroutines, WaitGroup join
//	go run ./sched -bench yield -n 1000000   # n Gosched switches between 2 goroutines, GOMAXPROCS=1
//	go run ./sched -bench spawn-handles -n 1000000
//	    # spawn n goroutines from main, each closing its own done channel (Go's stand-in for a
//	    # join handle), then receive from every done channel in spawn order
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

func main() {
	bench := flag.String("bench", "spawn", "spawn | yield | spawn-handles")
	n := flag.Int("n", 1000000, "operations to time")
	flag.Parse()
	var elapsed time.Duration
	switch *bench {
	case "spawn":
		var wg sync.WaitGroup
		start := time.Now()
		for i := 0; i < *n; i++ {
			wg.Add(1)
			go func() { wg.Done() }()
		}
		wg.Wait()
		elapsed = time.Since(start)
	case "spawn-handles":
		start := time.Now()
		done := make([]chan struct{}, *n)
		for i := range done {
			c := make(chan struct{})
			done[i] = c
			go func() { close(c) }()
		}
		for _, c := range done {
			<-c
		}
		elapsed = time.Since(start)
	case "yield":
		runtime.GOMAXPROCS(1)
		per := *n / 2
		var wg sync.WaitGroup
		wg.Add(2)
		start := time.Now()
		for j := 0; j < 2; j++ {
			go func() {
				for i := 0; i < per; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		elapsed = time.Since(start)
	default:
		fmt.Fprintln(os.Stderr, "unknown -bench", *bench)
		os.Exit(2)
	}
	fmt.Println(elapsed.Nanoseconds())
}
