// Context workloads of gort's benches/context.rs, for Go itself (after Go's
// src/context/benchmark_test.go). Prints the elapsed nanoseconds for n operations (the
// unit of each workload is in its comment), or with -bench allocs the allocations per
// operation of the create+cancel workloads.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const fanout, depth = 10, 4 // 10 + 100 + 1000 + 10000 = 11,110 contexts below the root

// buildTree derives fanout children per context, depth levels deep; returns the leaves.
func buildTree(root context.Context) []context.Context {
	level := []context.Context{root}
	for d := 0; d < depth; d++ {
		next := make([]context.Context, 0, len(level)*fanout)
		for _, p := range level {
			for i := 0; i < fanout; i++ {
				c, cancel := context.WithCancel(p)
				_ = cancel // the root's cancel ends it
				next = append(next, c)
			}
		}
		level = next
	}
	return level
}

// cancelTree: build the tree, park a goroutine on each leaf's Done, cancel the root, wait
// until every goroutine has woken. Returns (whole, cancel-to-all-woken).
func cancelTree() (time.Duration, time.Duration) {
	start := time.Now()
	root, cancel := context.WithCancel(context.Background())
	leaves := buildTree(root)
	var wg sync.WaitGroup
	var started int64
	wg.Add(len(leaves))
	for _, l := range leaves {
		go func(l context.Context) {
			done := l.Done()
			atomic.AddInt64(&started, 1)
			<-done
			wg.Done()
		}(l)
	}
	for atomic.LoadInt64(&started) != int64(len(leaves)) {
		runtime.Gosched()
	}
	runtime.Gosched()
	c := time.Now()
	cancel()
	wg.Wait()
	end := time.Now()
	return end.Sub(start), end.Sub(c)
}

func main() {
	bench := flag.String("bench", "cancel_tree", "cancel_tree | cancel_tree_wake | with_cancel | with_timeout | check_canceled | deep_value | allocs")
	n := flag.Int("n", 100, "operations to time")
	dep := flag.Int("depth", 100, "deep_value: chain length")
	flag.Parse()
	var elapsed time.Duration
	switch *bench {
	case "cancel_tree": // unit: one whole tree: build, park 10,000 goroutines, cancel, all woken
		for i := 0; i < *n; i++ {
			whole, _ := cancelTree()
			elapsed += whole
		}
	case "cancel_tree_wake": // unit: cancel the root of a built tree until all 10,000 woke
		for i := 0; i < *n; i++ {
			_, wake := cancelTree()
			elapsed += wake
		}
	case "with_cancel": // unit: WithCancel(parent) + cancel, parent a cancelable context
		parent, pc := context.WithCancel(context.Background())
		start := time.Now()
		for i := 0; i < *n; i++ {
			_, cancel := context.WithCancel(parent)
			cancel()
		}
		elapsed = time.Since(start)
		pc()
	case "with_timeout": // unit: WithTimeout(Background, 1h) + cancel
		start := time.Now()
		for i := 0; i < *n; i++ {
			_, cancel := context.WithTimeout(context.Background(), time.Hour)
			cancel()
		}
		elapsed = time.Since(start)
	case "check_canceled": // unit: one Err() on a canceled context
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		for i := 0; i < *n; i++ {
			if ctx.Err() == nil {
				panic("not canceled")
			}
		}
		elapsed = time.Since(start)
	case "deep_value": // unit: one lookup of a missing key through -depth WithValue layers
		ctx := context.Background()
		for i := 0; i < *dep; i++ {
			ctx = context.WithValue(ctx, i, i)
		}
		start := time.Now()
		for i := 0; i < *n; i++ {
			if ctx.Value(-1) != nil {
				panic("found")
			}
		}
		elapsed = time.Since(start)
	case "allocs":
		bg := context.Background()
		parent, pc := context.WithCancel(bg)
		defer pc()
		fmt.Printf("WithCancel(bg)+cancel %.1f\n", testing.AllocsPerRun(1000, func() {
			_, cancel := context.WithCancel(bg)
			cancel()
		}))
		fmt.Printf("WithCancel(parent)+cancel %.1f\n", testing.AllocsPerRun(1000, func() {
			_, cancel := context.WithCancel(parent)
			cancel()
		}))
		fmt.Printf("WithCancel(bg)+Done+cancel %.1f\n", testing.AllocsPerRun(1000, func() {
			c, cancel := context.WithCancel(bg)
			<-func() <-chan struct{} { d := c.Done(); cancel(); return d }()
		}))
		fmt.Printf("WithTimeout(bg,1h)+cancel %.1f\n", testing.AllocsPerRun(1000, func() {
			_, cancel := context.WithTimeout(bg, time.Hour)
			cancel()
		}))
		return
	default:
		fmt.Fprintln(os.Stderr, "unknown bench", *bench)
		os.Exit(2)
	}
	fmt.Println(elapsed.Nanoseconds())
}
