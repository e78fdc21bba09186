// Waits 900 s the way Go programs do (the runtime parks in futex and epoll_pwait with
// timeouts, and reads its clock through the vDSO), checks with time.Since that the time
// passed, then drops /tmp/payload-go-<form>. A harmless stand-in for a delayed miner.
//
//	waiter-go sleep|after|ticker
package main

import (
	"os"
	"time"
)

func main() {
	start := time.Now()
	switch os.Args[1] {
	case "sleep":
		time.Sleep(900 * time.Second)
	case "after":
		select {
		case <-time.After(900 * time.Second):
		}
	case "ticker":
		t := time.NewTicker(300 * time.Second)
		for i := 0; i < 3; i++ {
			<-t.C
		}
	default:
		os.Exit(2)
	}
	if time.Since(start) < 900*time.Second {
		os.Exit(3) // "the sleep was cut short: a sandbox"
	}
	os.WriteFile("/tmp/payload-go-"+os.Args[1], []byte("ran\n"), 0o644)
}
