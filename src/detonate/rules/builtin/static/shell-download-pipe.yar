rule shell_download_pipe
{
    meta:
        title = "Script pipes a download into a shell"
        why = "A script fetches code with curl or wget and runs it directly in a shell: the payload is whatever the server sends at run time."
        severity = "medium"
        confidence = "medium"
        category = "initial-execution"
        technique = "T1105"

    strings:
        $shebang = "#!" ascii
        $pipe = /(curl|wget)[ \t][^|;&\n]{1,300}\|[ \t]*(sudo[ \t]+)?(\/usr)?(\/bin\/)?(ba|da|z|k)?sh\b/
        $subst = /(ba|da|z)?sh[ \t]+-c[ \t]+["']?\$\([ \t]*(curl|wget)[ \t]/

    condition:
        filesize < 1MB and $shebang at 0 and ($pipe or $subst)
}
