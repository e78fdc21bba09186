/* Waits with select() on no descriptors and a 900 s timeout (the classic portable sleep),
 * then mines. */
#include "wait.h"

#include <sys/select.h>

int main(void) {
    struct timeval delay = {WAIT_SECONDS, 0};
    wait_begins("select");
    select(0, NULL, NULL, NULL, &delay);
    payload();
}
