// Held-out benign stand-in: a backup agent. Reads its own configuration (endpoint and basic
// auth from /etc/backupd/backupd.conf), tars and gzips the application's data directory in
// memory, and PUTs the archive and its SHA-256 to that endpoint under the host's name. Once.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func config(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		log.Fatalf("backupd: %v", err)
	}
	defer f.Close()
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		if k, v, ok := strings.Cut(scan.Text(), "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func archive(root string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		_ = tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(data)), ModTime: time.Now()})
		_, _ = tw.Write(data)
		return nil
	})
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func put(client *http.Client, url, user, pass string, body []byte) {
	req, _ := http.NewRequest("PUT", url, bytes.NewReader(body))
	req.SetBasicAuth(user, pass)
	resp, err := client.Do(req)
	if err != nil {
		log.Printf("backupd: upload %s: %v", url, err)
		return
	}
	resp.Body.Close()
	log.Printf("backupd: %s -> %s", url, resp.Status)
}

func main() {
	conf := config("/etc/backupd/backupd.conf")
	host, _ := os.Hostname()
	blob := archive(conf["source"])
	sum := sha256.Sum256(blob)
	stamp := time.Now().UTC().Format("20060102T150405Z")
	base := fmt.Sprintf("%s/%s/%s", strings.TrimRight(conf["endpoint"], "/"), host, stamp)
	client := &http.Client{Timeout: 10 * time.Second}
	put(client, base+".tar.gz", conf["user"], conf["password"], blob)
	put(client, base+".sha256", conf["user"], conf["password"], []byte(hex.EncodeToString(sum[:])+"\n"))
}
