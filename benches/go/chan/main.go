// Channel workloads of gort's benches, for Go itself. Prints the elapsed nanoseconds for n
// operations (the unit of each workload is in its comment).
package main

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	bench := flag.String("bench", "pingpong", "pingpong | mpmc | select4 | create | uncontended")
	n := flag.Int("n", 100000, "operations to time")
	flag.Parse()
	var elapsed time.Duration
	switch *bench {
	case "pingpong": // unit: one round trip over an unbuffered channel pair
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		start := time.Now()
		for i := 0; i < *n; i++ {
			ping <- i
			<-pong
		}
		elapsed = time.Since(start)
		close(ping)
	case "mpmc": // unit: one message through a buffered(128) channel, 4 producers x 4 consumers
		c := make(chan int, 128)
		per := *n / 4
		var wg sync.WaitGroup
		start := time.Now()
		for p := 0; p < 4; p++ {
			go func() {
				for i := 0; i < per; i++ {
					c <- i
				}
			}()
		}
		wg.Add(4)
		for q := 0; q < 4; q++ {
			go func() {
				for i := 0; i < per; i++ {
					<-c
				}
				wg.Done()
			}()
		}
		wg.Wait()
		elapsed = time.Since(start)
	case "select4": // unit: one select over 4 receiving channels, each fed by its own goroutine
		var cs [4]chan int
		per := *n / 4
		for i := range cs {
			cs[i] = make(chan int, 128)
			go func(c chan int) {
				for j := 0; j < per; j++ {
					c <- j
				}
			}(cs[i])
		}
		start := time.Now()
		for i := 0; i < per*4; i++ {
			select {
			case <-cs[0]:
			case <-cs[1]:
			case <-cs[2]:
			case <-cs[3]:
			}
		}
		elapsed = time.Since(start)
	case "create": // unit: make one unbuffered channel (kept alive until the end, as Rust drops it)
		keep := make([]chan int, 0, 1024)
		start := time.Now()
		for i := 0; i < *n; i++ {
			keep = append(keep, make(chan int))
			if len(keep) == cap(keep) {
				keep = keep[:0]
			}
		}
		elapsed = time.Since(start)
	case "uncontended": // unit: one send + one receive on a buffered(1) channel, one goroutine
		c := make(chan int, 1)
		start := time.Now()
		for i := 0; i < *n; i++ {
			c <- i
			<-c
		}
		elapsed = time.Since(start)
	default:
		fmt.Fprintln(os.Stderr, "unknown -bench", *bench)
		os.Exit(2)
	}
	fmt.Println(elapsed.Nanoseconds())
}
