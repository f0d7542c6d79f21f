// Lateness of a 1 ms ticker goroutine while other goroutines misbehave, GOMAXPROCS=2: Go's
// twin of gort's examples/ticker_lateness.rs.
//
//	go run ./ticker syscalls   # 4 goroutines blocked in read(2) on an empty pipe
//	go run ./ticker hogs       # 4 goroutines spinning on the CPU
//	go run ./ticker sleeps     # 1000 goroutines in a 500 ms nanosleep(2) system call
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

func main() {
	mode := "none"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	ticks := 2000
	if len(os.Args) > 2 {
		ticks, _ = strconv.Atoi(os.Args[2])
	}
	runtime.GOMAXPROCS(2)
	var sleepers chan time.Duration
	if mode == "sleeps" || mode == "sleeps-marked" { // Go marks every system call itself
		sleepers = make(chan time.Duration, 1)
		begin := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < 1000; i++ {
			wg.Add(1)
			go func() {
				ts := syscall.NsecToTimespec(int64(500 * time.Millisecond))
				syscall.Nanosleep(&ts, nil) // a blocking system call, as std::thread::sleep
				wg.Done()
			}()
		}
		go func() {
			wg.Wait()
			sleepers <- time.Since(begin)
		}()
	}
	stop := false
	for i := 0; i < 4; i++ {
		switch mode {
		case "syscalls":
			go func() {
				var fds [2]int
				syscall.Pipe(fds[:])
				b := make([]byte, 1)
				syscall.Read(fds[0], b) // blocks forever
			}()
		case "hogs":
			go func() {
				for !stop {
				}
			}()
		}
	}
	start := time.Now()
	late := make([]int64, 0, ticks)
	for k := 1; k <= ticks; k++ {
		due := start.Add(time.Duration(k) * time.Millisecond)
		time.Sleep(time.Until(due))
		late = append(late, time.Since(due).Microseconds())
	}
	stop = true
	if sleepers != nil {
		fmt.Printf("1000 sleepers of 500 ms done in %dms\n", (<-sleepers).Milliseconds())
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	pct := func(p float64) int64 { return late[int(float64(len(late)-1)*p)] }
	fmt.Printf("go %s: %d ticks of 1 ms, lateness p50=%dus p99=%dus max=%dus\n", mode, ticks, pct(0.5), pct(0.99), late[len(late)-1])
}
