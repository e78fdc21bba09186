/* Stand-in for a CPU miner (detonate test sample; harmless, fake wallet, no real pool).
 *
 * It speaks just enough stratum to look like xmrig or cpuminer to a pool: Monero style
 * (login / job / submit / keepalived) or Bitcoin style (mining.subscribe / mining.authorize /
 * mining.notify / mining.submit), over TCP or, for stratum+ssl, over busybox ssl_client.
 * It reads the pool's replies as JSON, whatever spacing the pool's encoder uses. Between shares
 * it burns about a second of CPU on a meaningless hash loop. It submits --shares shares (1 to
 * 16, default 4), then exits 0; 1 when the pool never hands it a job. Never runs over 30 s.
 *
 *   miner -o stratum+tcp://pool.test:3333 -u WALLET [-p PASS] [-a ALGO] [--btc]
 *         [--name "[kworker/0:1]"] [--shares N] [-c CONFIG]
 * CONFIG holds the same settings as key=value lines (url, user, pass, algo, agent, name,
 * protocol=btc, shares), which is how disguised miners avoid telling ps their pool.
 */
#include "net.h"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#define MAX_SHARES 16 /* a stand-in: a handful of shares shows the behaviour */

struct settings {
    char url[256], user[160], pass[64], algo[32], agent[96], name[64];
    int btc, shares;
};

static void set_value(struct settings *s, const char *key, const char *value) {
#define SET(field) snprintf(s->field, sizeof s->field, "%s", value)
    if (!strcmp(key, "url")) SET(url);
    else if (!strcmp(key, "user")) SET(user);
    else if (!strcmp(key, "pass")) SET(pass);
    else if (!strcmp(key, "algo")) SET(algo);
    else if (!strcmp(key, "agent")) SET(agent);
    else if (!strcmp(key, "name")) SET(name);
    else if (!strcmp(key, "protocol")) s->btc = !strcmp(value, "btc");
    else if (!strcmp(key, "shares")) s->shares = atoi(value);
#undef SET
}

static void read_config(struct settings *s, const char *path) {
    /* url=stratum+ssl://pool.test:443 */
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#') continue;
        *eq = 0;
        eq[strcspn(eq + 1, "\r\n") + 1] = 0;
        set_value(s, line, eq + 1);
    }
    fclose(f);
}

/* What ps shows from now on: comm and the whole argv area become `name`. */
static void rename_self(int argc, char **argv, const char *name) {
    char *end = argv[argc - 1] + strlen(argv[argc - 1]);
    size_t room = (size_t)(end - argv[0]);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    memset(argv[0], 0, room);
    strncpy(argv[0], name, room);
}

/* A second of pointless arithmetic: enough for "sustained CPU", not enough to hurt. */
static uint32_t burn(uint32_t seed) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t x = seed | 1;
    do {
        for (int i = 0; i < 2000000; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 900);
    return (uint32_t)x;
}

static const char *skip_space(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

/* The closing quote of the JSON string whose opening quote is at `p` (escapes skipped). */
static const char *string_end(const char *p) {
    for (p++; *p; p++) {
        if (*p == '\\' && p[1]) p++;
        else if (*p == '"') return p;
    }
    return NULL;
}

/* Copy into out the string value of the first "key" (at any depth) that has one, or the first
 * element of its array value; 0 if none. Tokens are walked as JSON is written by any encoder,
 * spaces or none, so a key is never matched inside a value. From the pool:
 *   {"id": 1, "jsonrpc": "2.0", "result": {"id": "9f2c", "job": {"job_id": "0000000a"}}}
 *   {"id": null, "method": "mining.notify", "params": ["1a", "00ab…", …]} */
static int json_string(const char *json, const char *key, char *out, size_t size) {
    size_t key_len = strlen(key);
    for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
        const char *end = string_end(p);
        if (!end) return 0;
        const char *value = skip_space(end + 1);
        if (*value == ':' && (size_t)(end - p - 1) == key_len && !memcmp(p + 1, key, key_len)) {
            value = skip_space(value + 1);
            if (*value == '[') value = skip_space(value + 1);
            const char *value_end = *value == '"' ? string_end(value) : NULL;
            if (value_end) {
                size_t len = (size_t)(value_end - value - 1);
                if (len >= size) len = size - 1;
                memcpy(out, value + 1, len);
                out[len] = 0;
                return 1;
            }
        }
        p = end;
    }
    return 0;
}

/* 1 if the message's "method" is `method`. */
static int is_method(const char *json, const char *method) {
    char found[64];
    return json_string(json, "method", found, sizeof found) && !strcmp(found, method);
}

static void send_line(int fd, const char *text) {
    printf(">> %s\n", text);
    write_text(fd, text);
    write_text(fd, "\n");
}

