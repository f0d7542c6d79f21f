// sync workloads of gort's benches, for Go itself. Prints the elapsed nanoseconds for n
// operations (the unit of each workload is in its comment).
//
//	go run ./sync -bench uncontended -n 10000000 # unit: one Lock+Unlock, one goroutine
//	go run ./sync -bench contended -n 1000000    # unit: one Lock+increment+Unlock, 8 goroutines share n
//	go run ./sync -bench waitgroup -n 100000     # unit: one goroutine of rounds of 1000 (Add, go, Done, Wait)
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	bench := flag.String("bench", "uncontended", "uncontended | contended | waitgroup")
	n := flag.Int("n", 1000000, "operations to time")
	flag.Parse()
	var elapsed time.Duration
	switch *bench {
	case "uncontended":
		var mu sync.Mutex
		counter := 0
		start := time.Now()
		for i := 0; i < *n; i++ {
			mu.Lock()
			counter++
			mu.Unlock()
		}
		elapsed = time.Since(start)
		if counter != *n {
			panic("lost increments")
		}
	case "contended":
		const workers = 8
		var mu sync.Mutex
		var wg sync.WaitGroup
		counter := 0
		per := *n / workers
		start := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				for i := 0; i < per; i++ {
					mu.Lock()
					counter++
					mu.Unlock()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		elapsed = time.Since(start)
		if counter != per*workers {
			panic("lost increments")
		}
	case "waitgroup":
		const group = 1000
		rounds := (*n + group - 1) / group
		start := time.Now()
		for r := 0; r < rounds; r++ {
			var wg sync.WaitGroup
			for i := 0; i < group; i++ {
				wg.Add(1)
				go func() { wg.Done() }()
			}
			wg.Wait()
		}
		elapsed = time.Since(start)
	default:
		fmt.Fprintln(os.Stderr, "unknown -bench", *bench)
		os.Exit(2)
	}
	fmt.Println(elapsed.Nanoseconds())
}
