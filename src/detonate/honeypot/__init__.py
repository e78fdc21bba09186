"""honeypot: a Docker Engine API that attackers find and use. It answers like a daemon, runs
nothing, records every request in the store and turns each deployment into a queued scan.
See `server.Honeypot` and docs/honeypot.md."""
