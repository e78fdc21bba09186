// Holdout 2 benign stand-in: a service with a real health checker. It serves /healthz on
// :8080 and, every 10 s for six rounds, checks itself over loopback, dials its database's port
// and asks an upstream API for /status, writing the result to /run/health.json. Then it keeps
// serving until stopped.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

type result struct {
	Self     bool   `json:"self"`
	Database bool   `json:"database"`
	Upstream int    `json:"upstream"`
	At       string `json:"at"`
}

func check(client *http.Client) result {
	r := result{At: time.Now().UTC().Format(time.RFC3339)}
	if resp, err := client.Get("http://127.0.0.1:8080/healthz"); err == nil {
		r.Self = resp.StatusCode == 200
		resp.Body.Close()
	}
	if c, err := net.DialTimeout("tcp", "orders-db.internal.test:5432", 2*time.Second); err == nil {
		r.Database = true
		c.Close()
	}
	if resp, err := client.Get("http://inventory-api.internal.test/status"); err == nil {
		r.Upstream = resp.StatusCode
		resp.Body.Close()
	}
	return r
}

func main() {
	http.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	go func() { _ = http.ListenAndServe(":8080", nil) }()
	client := &http.Client{Timeout: 3 * time.Second}
	_ = os.MkdirAll("/run", 0o755) // a scratch image may not have it
	for round := 0; round < 6; round++ {
		time.Sleep(10 * time.Second)
		data, _ := json.Marshal(check(client))
		_ = os.WriteFile("/run/health.json", data, 0o644)
	}
	select {}
}
