/*
 * util.c - small shared helpers: clocks, random ids and run names, user
 * name, strict number parsing and UTF-8 checks.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t mlflow__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* getrandom() is the source; the fallback (a kernel without it, or seccomp)
 * is a per-thread xorshift seeded from time and pid, good enough for ids. */
void mlflow__random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        p += got;
        n -= (size_t)got;
    }
    if (n > 0) {
        static _Thread_local uint64_t s;
        if (!s)
            s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)&s;
        for (size_t i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            p[i] = (unsigned char)s;
        }
    }
}

void mlflow__uuid_hex(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    mlflow__random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

/* MLflow 2.x: the last 18 decimal digits of a random 128-bit number, with
 * any leading zero replaced by a random digit so the length stays 18. We
 * draw the 18 digits directly: same distribution of shapes, no bignum. */
void mlflow__experiment_id18(char out[19])
{
    unsigned char b[18];
    mlflow__random_bytes(b, sizeof b);
    for (int i = 0; i < 18; i++)
        out[i] = (char)('0' + b[i] % 10);
    if (out[0] == '0')
        out[0] = (char)('1' + b[0] % 9);
    out[18] = '\0';
}

/* Our own word lists (MLflow's shape: adjective-animal-number). */
static const char *const adjectives[] = {
    "amber",   "bold",    "brave",   "bright",  "calm",    "clever", "crisp",   "daring",
    "eager",   "fast",    "fierce",  "gentle",  "glad",    "golden", "grand",   "happy",
    "honest",  "humble",  "jolly",   "keen",    "kind",    "lively", "lucky",   "merry",
    "mighty",  "modest",  "nimble",  "noble",   "polite",  "proud",  "quick",   "quiet",
    "rare",    "rapid",   "shy",     "silent",  "sleek",   "smart",  "steady",  "stern",
    "sunny",   "swift",   "tender",  "tidy",    "vast",    "warm",   "wise",    "witty",
};
static const char *const animals[] = {
    "ant",     "bass",    "bear",    "bee",     "bird",    "boar",   "carp",    "cat",
    "cod",     "colt",    "crab",    "crane",   "crow",    "deer",   "doe",     "dove",
    "duck",    "eel",     "elk",     "finch",   "fox",     "frog",   "goat",    "gull",
    "hare",    "hawk",    "hen",     "heron",   "horse",   "ibis",   "jay",     "koi",
    "lark",    "lion",    "lynx",    "mole",    "moth",    "mouse",  "newt",    "owl",
    "ox",      "panda",   "pig",     "ram",     "seal",    "shrew",  "slug",    "snail",
    "squid",   "stork",   "swan",    "toad",    "trout",   "vole",   "whale",   "wolf",
    "wren",    "yak",
};

void mlflow__random_run_name(char out[64])
{
    uint32_t r[3];
    mlflow__random_bytes(r, sizeof r);
    snprintf(out, 64, "%s-%s-%u", adjectives[r[0] % MLFLOW_ARRAY_LEN(adjectives)],
             animals[r[1] % MLFLOW_ARRAY_LEN(animals)], (unsigned)(r[2] % 1000));
}

void mlflow__user_name(char *out, size_t size)
{
    const char *u = getenv("USER");
    if (!u || !*u)
        u = getenv("LOGNAME");
    char buf[1024];
    struct passwd pw, *res = NULL;
    if ((!u || !*u) && getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
        u = res->pw_name;
    snprintf(out, size, "%s", (u && *u) ? u : "unknown");
}

/* Two digits per division: this formats every metric's timestamp and step. */
size_t mlflow__fmt_int64(int64_t v, char *buf)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char tmp[24];
    char *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        unsigned d = (unsigned)(u % 100) * 2;
        u /= 100;
        *--p = pairs[d + 1];
        *--p = pairs[d];
    }
    if (u >= 10) {
        *--p = pairs[u * 2 + 1];
        *--p = pairs[u * 2];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    size_t len = (size_t)(tmp + sizeof tmp - p);
    memcpy(buf, p, len);
    buf[len] = '\0';
    return len;
}

bool mlflow__parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return false;
    *out = (int64_t)v;
    return true;
}

bool mlflow__parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    /* Python's float() spellings that strtod does not share exactly. */
    if (strcasecmp(s, "nan") == 0) {
        *out = NAN;
        return true;
    }
    if (strcasecmp(s, "inf") == 0 || strcasecmp(s, "infinity") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcasecmp(s, "-inf") == 0 || strcasecmp(s, "-infinity") == 0) {
        *out = -INFINITY;
        return true;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || end == s)
        return false;
    *out = v; /* ERANGE keeps strtod's value: inf or a denormal, as Python */
    return true;
}

bool mlflow__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

size_t mlflow__utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

size_t mlflow__utf8_prefix(const char *s, size_t max_chars)
{
    size_t chars = 0, i = 0;
    for (; s[i]; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (chars == max_chars)
                break;
            chars++;
        }
    }
    return i;
}

bool mlflow__env_bool(const char *name, bool dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return true;
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return false;
    return dflt;
}

static int key_idx_cmp(const void *a, const void *b)
{
    const struct mlflow__key_idx *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

struct mlflow__key_idx *mlflow__key_order(const void *items, size_t n, size_t stride)
{
    struct mlflow__key_idx *o = mlflow__malloc((n ? n : 1) * sizeof *o);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *const *key = (const void *)((const char *)items + i * stride);
        o[i] = (struct mlflow__key_idx){*key, i};
    }
    qsort(o, n, sizeof *o, key_idx_cmp);
    return o;
}
