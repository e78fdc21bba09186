"""A stratum client written from the protocol description (THREATS.md §Stratum), run inside the
sample's namespace: logs in, waits for pushed jobs, submits a share, prints what it saw."""

import json
import socket
import sys

dialect, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
sock = socket.create_connection((host, port), timeout=5)
lines = sock.makefile("rb")


def send(message):
    sock.sendall(json.dumps(message).encode() + b"\n")


def receive():
    return json.loads(lines.readline())


job_ids = []
if dialect == "xmrig":
    send(
        {
            "id": 1,
            "jsonrpc": "2.0",
            "method": "login",
            "params": {
                "login": "4FAKEWALLETxxxxxxxxxxxxxxxxxxxx.rig7",
                "pass": "x",
                "rigid": "rig-7",
                "agent": "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0",
                "algo": ["rx/0", "cn/r"],
            },
        }
    )
    answer = receive()
    job_ids.append(answer["result"]["job"]["job_id"])
    while len(job_ids) < 3:
        pushed = receive()
        assert pushed["method"] == "job"
        job_ids.append(pushed["params"]["job_id"])
    send(
        {
            "id": 2,
            "method": "submit",
            "params": {
                "id": answer["result"]["id"],
                "job_id": job_ids[-1],
                "nonce": "deadbeef",
                "result": "00" * 32,
            },
        }
    )
    while (reply := receive()).get("id") != 2:
        pass
    status = reply["result"]["status"]
    send({"id": 3, "method": "keepalived", "params": {"id": answer["result"]["id"]}})
else:
    send({"id": 1, "method": "mining.subscribe", "params": ["cpuminer/2.5.1"]})
    subscribed = receive()
    assert subscribed["result"][1]
    send({"id": 2, "method": "mining.authorize", "params": ["bc1qfakewallet.worker2", "pw"]})
    status = "authorized" if receive()["result"] is True else "refused"
    while len(job_ids) < 2:
        pushed = receive()
        if pushed.get("method") == "mining.notify":
            job_ids.append(pushed["params"][0])
    send(
        {
            "id": 3,
            "method": "mining.submit",
            "params": ["bc1qfakewallet.worker2", job_ids[-1], "00000000", "5f5e1000", "12345678"],
        }
    )
print(json.dumps({"job_ids": job_ids, "status": status}))
sock.close()
