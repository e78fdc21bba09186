// queue-worker: names the user it runs as in its first log line (one lookup of its own uid and
// gid; without cgo, os/user scans /etc/passwd and /etc/group for them), writes a pid file and
// works through a short fake queue.
package main

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"time"
)

func main() {
	who := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	group := strconv.Itoa(os.Getgid())
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	fmt.Printf("queue-worker: pid %d running as %s:%s\n", os.Getpid(), who, group)
	if err := os.WriteFile("/tmp/queue-worker.pid", []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		fmt.Println("queue-worker: pid file:", err)
	}
	for job := 1; job <= 3; job++ {
		time.Sleep(500 * time.Millisecond)
		fmt.Printf("queue-worker: job %d done\n", job)
	}
	os.Remove("/tmp/queue-worker.pid")
}
