// Hold-out handover countdowns in Go (detonate test sample; harmless): 900 s of sub-second
// rounds whose waiting moves between OS threads or runs beside a heartbeat, then an exec of the
// miner stand-in with a fake wallet (a re-enactment; the pool name is a .test name).
//
//	gohandover relay   3,600 rounds of a 250 ms time.NewTimer, each in a new goroutine that
//	                   locks itself to its OS thread and never unlocks (so that thread ends with
//	                   it), starting the next round's goroutine before it returns
//	gohandover ticker  main, locked to the process's first thread: 3,600 raw
//	                   syscall.Nanosleep(250 ms) rounds while a goroutine counts a 3 s
//	                   time.Ticker's ticks
//
// HANDOVER_SCALE=N divides the round count (host checks); HANDOVER_MINER replaces the miner.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	miner  = "/usr/local/bin/xmrig"
	pool   = "stratum+tcp://pool.handover.test:3333"
	wallet = "4HandoverFakeGoWa11etNotARealAddress00000000000000000000000000000000000000000000000000000"
	rounds = 3600
	round  = 250 * time.Millisecond
)

func init() { runtime.LockOSThread() } // main runs on the process's first thread

func scaled() int {
	scale, err := strconv.Atoi(os.Getenv("HANDOVER_SCALE"))
	if err != nil || scale < 1 {
		scale = 1
	}
	if n := rounds / scale; n > 0 {
		return n
	}
	return 1
}

func mine(what string) {
	path := os.Getenv("HANDOVER_MINER")
	if path == "" {
		path = miner
	}
	fmt.Printf("gohandover: %s done, starting the miner\n", what)
	err := syscall.Exec(path, []string{"xmrig", "-o", pool, "-u", wallet, "--shares", "1"}, os.Environ())
	fmt.Fprintln(os.Stderr, "exec:", err)
	os.Exit(1)
}

var relayed atomic.Int64

func relay(i, n int, done chan<- struct{}) {
	runtime.LockOSThread() // never unlocked: the OS thread exits with this goroutine
	relayed.Add(1)
	t := time.NewTimer(round)
	<-t.C
	if i+1 < n {
		go relay(i+1, n, done)
		return
	}
	close(done)
}

func runRelay() {
	n := scaled()
	fmt.Printf("gohandover: relay of %d goroutines, each on its own thread, %v each\n", n, round)
	done := make(chan struct{})
	go relay(0, n, done)
	<-done
	mine(fmt.Sprintf("relay (%d rounds)", relayed.Load()))
}

func runTicker() {
	n := scaled()
	var beats atomic.Int64
	stop := make(chan struct{})
	go func() {
		tk := time.NewTicker(3 * time.Second)
		defer tk.Stop()
		for b := 0; b < 100000; b++ {
			select {
			case <-tk.C:
				beats.Add(1)
			case <-stop:
				return
			}
		}
	}()
	fmt.Printf("gohandover: %d nanosleeps of %v beside a 3 s ticker\n", n, round)
	for i := 0; i < n; i++ {
		ts := syscall.NsecToTimespec(int64(round))
		var rem syscall.Timespec
		for tries := 0; tries < 1000; tries++ {
			if syscall.Nanosleep(&ts, &rem) != syscall.EINTR {
				break
			}
			ts = rem
		}
	}
	close(stop)
	mine(fmt.Sprintf("ticker (%d beats)", beats.Load()))
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		runRelay()
	} else if len(os.Args) > 1 && os.Args[1] == "ticker" {
		runTicker()
	}
	fmt.Fprintf(os.Stderr, "usage: %s relay|ticker\n", os.Args[0])
	os.Exit(2)
}
