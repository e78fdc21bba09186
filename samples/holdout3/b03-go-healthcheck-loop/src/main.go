// healthd: a sidecar that serves the app's /healthz on localhost and checks it and one upstream
// dependency every second, five times, logging each result (benign look-alike of a beacon).
package main

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

func check(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		return "down (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	return resp.Status
}

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:8081")
	if err != nil {
		fmt.Println("healthd:", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	go http.Serve(listener, mux) //nolint:errcheck
	client := &http.Client{Timeout: 3 * time.Second}
	for i := 0; i < 5; i++ {
		fmt.Printf("healthd: self %s, inventory-api %s\n",
			check(client, "http://127.0.0.1:8081/healthz"),
			check(client, "http://inventory-api.internal.test:8080/healthz"))
		time.Sleep(time.Second)
	}
}
