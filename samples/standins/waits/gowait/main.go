// Waits 900 s the way Go programs do, then mines (detonate test sample; harmless, fake wallet).
//
//	gowait sleep    time.Sleep
//	gowait after    time.After in a select with a channel nobody sends on
//	gowait ticker   the first tick of a time.NewTicker
//	gowait short    time.Sleep(10 ms) 90,000 times: a countdown of short waits
//
// Go's runtime waits in futex and epoll_pwait with timeouts, on whichever of its threads is
// idle, never in nanosleep. After the wait the process becomes the miner stand-in
// (/usr/local/bin/xmrig) logging in to a .test pool with a fake wallet.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

const (
	wait   = 900 * time.Second
	short  = 10 * time.Millisecond // the short form's round
	pool   = "stratum+tcp://pool.waits.test:3333"
	wallet = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gowait sleep|after|ticker|short")
		os.Exit(2)
	}
	fmt.Printf("waiting %.0f s with %s\n", wait.Seconds(), os.Args[1])
	started := time.Now()
	switch os.Args[1] {
	case "sleep":
		time.Sleep(wait)
	case "after":
		never := make(chan struct{})
		select {
		case <-never:
		case <-time.After(wait):
		}
	case "short":
		for i := 0; i < int(wait/short); i++ {
			time.Sleep(short)
		}
	case "ticker":
		ticker := time.NewTicker(wait)
		<-ticker.C
		ticker.Stop()
	default:
		fmt.Fprintf(os.Stderr, "unknown form %q\n", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("waited %.1f s; starting the miner\n", time.Since(started).Seconds())
	argv := []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}
	err := syscall.Exec("/usr/local/bin/xmrig", argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec /usr/local/bin/xmrig:", err)
	os.Exit(127)
}
