// Wild-set benign stand-in: a metrics scraper (prometheus-agent-like). Every 15 s it GETs
// /metrics from the targets in its config and appends the sample count to a local file;
// after a few rounds it compacts the file. Runs forever.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	raw, err := os.ReadFile("/etc/scraper/targets")
	if err != nil {
		panic(err)
	}
	targets := strings.Fields(string(raw))
	client := &http.Client{Timeout: 5 * time.Second}
	_ = os.MkdirAll("/var/lib/scraper", 0o755)
	for round := 0; ; round++ {
		out, _ := os.OpenFile("/var/lib/scraper/samples.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		for _, target := range targets {
			resp, err := client.Get("http://" + target + "/metrics")
			if err != nil {
				fmt.Fprintf(out, "%d %s down\n", round, target)
				continue
			}
			n := 0
			lines := bufio.NewScanner(io.LimitReader(resp.Body, 1<<20))
			for lines.Scan() {
				if !strings.HasPrefix(lines.Text(), "#") {
					n++
				}
			}
			resp.Body.Close()
			fmt.Fprintf(out, "%d %s up samples=%d\n", round, target, n)
		}
		out.Close()
		time.Sleep(15 * time.Second)
	}
}
