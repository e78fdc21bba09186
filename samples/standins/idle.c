/* Stand-in decoy process (detonate test sample; harmless): does nothing until a signal, or
 * until SIGALRM after 25 s. Copied into images under the names of other malware (kinsing,
 * xmrig …) so that a competitor killer has something to kill. It uses alarm + pause, not
 * sleep, because the sandbox skips long sleeps and the decoy must stay alive meanwhile.
 */
#include <unistd.h>

int main(void) {
    alarm(25);
    pause();
    return 0;
}
