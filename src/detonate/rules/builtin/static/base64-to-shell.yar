rule base64_to_shell
{
    meta:
        title = "Base64-decoded code is executed"
        why = "A file decodes a base64 blob and runs it (piped to a shell, eval or exec): the real code is hidden from anyone reading the file."
        severity = "high"
        confidence = "high"
        category = "weaponization"
        technique = "T1140"

    strings:
        $shell = /base64[ \t]+(-[a-zA-Z]*d[a-zA-Z]*|--decode)[^;&\n]{0,200}\|[ \t]*(sudo[ \t]+)?(\/usr)?(\/bin\/)?(ba|da|z|k)?sh\b/
        $eval = /eval[ \t]+["']?\$\([^)\n]{0,400}base64[ \t]+(-[a-zA-Z]*d[a-zA-Z]*|--decode)/
        $py = /exec\([ \t]*(base64\.)?b64decode\(/
        $php = /eval\([ \t]*(gzinflate\([ \t]*)?base64_decode\(/ nocase

    condition:
        filesize < 8MB and any of them
}
