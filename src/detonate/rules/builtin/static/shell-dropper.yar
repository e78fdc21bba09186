rule shell_dropper
{
    meta:
        title = "Script downloads a binary, makes it executable and runs it"
        why = "The download, chmod +x and launch of a file in one script is the shape of a dropper: the program that runs is not part of the image."
        severity = "high"
        confidence = "medium"
        category = "initial-execution"
        technique = "T1105"

    strings:
        $shebang = "#!" ascii
        $download = /(curl|wget)[ \t][^\n]{0,200}(-o|-O|--output|>)[ \t]*["']?[\/.$A-Za-z0-9_{}-]/
        $chmod = /chmod[ \t]+(-[a-zA-Z]+[ \t]+)*([ugoa]*\+[rw]*x|0?[0-7]?[1357][0-7][0-7])[ \t]/
        $run_nohup = "nohup " ascii
        $run_setsid = "setsid " ascii
        $run_bg = " &\n" ascii
        $run_path = /(^|[;&|\n][ \t]*)(\.\/|\/tmp\/|\/var\/tmp\/|\/dev\/shm\/)[A-Za-z0-9._-]+/

    condition:
        filesize < 1MB and $shebang at 0 and $download and $chmod and any of ($run*)
}
