rule kinsing_style_setup
{
    meta:
        title = "Cryptojacking setup script (disables defences, tunes the host for mining)"
        why = "A script does several things cryptojacking droppers like kinsing do before starting a miner: turns off SELinux, the firewall or the NMI watchdog, raises limits, wipes history, makes files immutable, grabs SSH keys to spread."
        severity = "high"
        confidence = "medium"
        category = "weaponization"
        technique = "T1562.001"

    strings:
        $selinux = /setenforce[ \t]+0/
        $selinux_cfg = "SELINUX=disabled" ascii
        $ufw = /ufw[ \t]+disable/
        $iptables = /iptables[ \t]+(-F|--flush)/
        $watchdog = "nmi_watchdog" ascii
        $hugepages = "vm.nr_hugepages" ascii
        // [0-9]{5,} written so that no four digit classes follow each other: yara-x took its
        // atoms from those (every four digits of a file), and this string cost 20x a literal.
        $ulimit = /ulimit[ \t]+-n[ \t]+[0-9]{3}[0-9]*[0-9]{2}/
        $history = /history[ \t]+-c|unset[ \t]+HISTFILE|HISTFILE=\/dev\/null/
        $chattr = /chattr[ \t]+[+-][ai]/
        $ssh_keys = /known_hosts|\.ssh\/id_rsa/
        $aliyun = /aliyun|qcloud|yunjing|aegis/ nocase
        $drop_caches = "drop_caches" ascii

    condition:
        filesize < 4MB and uint32(0) != 0x464c457f and 4 of them
}
