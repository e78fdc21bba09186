import "elf"

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
        (uint32(0) == 0x464c457f and uint16(16) == 3 and filesize < 2MB and
         not for any i in (0..elf.number_of_segments - 1) : (elf.segments[i].type == elf.PT_INTERP) and
         $readdir and $readdir64 and $dlsym and $proc_fd and $proc_stat)
        or (filesize < 1MB and $write_preload)
}
