"""config-agent (benign look-alike): the orchestrator hands the app's configuration sections as
base64 environment variables (APP_CONF_<NAME>); the agent decodes each one in memory, writes it
to /etc/app/<name>.conf (0640), checks that each parses, and then starts the application
(/usr/local/bin/inventory-app, shipped in the image, not decoded) which reads them."""

import base64
import configparser
import os
import subprocess
import sys

PREFIX = "APP_CONF_"


def main() -> int:
    os.makedirs("/etc/app", exist_ok=True)
    written = []
    for key in sorted(os.environ):
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX):].lower()
        text = base64.b64decode(os.environ[key]).decode("utf-8")
        parser = configparser.ConfigParser()
        parser.read_string(text)
        path = f"/etc/app/{name}.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w") as out:
            out.write(text)
        written.append(path)
        print(f"config-agent: {path}: sections {parser.sections()}", flush=True)
    if not written:
        print("config-agent: no configuration given", flush=True)
        return 1
    return subprocess.run(["/usr/local/bin/inventory-app"], timeout=30).returncode


if __name__ == "__main__":
    sys.exit(main())
