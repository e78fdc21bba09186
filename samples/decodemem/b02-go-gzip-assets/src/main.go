// inventory-web (benign look-alike): the web assets are embedded gzip'd and base64'd; at
// start-up they are decoded and gunzipped in memory, served on 127.0.0.1:8080, and the server
// fetches its own pages once as a readiness check, then exits.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

var packed = map[string]string{
	"/":        "H4sIAAAAAAACA02OQQrDMAwE732F+oGIlh4V3/uM1FaxiWIbSxT8+5i6h14WdmGGpWso3npliHaIo1/yFhxZMmH3zB/OVlonnANJyjs0llWtC2tkNoiN3ytutS5e1RFOw6uEPmy3f8loVN3jDsn4UEgZ1IrfF8I6uEng98blBOfzaROdAAAA",
	"/app.css": "H4sIAAAAAAACA0vKT6msTsvPK9FNS8zNzKm0Kk7MK9YtTi3KTLPOTSxKz8yzMkrNrc0wrE7Oz8kvslI2NjYzs7Ss5QIAMcT3XjkAAAA=",
}

func unpack(text string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func main() {
	assets := map[string][]byte{}
	for name, text := range packed {
		body, err := unpack(text)
		if err != nil {
			fmt.Fprintln(os.Stderr, "inventory-web: bad asset", name, err)
			os.Exit(1)
		}
		assets[name] = body
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, ok := assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/app.css" {
			w.Header().Set("Content-Type", "text/css")
		}
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventory-web:", err)
		os.Exit(1)
	}
	go func() { _ = http.Serve(ln, mux) }()
	fmt.Println("inventory-web: listening on 127.0.0.1:8080")
	for _, page := range []string{"/", "/app.css"} {
		res, err := http.Get("http://127.0.0.1:8080" + page)
		if err == nil {
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			fmt.Printf("inventory-web: ready check %s %d (%d bytes)\n", page, res.StatusCode, n)
		}
	}
	time.Sleep(2 * time.Second)
}
