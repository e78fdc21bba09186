/* Waits 900 s as a countdown of short waits, each 10 ms or less, then mines:
 *
 *     warmup usleep   usleep(10000) 90,000 times (nanosleep of 10 ms)
 *     warmup poll     poll(NULL, 0, 5) 180,000 times
 *     warmup tenth    usleep(100000) 9,000 times (sub-second rounds: an event loop's tick
 *                     looks the same, round after round)
 *
 * Nothing happens between the rounds: a delay cut into pieces too short to be worth holding
 * one by one (the time keeper leaves single waits of 10 ms or less to the kernel), or that
 * come back as often as a server's tick.
 */
#include "wait.h"

#include <poll.h>
#include <string.h>

#define USLEEP_US 10000
#define POLL_MS 5
#define TENTH_US 100000

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: warmup usleep|poll|tenth\n");
        return 2;
    }
    if (strcmp(argv[1], "usleep") == 0) {
        long rounds = WAIT_SECONDS * 1000000L / USLEEP_US;
        wait_begins("usleep(10000) rounds");
        for (long i = 0; i < rounds; i++) usleep(USLEEP_US);
    } else if (strcmp(argv[1], "poll") == 0) {
        long rounds = WAIT_SECONDS * 1000L / POLL_MS;
        wait_begins("poll(NULL, 0, 5) rounds");
        for (long i = 0; i < rounds; i++) poll(NULL, 0, POLL_MS);
    } else if (strcmp(argv[1], "tenth") == 0) {
        long rounds = WAIT_SECONDS * 1000000L / TENTH_US;
        wait_begins("usleep(100000) rounds");
        for (long i = 0; i < rounds; i++) usleep(TENTH_US);
    } else {
        fprintf(stderr, "unknown form %s\n", argv[1]);
        return 2;
    }
    payload();
}
