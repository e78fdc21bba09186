// Wild-set benign stand-in: an in-container job scheduler (supercronic-like). Reads a
// crontab-ish table of "every SECONDS COMMAND" lines and runs each job through /bin/sh on its
// period, logging to stdout, forever (an idle timer loop between jobs).
package main

import (
	"bufio"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

type job struct {
	every   time.Duration
	command string
}

func main() {
	f, err := os.Open("/etc/scheduler/jobs")
	if err != nil {
		log.Fatal(err)
	}
	var jobs []job
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		fields := strings.SplitN(strings.TrimSpace(lines.Text()), " ", 3)
		if len(fields) != 3 || fields[0] != "every" {
			continue
		}
		seconds, err := strconv.Atoi(fields[1])
		if err == nil && seconds > 0 {
			jobs = append(jobs, job{time.Duration(seconds) * time.Second, fields[2]})
		}
	}
	f.Close()
	for _, j := range jobs {
		go func(j job) {
			for range time.NewTicker(j.every).C {
				out, err := exec.Command("/bin/sh", "-c", j.command).CombinedOutput()
				log.Printf("job %q: %v %s", j.command, err, strings.TrimSpace(string(out)))
			}
		}(j)
	}
	select {}
}
