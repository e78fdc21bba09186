rule miner_config
{
    meta:
        title = "Miner configuration file (pools, wallet, algorithm)"
        why = "A JSON configuration in the shape XMRig and its forks read: a pools list with url and user (the wallet), plus mining settings. Shipping it means a miner is expected to run."
        severity = "high"
        confidence = "high"
        category = "collection-exfiltration"
        technique = "T1496"

    strings:
        $pools = /"pools"\s*:\s*\[/
        $url = /"url"\s*:\s*"[^"]{1,200}:[0-9]{2,5}"/
        $user = /"user"\s*:\s*"[^"]{1,300}"/
        $algo = /"(algo|coin|randomx|cpu|donate-level|rig-id|nicehash|keepalive)"\s*:/

    condition:
        filesize < 1MB and $pools and $url and $user and #algo >= 2
}
