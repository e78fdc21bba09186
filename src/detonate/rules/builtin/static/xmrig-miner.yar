rule xmrig_miner
{
    meta:
        title = "Cryptocurrency miner program or source (XMRig-like strings)"
        why = "The file carries the strings of a CPU miner: stratum pool protocol, mining algorithms (RandomX, CryptoNight) and miner options such as donate-level. Whatever its name, it mines."
        severity = "high"
        confidence = "high"
        category = "collection-exfiltration"
        technique = "T1496"

    strings:
        // One regex rather than two nocase strings: its atom can be "://" (no letters, so no
        // case variants); with the two strings, yara-x searched large binaries 3-4x slower.
        $stratum = /stratum\+(tcp|ssl):\/\// ascii wide nocase
        $login = "\"method\":\"login\"" ascii
        $submit = "mining.submit" ascii
        $subscribe = "mining.subscribe" ascii
        $algo_rx = "randomx" ascii nocase
        $algo_cn = "cryptonight" ascii nocase
        $algo_rx0 = "rx/0" ascii
        $algo_argon = "argon2/chukwa" ascii
        $opt_donate = "donate-level" ascii
        $opt_nicehash = "nicehash" ascii
        $opt_cpu_max = "max-threads-hint" ascii
        $opt_huge = "huge-pages" ascii
        $name = "xmrig" ascii nocase

    condition:
        filesize < 64MB and
        (any of ($stratum*, $login, $submit, $subscribe)) and
        (any of ($algo*)) and
        (2 of ($opt*, $name))
}
