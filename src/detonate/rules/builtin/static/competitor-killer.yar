rule competitor_killer
{
    meta:
        title = "Script kills competing miners"
        why = "A script kills processes or deletes files named like other miners and cryptojacking malware (kinsing, kdevtmpfsi, xmrig …) to keep the CPU for itself: behaviour of cryptojacking droppers, not of legitimate software."
        severity = "high"
        confidence = "high"
        category = "weaponization"
        technique = "T1562.001"

    strings:
        $kill = /(pkill|killall)[ \t]+(-[a-zA-Z0-9]+[ \t]+)*[^\n;|&]{0,40}(kinsing|kdevtmpfsi|xmrig|xmr-stak|minerd|cpuminer|sysupdate|networkservice|sysguard|kworkerds|dbused|ddgs|qW3xT|cryptonight|stratum)/ nocase
        $grep_kill = /grep[ \t]+[^\n|]{0,80}(kinsing|kdevtmpfsi|xmrig|minerd|sysupdate|networkservice|kworkerds|stratum|:3333|:4444|:5555)[^\n]{0,120}(kill|xargs)/ nocase
        $rm = /rm[ \t]+-[a-z]*f[a-z]*[ \t]+[^\n;|&]{0,40}\/(kinsing|kdevtmpfsi|xmrig|sysupdate|networkservice|kworkerds)\b/ nocase

    condition:
        filesize < 4MB and uint32(0) != 0x464c457f and (#kill + #grep_kill + #rm) >= 2
}
