// Go's net echo server: the peer of gort's echo bench (benches/net.sh, benches/compare.sh).
// Usage: echo ADDR [deadline]   (e.g. 127.0.0.1:7100); serves until killed. With
// "deadline" (the timers workload) every Read comes after a fresh 60 s SetReadDeadline.
package main

import (
	"fmt"
	"net"
	"os"
	"time"
)

func serve(c net.Conn, deadline bool) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		if deadline {
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
		}
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	addr := "127.0.0.1:7100"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	deadline := len(os.Args) > 2 && os.Args[2] == "deadline"
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("go echo: serving on", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go serve(c, deadline)
	}
}
