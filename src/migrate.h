/*
 * migrate.h - copying a whole tracking store into another (`mlflow-c
 * migrate`): every experiment, run, param, tag and metric point, with ids,
 * names, times and lifecycle stages kept. Artifacts are not copied; their
 * URIs are kept as they are. An experiment id the destination cannot hold
 * (a file store's 18-digit ids in PostgreSQL's 32-bit column) is replaced
 * by a new one from the destination; its runs keep their ids.
 */
#ifndef MLFLOW_MIGRATE_H
#define MLFLOW_MIGRATE_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a migration looked at and what it wrote. */
struct mlflow__migrate_stats {
    size_t experiments;            /* in the source, active and deleted */
    size_t experiments_copied;     /* the rest were in the destination already */
    size_t experiments_renumbered; /* under a new id in the destination */
    size_t runs;
    size_t runs_copied;
    size_t metric_points; /* written, in the runs copied */
    size_t params;
    size_t tags;
};

struct mlflow__migrate_opts {
    /* Called after every progress_every runs (0: never) and once at the
     * end, with the counts so far. May be NULL. The library never prints;
     * the caller decides what a user sees. */
    void (*progress)(void *ctx, const struct mlflow__migrate_stats *stats, bool done);
    void *ctx;
    size_t progress_every;
    /* Called for each experiment that has another id in the destination
     * than in the source (also on a rerun that finds it copied already),
     * before its runs are copied. May be NULL. */
    void (*renumbered)(void *ctx, const char *old_id, const char *new_id, const char *name);
};

/*
 * Copies the store at src_uri into the one at dst_uri (created if missing,
 * as opening a store does). Idempotent: experiments and runs are matched by
 * id, and one already in the destination is skipped as it is (never merged
 * into: points logged to a copied run in the source afterwards are not
 * copied). A renumbered experiment is matched by name and creation time
 * instead; experiments that keep their ids are copied first, so the new
 * ids the destination hands out never collide with a kept one. Each run
 * is written whole or not at all, so an interrupted migration can be
 * rerun. The source must exist. NOT_IMPLEMENTED when the destination's
 * store cannot import (REST). opts and stats may be NULL.
 */
MLFLOW_INTERNAL int mlflow__migrate(const char *src_uri, const char *dst_uri,
                                    const struct mlflow__migrate_opts *opts,
                                    struct mlflow__migrate_stats *stats,
                                    struct mlflow_error *err);

#ifdef __cplusplus
}
#endif

#endif /* MLFLOW_MIGRATE_H */
