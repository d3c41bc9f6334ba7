/*
 * file_inputs.c - dataset inputs in MLflow's file-store layout.
 *
 * A dataset lives once per experiment in <exp>/datasets/<md5(name+digest)>/
 * meta.yaml; a run's use of it in <run>/inputs/<md5(dataset_id+run_id)>/
 * meta.yaml, holding the edge and its tags. The YAML is byte for byte what
 * MLflow 2.12 writes, including its input files' destination_id, which
 * repeats the dataset id rather than naming the run.
 */
#include "file_store.h"
#include "../yaml_io.h"

#include <dirent.h>
#include <nettle/md5.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DATASET_META_MAX (64 << 20) /* a profile may be 16M characters */

/* md5(a + b) as 32 lower-case hex digits, as Python's hexdigest(): how
 * MLflow names the folders (an id, not a security measure). */
static void md5_two(const char *a, const char *b, char out[33])
{
    struct md5_ctx m;
    uint8_t d[MD5_DIGEST_SIZE];
    md5_init(&m);
    md5_update(&m, strlen(a), (const uint8_t *)a);
    md5_update(&m, strlen(b), (const uint8_t *)b);
    md5_digest(&m, sizeof d, d);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof d; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[32] = '\0';
}

static void str_or_null(struct mlflow__yaml_writer *w, const char *key, const char *value)
{
    mlflow__yaml_str(w, key);
    if (value)
        mlflow__yaml_str(w, value);
    else
        mlflow__yaml_null(w);
}

/* Writes base/rel once; an existing file wins (first record kept). */
static int write_once(const char *base, const char *rel, struct mlflow__yaml_writer *w,
                      struct mlflow__sb *sb, int flags, struct mlflow_error *err)
{
    int rc = mlflow__yaml_writer_finish(w, err);
    bool existed = false;
    if (!rc)
        rc = mlflow__fs_write_value(base, rel, sb->buf, sb->len, FS_CREATE_ONCE | flags,
                                    &existed, err);
    mlflow__sb_release(sb);
    return rc;
}

static int write_dataset(const char *exp_dir, const char *id, const struct mlflow_dataset *d,
                         struct mlflow_error *err)
{
    char rel[FS_PATH_MAX];
    int rc = mlflow__fs_path(rel, err, "datasets/%s/meta.yaml", id);
    if (rc)
        return rc;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    struct mlflow__yaml_writer w;
    mlflow__yaml_writer_init(&w, &sb);
    /* Sorted keys, as PyYAML's sort_keys writes dict(Dataset). */
    mlflow__yaml_map_start(&w);
    str_or_null(&w, "digest", d->digest);
    str_or_null(&w, "name", d->name);
    str_or_null(&w, "profile", d->profile);
    str_or_null(&w, "schema", d->schema);
    str_or_null(&w, "source", d->source);
    str_or_null(&w, "source_type", d->source_type);
    mlflow__yaml_map_end(&w);
    /* Experiment directories may be symlinks, as in MLflow. */
    return write_once(exp_dir, rel, &w, &sb, FS_FOLLOW_BASE, err);
}

static int write_input(const char *run_dir, const char *id, const char *dataset_id,
                       const struct mlflow_dataset_input *in, struct mlflow_error *err)
{
    char rel[FS_PATH_MAX];
    int rc = mlflow__fs_path(rel, err, "inputs/%s/meta.yaml", id);
    if (rc)
        return rc;
    struct mlflow__sb sb = MLFLOW__SB_INIT;
    struct mlflow__yaml_writer w;
    mlflow__yaml_writer_init(&w, &sb);
    mlflow__yaml_map_start(&w);
    mlflow__yaml_str(&w, "destination_id");
    mlflow__yaml_str(&w, dataset_id); /* sic: MLflow 2.12 writes the source id here */
    mlflow__yaml_str(&w, "destination_type");
    mlflow__yaml_str(&w, "RUN");
    mlflow__yaml_str(&w, "source_id");
    mlflow__yaml_str(&w, dataset_id);
    mlflow__yaml_str(&w, "source_type");
    mlflow__yaml_str(&w, "DATASET");
    mlflow__yaml_str(&w, "tags");
    mlflow__yaml_str_map(&w, in->tags, in->n_tags);
    mlflow__yaml_map_end(&w);
    return write_once(run_dir, rel, &w, &sb, 0, err);
}

