rule ld_preload_process_hider
{
    meta:
        title = "LD_PRELOAD library that hides processes or a script that installs one"
        why = "A small shared library that overrides readdir to filter /proc entries (it calls the real readdir through dlsym), or a script writing /etc/ld.so.preload: the user-land rootkit technique that hides miners from ps and top."
        severity = "high"
        confidence = "high"
        category = "weaponization"
        technique = "T1574.006"

    strings:
        $readdir = "readdir" ascii
        $readdir64 = "readdir64" ascii
        $dlsym = "dlsym" ascii
        $proc_fd = "/proc/self/fd/" ascii
        $proc_stat = /\/proc\/%[sd]\/(stat|status|cmdline|comm)/
        $write_preload = /(>>?|tee( -a)?)[ \t]*\/etc\/ld\.so\.preload/

    condition:
        // A shared library (ET_DYN without an interpreter: not a PIE program such as ip or ps).
        // The program headers are read directly (PT_INTERP = 3): the elf module would parse
        // every file of the tree, ELF or not, and cost more than the rest of the scan.
        // The size bound comes first so that larger files need not be scanned for this rule.
        filesize < 2MB and
        ((uint32(0) == 0x464c457f and uint16(16) == 3 and
          $readdir and $readdir64 and $dlsym and $proc_fd and $proc_stat and
          ((uint8(4) == 2 and
            not for any i in (0..uint16(0x38) - 1) : (uint32(uint32(0x20) + i * uint16(0x36)) == 3)) or
           (uint8(4) == 1 and
            not for any i in (0..uint16(0x2C) - 1) : (uint32(uint32(0x1C) + i * uint16(0x2A)) == 3))))
         or (filesize < 1MB and $write_preload))
}
