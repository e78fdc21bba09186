/* detonate RB variant stand-in (harmless): an IRC bot over TLS on 6697 (TLS by busybox
 * ssl_client, see net.h) with a [OS|arch|id] nick, joins a keyed channel, reports once,
 * answers PINGs for a few lines and quits. */
#include "../../standins/net.h"
#include <sys/utsname.h>

int main(int argc, char **argv) {
    const char *server = argc > 1 ? argv[1] : "chat.fastnode-irc.test";
    int fd = dial_tls(server, 6697);
    if (fd < 0) return 1;
    struct utsname u;
    uname(&u);
    char nick[64], line[512];
    snprintf(nick, sizeof nick, "[LNX|%s|%04x]", u.machine, (unsigned)getpid() & 0xffff);
    snprintf(line, sizeof line, "NICK %s\r\nUSER u%04x 8 * :%s\r\n", nick, (unsigned)getpid(), u.release);
    write_text(fd, line);
    struct line_reader reader = {.fd = fd};
    for (int i = 0; i < 12 && read_line(&reader, line, sizeof line) >= 0; i++) {
        if (!strncmp(line, "PING", 4)) {
            line[1] = 'O';
            strcat(line, "\r\n");
            write_text(fd, line);
        }
        if (strstr(line, " 001 ") || i == 3) {
            write_text(fd, "JOIN #b0ts s3cr3t\r\nPRIVMSG #b0ts :ready\r\n");
            break;
        }
    }
    write_text(fd, "QUIT :\r\n");
    close(fd);
    return 0;
}
