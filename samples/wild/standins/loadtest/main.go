// Wild-set benign stand-in: a load test against the service's own loopback listener, as a CI
// smoke step does. Starts an HTTP handler on 127.0.0.1:8088, then 8 workers send requests
// as fast as they can for 3 s, and it prints the request rate and exits.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:8088")
	if err != nil {
		panic(err)
	}
	go http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}))
	var done int64
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 2 * time.Second}
			for time.Now().Before(stop) {
				resp, err := client.Get("http://127.0.0.1:8088/api/v1/items?page=1")
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("loadtest: %d requests in 3s (%.0f/s)\n", done, float64(done)/3)
}
