/*
 * backends.h - the backends the conformance suite runs against.
 *
 * Each row knows how to make a fresh, empty tracking store and give back its
 * URI, and how to tear it down again. Adding a backend is one row in
 * backends.c plus its name in tests/CMakeLists.txt.
 */
#ifndef CONF_BACKENDS_H
#define CONF_BACKENDS_H

#include <stddef.h>

/* Where backends legitimately differ (MLflow's own stores differ there too),
 * a test asks for a capability instead of naming a backend. */
enum conf_cap {
    /* The name of a deleted experiment can be taken by a new one (file store;
     * SQL stores keep the unique constraint until the experiment is purged). */
    CONF_CAP_REUSE_DELETED_NAME = 1u << 0,
    /* +inf/-inf metric values read back as infinities (MLflow's SQL store
     * stores them as +-DBL_MAX). */
    CONF_CAP_EXACT_INF = 1u << 1,
};

struct conf_backend {
    const char *name; /* the group name: results print as <name>/<test> */
    unsigned caps;    /* enum conf_cap bits */
    /* Makes a fresh, empty store. *uri (malloc'ed, the runner frees it) gets
     * its tracking URI; *ctx whatever teardown needs. Returns 0 or -1. */
    int (*setup)(char **uri, void **ctx);
    /* Undoes setup: stops servers, removes files. */
    void (*teardown)(void *ctx);
};

extern const struct conf_backend conf_backends[];
extern const size_t conf_n_backends;

/* The row named `name`, or NULL. */
const struct conf_backend *conf_backend_find(const char *name);

#endif /* CONF_BACKENDS_H */
