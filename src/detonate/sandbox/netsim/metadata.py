"""A cloud instance metadata service (AWS IMDSv1/v2, GCP, Azure, ECS) at its link-local
addresses, so clients get text where they expect text: an IMDSv2 session token for
`PUT /latest/api/token`, the instance's id, region and zone, a role name, and fake role
credentials (documentation-style values, never real keys). Without it every path got the
generic stand-in (an ELF for an extensionless path), and IMDSv2 clients that put the token in a
header failed."""

from __future__ import annotations

import json

from detonate.sandbox.netsim.payloads import Payload

ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200"})
ROLE = "detonate-instance-role"
TOKEN = "AQAEAdetonateIMDSv2sessiontoken0000000000000000000000000000=="
VALUES = {
    "instance-id": "i-0d3f0a1b2c3d4e5f6",
    "ami-id": "ami-0a1b2c3d4e5f60718",
    "instance-type": "t3.medium",
    "local-hostname": "ip-10-0-0-12.ec2.internal",
    "hostname": "ip-10-0-0-12.ec2.internal",
    "local-ipv4": "10.0.0.12",
    "region": "us-east-1",
    "availability-zone": "us-east-1a",
}
CREDENTIALS = {
    "Code": "Success",
    "Type": "AWS-HMAC",
    "AccessKeyId": "ASIADETONATEEXAMPLE0",
    "SecretAccessKey": "detonate/fake/secret/key/EXAMPLEKEY000000",
    "Token": "detonate-fake-session-token",
    "Expiration": "2030-01-01T00:00:00Z",
}


def is_metadata(dst_ip: str) -> bool:
    return dst_ip in ADDRESSES


def answer(method: str, target: str) -> Payload:
    path = "/" + target.split("?", 1)[0].lstrip("/")
    if path == "/latest/api/token":
        return _text(TOKEN) if method == "PUT" else _text("", status=405)
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "/security-credentials" in path or path.startswith("/v2/credentials"):
        if path.endswith("/security-credentials/") or path.endswith("/security-credentials"):
            return _text(ROLE)
        return _json(CREDENTIALS)
    if "/service-accounts/" in path and last in ("token", "identity"):
        return _json({"access_token": "ya29.detonate-fake-token", "expires_in": 3599})
    if path.startswith("/metadata/identity"):
        return _json({"access_token": "eyJ0eXAi.detonate-fake.token", "expires_in": "3599"})
    if path.startswith("/metadata/instance"):
        return _json({"compute": {"location": "eastus", "vmId": "0d3f0a1b-detonate"}})
    if path.startswith("/latest/dynamic/instance-identity/document"):
        return _json({"instanceId": VALUES["instance-id"], "region": VALUES["region"]})
    return _text(VALUES.get(last, last or "latest"))


def _text(body: str, status: int = 200) -> Payload:
    return Payload("text", "text/plain", body.encode(), status=status)


def _json(value: object) -> Payload:
    return Payload("json", "application/json", json.dumps(value).encode())
