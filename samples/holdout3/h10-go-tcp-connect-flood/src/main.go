// loadcheck: a "capacity probe" that is a TCP connect flood (harmless re-enactment): 48
// goroutines open and drop 2400 connections to one documentation address on port 443, with no
// data sent. Bounded by the count and a 20-second deadline.
package main

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	target  = "203.0.113.80:443"
	total   = 2400
	workers = 48
)

func main() {
	var sent, ok int64
	deadline := time.Now().Add(20 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&sent, 1) <= total && time.Now().Before(deadline) {
				conn, err := net.DialTimeout("tcp", target, 2*time.Second)
				if err == nil {
					atomic.AddInt64(&ok, 1)
					conn.Close()
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("loadcheck: %d connections to %s\n", ok, target)
}
