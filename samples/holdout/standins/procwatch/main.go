// Held-out benign stand-in: a process supervisor. Starts its two workers, then every 5 s walks
// /proc, picks the processes whose parent is itself from /proc/PID/status, and logs each
// one's command line and resident memory (as a memory-limit watchdog would); after three
// rounds it stops them with SIGTERM and waits.
package main

import (
	"bufio"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func status(pid string) map[string]string {
	out := map[string]string{}
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return out
	}
	defer f.Close()
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		if k, v, ok := strings.Cut(scan.Text(), ":"); ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func children() {
	me := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		st := status(e.Name())
		if st["PPid"] != me {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		log.Printf("worker %s %q rss=%s", e.Name(), strings.ReplaceAll(string(cmd), "\x00", " "), st["VmRSS"])
	}
}

func main() {
	var workers []*exec.Cmd
	for _, queue := range []string{"emails", "thumbnails"} {
		cmd := exec.Command("/bin/sh", "-c", "while :; do sleep 1; done", "worker-"+queue)
		if err := cmd.Start(); err != nil {
			log.Fatalf("supervisor: %v", err)
		}
		workers = append(workers, cmd)
	}
	for round := 0; round < 3; round++ {
		time.Sleep(5 * time.Second)
		children()
	}
	for _, w := range workers {
		_ = w.Process.Signal(syscall.SIGTERM)
		_ = w.Wait()
	}
	log.Print("supervisor: workers stopped")
}
