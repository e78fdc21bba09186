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
        // download, then chmod within 400 bytes, then a launch within 400 bytes of the chmod
        filesize < 256KB and $shebang at 0 and
        for any i in (1..#download) : (
            for any j in (1..#chmod) : (
                @chmod[j] > @download[i] and @chmod[j] - @download[i] < 400 and
                for any of ($run*) : (@ > @chmod[j] and @ - @chmod[j] < 400)
            )
        )
}
