/*
 * fnv1a.h - FNV-1a, 64 bits: the ETag of a UI file, computed the same way by
 * tools/embed.c for embedded files (at build time) and by src/server/ui.c for
 * files of a development directory (per request). A validator, not a defence:
 * nothing depends on it being hard to collide.
 */
#ifndef MLFLOW_FNV1A_H
#define MLFLOW_FNV1A_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t mlflow__fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#endif