/* The experiment directory holding run_dir (live or in .trash). */
static int exp_dir_of(const char *run_dir, char *out, struct mlflow_error *err)
{
    const char *slash = strrchr(run_dir, '/');
    if (!slash || slash == run_dir)
        return mlflow__seterr(err, MLFLOW_INTERNAL_ERROR, "Bad run directory '%s'", run_dir);
    return mlflow__fs_path(out, err, "%.*s", (int)(slash - run_dir), run_dir);
}

int mlflow__fs_log_inputs(struct mlflow__store *s, const char *run_id,
                          const struct mlflow_dataset_input *inputs, size_t n,
                          struct mlflow_error *err)
{
    struct file_store *fs = (struct file_store *)s;
    char run_dir[FS_PATH_MAX], exp_id[FS_ID_MAX], exp_dir[FS_PATH_MAX];
    int rc = mlflow__fcache_run_dir(fs, run_id, true, run_dir, exp_id, err);
    if (!rc)
        rc = exp_dir_of(run_dir, exp_dir, err);
    for (size_t i = 0; !rc && i < n; i++) {
        char dataset_id[33], input_id[33];
        md5_two(inputs[i].dataset.name, inputs[i].dataset.digest, dataset_id);
        md5_two(dataset_id, run_id, input_id);
        rc = write_dataset(exp_dir, dataset_id, &inputs[i].dataset, err);
        if (!rc)
            rc = write_input(run_dir, input_id, dataset_id, &inputs[i], err);
    }
    return rc;
}

/* ---- reading ---- */

static int load(const char *base, const char *rel, int flags, size_t max,
                struct mlflow__yaml_doc *doc, yaml_node_t **root, struct mlflow_error *err)
{
    char *buf;
    size_t len;
    int e = mlflow__fs_read_below(base, rel, flags, &buf, &len);
    if (e == ENOMEM)
        return mlflow__oom(err);
    if (e || len > max) {
        if (!e)
            mlflow__free(buf);
        return -1; /* unreadable: skipped, as MLflow skips what it cannot match */
    }
    int rc = mlflow__yaml_load(doc, buf, len, rel, err);
    mlflow__free(buf);
    if (rc)
        return -1;
    *root = mlflow__yaml_root(doc);
    if (!*root || (*root)->type != YAML_MAPPING_NODE) {
        mlflow__yaml_doc_free(doc);
        return -1;
    }
    return 0;
}

static const char *field(struct mlflow__yaml_doc *d, yaml_node_t *root, const char *key)
{
    yaml_node_t *n = mlflow__yaml_map_get(d, root, key);
    if (!n || mlflow__yaml_scalar_type(n) == MLFLOW__YAML_NULL)
        return NULL;
    return mlflow__yaml_scalar(n);
}

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mlflow_kv *)a)->key, ((const struct mlflow_kv *)b)->key);
}

/* The tags mapping of an input file, sorted by key. */
static int read_tags(struct mlflow__arena *a, struct mlflow__yaml_doc *d, yaml_node_t *root,
                     struct mlflow_dataset_input *in)
{
    yaml_node_t *map = mlflow__yaml_map_get(d, root, "tags");
    if (!map || map->type != YAML_MAPPING_NODE)
        return 0;
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    if (n == 0)
        return 0;
    struct mlflow_kv *tags = mlflow__arena_alloc(a, n * sizeof *tags);
    if (!tags)
        return -1;
    size_t k = 0;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        const char *key = mlflow__yaml_scalar(yaml_document_get_node(&d->doc, p->key));
        const char *val = mlflow__yaml_scalar(yaml_document_get_node(&d->doc, p->value));
        if (!key || !val)
            continue;
        tags[k].key = mlflow__arena_strdup(a, key);
        tags[k].value = mlflow__arena_strdup(a, val);
        if (!tags[k].key || !tags[k].value)
            return -1;
        k++;
    }
    qsort(tags, k, sizeof *tags, kv_cmp);
    in->tags = tags;
    in->n_tags = k;
    return 0;
}