static int monero(int fd, struct line_reader *r, struct settings *s) {
    char line[8192], msg[1024], session[128] = "", job[128] = "";
    snprintf(msg, sizeof msg,
             "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"%s\","
             "\"pass\":\"%s\",\"agent\":\"%s\",\"algo\":[\"%s\",\"cn/r\",\"cn/2\"],\"rigid\":\"\"}}",
             s->user, s->pass, s->agent, s->algo);
    send_line(fd, msg);
    if (read_line(r, line, sizeof line) < 0) return 1;
    printf("<< %.200s\n", line);
    json_string(line, "id", session, sizeof session);
    if (!json_string(line, "job_id", job, sizeof job)) return 1;
    for (int share = 0; share < s->shares; share++) {
        uint32_t nonce = burn((uint32_t)share * 2654435761u);
        snprintf(msg, sizeof msg,
                 "{\"id\":%d,\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{\"id\":\"%s\","
                 "\"job_id\":\"%s\",\"nonce\":\"%08x\",\"result\":\"%08x%056d\"}}",
                 share + 2, session, job, nonce, nonce ^ 0x5a5a5a5au, 0);
        send_line(fd, msg);
        /* the answer, possibly after a pushed {"method":"job"} */
        for (int tries = 0; tries < 3; tries++) {
            if (read_line(r, line, sizeof line) < 0) return 0;
            printf("<< %.200s\n", line);
            if (is_method(line, "job")) json_string(line, "job_id", job, sizeof job);
            else break;
        }
        if (share == 1) {
            snprintf(msg, sizeof msg,
                     "{\"id\":%d,\"jsonrpc\":\"2.0\",\"method\":\"keepalived\",\"params\":{\"id\":"
                     "\"%s\"}}",
                     100 + share, session);
            send_line(fd, msg);
            if (read_line(r, line, sizeof line) >= 0) printf("<< %.200s\n", line);
        }
    }
    return 0;
}

static int bitcoin(int fd, struct line_reader *r, struct settings *s) {
    char line[8192], msg[1024], job[128] = "";
    snprintf(msg, sizeof msg, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"%s\"]}",
             s->agent);
    send_line(fd, msg);
    snprintf(msg, sizeof msg,
             "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"%s\",\"%s\"]}", s->user,
             s->pass);
    send_line(fd, msg);
    /* subscribe result, authorize result, set_difficulty, notify: in any order */
    for (int tries = 0; tries < 6 && !job[0]; tries++) {
        if (read_line(r, line, sizeof line) < 0) return 1;
        printf("<< %.200s\n", line);
        if (is_method(line, "mining.notify")) json_string(line, "params", job, sizeof job);
    }
    if (!job[0]) snprintf(job, sizeof job, "1");
    for (int share = 0; share < s->shares; share++) {
        uint32_t nonce = burn((uint32_t)share + 7);
        snprintf(msg, sizeof msg,
                 "{\"id\":%d,\"method\":\"mining.submit\",\"params\":[\"%s\",\"%s\",\"00000000\","
                 "\"%08x\",\"%08x\"]}",
                 share + 3, s->user, job, (unsigned)time(NULL), nonce);
        send_line(fd, msg);
        if (read_line(r, line, sizeof line) < 0) return 0;
        printf("<< %.200s\n", line);
    }
    return 0;
}

int main(int argc, char **argv) {
    struct settings s = {.shares = 4};
    snprintf(s.pass, sizeof s.pass, "x");
    snprintf(s.algo, sizeof s.algo, "rx/0");
    snprintf(s.agent, sizeof s.agent, "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0");
    alarm(30);
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--btc")) s.btc = 1;
        else if (!strcmp(argv[i], "-c")) read_config(&s, next), i++;
        else if (!strcmp(argv[i], "-o")) set_value(&s, "url", next), i++;
        else if (!strcmp(argv[i], "-u")) set_value(&s, "user", next), i++;
        else if (!strcmp(argv[i], "-p")) set_value(&s, "pass", next), i++;
        else if (!strcmp(argv[i], "-a")) set_value(&s, "algo", next), i++;
        else if (!strcmp(argv[i], "--name")) set_value(&s, "name", next), i++;
        else if (!strcmp(argv[i], "--shares")) set_value(&s, "shares", next), i++;
        else if (!strncmp(argv[i], "--", 2) && strchr(argv[i], '=')) i += 0; /* xmrig noise */
    }
    if (!s.url[0] || !s.user[0]) {
        fprintf(stderr, "usage: %s -o URL -u WALLET [-p PASS] [-c CONFIG]\n", argv[0]);
        return 2;
    }
    if (s.shares < 1 || s.shares > MAX_SHARES) s.shares = s.shares < 1 ? 1 : MAX_SHARES;
    if (s.btc && !strncmp(s.agent, "XMRig", 5)) snprintf(s.agent, sizeof s.agent, "cpuminer/2.5.1");
    if (s.name[0]) rename_self(argc, argv, s.name);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char host[256];
    int port = 3333;
    split_url(s.url, host, sizeof host, &port, NULL, 0);
    int tls = strstr(s.url, "+ssl://") || strstr(s.url, "+tls://");
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = tls ? dial_tls(host, port) : dial(host, port);
        if (fd >= 0) {
            struct line_reader reader = {.fd = fd};
            int rc = s.btc ? bitcoin(fd, &reader, &s) : monero(fd, &reader, &s);
            close(fd);
            return rc;
        }
        sleep(5); /* xmrig waits before reconnecting */
    }
    return 1;
}
