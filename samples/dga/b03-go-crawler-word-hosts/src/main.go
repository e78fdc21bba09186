// crawler: a benign look-alike. A small site checker reads robots.txt from the ten word-named
// hosts of its seed list, once each, and prints the status; it stops after the list.
package main

import (
	"fmt"
	"net/http"
	"time"
)

var seeds = []string{
	"garden-tools.example", "river-books.test", "maple-press.example", "harbor-news.test",
	"copper-kettle.example", "quiet-lake.test", "blue-orchard.example", "stone-bridge.test",
	"paper-lantern.example", "north-market.test",
}

func main() {
	client := &http.Client{Timeout: 8 * time.Second}
	for _, host := range seeds {
		resp, err := client.Get("http://" + host + "/robots.txt")
		if err != nil {
			fmt.Println("crawler:", host, err)
			continue
		}
		resp.Body.Close()
		fmt.Println("crawler:", host, resp.StatusCode)
		time.Sleep(300 * time.Millisecond)
	}
}