/* One input folder into *in; 1 when it is skipped (not a readable dataset
 * input whose dataset exists), -1 on OOM. */
static int read_one(struct mlflow__arena *a, const char *run_dir, const char *exp_dir,
                    const char *name, struct mlflow_dataset_input *in)
{
    char rel[FS_PATH_MAX];
    struct mlflow_error ignored = {0};
    struct mlflow__yaml_doc d = {0}, dd = {0};
    yaml_node_t *root, *droot;
    if (mlflow__fs_path(rel, &ignored, "inputs/%s/meta.yaml", name) ||
        load(run_dir, rel, 0, FS_META_MAX, &d, &root, &ignored))
        return ignored.code == MLFLOW_RESOURCE_EXHAUSTED ? -1 : 1;
    const char *type = field(&d, root, "source_type");
    const char *source_id = field(&d, root, "source_id");
    int rc = 1;
    if (type && strcmp(type, "DATASET") == 0 && source_id && mlflow__fs_id_safe(source_id) &&
        !mlflow__fs_path(rel, &ignored, "datasets/%s/meta.yaml", source_id) &&
        !load(exp_dir, rel, FS_FOLLOW_BASE, DATASET_META_MAX, &dd, &droot, &ignored)) {
        struct mlflow_dataset *ds = &in->dataset;
        const char *const from[] = {field(&dd, droot, "name"),   field(&dd, droot, "digest"),
                                    field(&dd, droot, "source_type"),
                                    field(&dd, droot, "source"), field(&dd, droot, "schema"),
                                    field(&dd, droot, "profile")};
        const char **to[] = {&ds->name,   &ds->digest, &ds->source_type,
                             &ds->source, &ds->schema, &ds->profile};
        rc = 0;
        for (size_t k = 0; !rc && k < MLFLOW_ARRAY_LEN(to); k++)
            if (from[k] && !(*to[k] = mlflow__arena_strdup(a, from[k])))
                rc = -1;
        /* Required fields missing: not a dataset MLflow could load either. */
        if (!rc && (!ds->name || !ds->digest || !ds->source_type || !ds->source))
            rc = 1;
        if (!rc)
            rc = read_tags(a, &d, root, in);
        mlflow__yaml_doc_free(&dd);
    } else if (ignored.code == MLFLOW_RESOURCE_EXHAUSTED) {
        rc = -1;
    }
    mlflow__yaml_doc_free(&d);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mlflow__fs_read_inputs(struct mlflow__arena *a, const char *run_dir,
                           struct mlflow_dataset_input **out, size_t *n_out,
                           struct mlflow_error *err)
{
    *out = NULL;
    *n_out = 0;
    char dir[FS_PATH_MAX], exp_dir[FS_PATH_MAX];
    int rc = mlflow__fs_path(dir, err, "%s/inputs", run_dir);
    if (!rc)
        rc = exp_dir_of(run_dir, exp_dir, err);
    if (rc)
        return rc;
    DIR *dp = opendir(dir);
    if (!dp)
        return MLFLOW_OK; /* no inputs (or none readable), as MLflow */
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    bool oom = false;
    while (!oom && (de = readdir(dp))) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            char **nn = mlflow__realloc(names, nc * sizeof *nn);
            if (!nn) {
                oom = true;
                break;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = mlflow__strdup(de->d_name)))
            oom = true;
        else
            n++;
    }
    closedir(dp);
    /* Folder order is arbitrary; name order makes reads repeatable. */
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    struct mlflow_dataset_input *ins = NULL;
    if (!oom && n && !(ins = mlflow__arena_alloc(a, n * sizeof *ins)))
        oom = true;
    size_t k = 0;
    for (size_t i = 0; !oom && i < n; i++) {
        int r = read_one(a, run_dir, exp_dir, names[i], &ins[k]);
        if (r < 0)
            oom = true;
        else if (r == 0)
            k++;
        else
            memset(&ins[k], 0, sizeof ins[k]);
    }
    for (size_t i = 0; i < n; i++)
        mlflow__free(names[i]);
    mlflow__free(names);
    if (oom)
        return mlflow__oom(err);
    *out = k ? ins : NULL;
    *n_out = k;
    return MLFLOW_OK;
}
