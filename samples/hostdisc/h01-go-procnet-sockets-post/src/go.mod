module example.test/kubeproxysidecar

go 1.19
