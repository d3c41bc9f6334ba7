/*
 * error.c - the error table turned into names, messages and HTTP statuses,
 * and the per-thread "last error" slot behind mlflow_last_error().
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct errinfo {
    int code;
    const char *name;
    int http;
    const char *msg;
};

static const struct errinfo errtab[] = {
#define ROW(name, num, http, msg) {num, #name, http, msg},
    MLFLOW_ERROR_MAP(ROW)
#undef ROW
};

static const struct errinfo *lookup(int code)
{
    for (size_t i = 0; i < MLFLOW_ARRAY_LEN(errtab); i++)
        if (errtab[i].code == code)
            return &errtab[i];
    return NULL;
}

const char *mlflow_error_name(int code)
{
    if (code == MLFLOW_OK)
        return "OK";
    const struct errinfo *e = lookup(code);
    return e ? e->name : "INTERNAL_ERROR";
}

int mlflow_error_from_name(const char *name)
{
    if (name && strcmp(name, "OK") == 0)
        return MLFLOW_OK;
    for (size_t i = 0; name && i < MLFLOW_ARRAY_LEN(errtab); i++)
        if (strcmp(errtab[i].name, name) == 0)
            return errtab[i].code;
    return MLFLOW_INTERNAL_ERROR;
}

const char *mlflow_strerror(int code)
{
    if (code == MLFLOW_OK)
        return "success";
    const struct errinfo *e = lookup(code);
    return e ? e->msg : "internal error";
}

int mlflow_error_http_status(int code)
{
    const struct errinfo *e = lookup(code);
    return e ? e->http : 500;
}

int mlflow__seterr(struct mlflow_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mlflow__seterr_sys(struct mlflow_error *err, int errno_value, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = MLFLOW_INTERNAL_ERROR;
        int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->message)
            snprintf(err->message + n, sizeof err->message - (size_t)n, ": %s",
                     strerror(errno_value));
    }
    return MLFLOW_INTERNAL_ERROR;
}

int mlflow__oom(struct mlflow_error *err)
{
    return mlflow__seterr(err, MLFLOW_RESOURCE_EXHAUSTED, "out of memory");
}

/* Per-thread last error. A plain buffer, not an allocation, so reporting an
 * out-of-memory condition can never itself fail. */
static _Thread_local struct mlflow_error last_error;

int mlflow__publish(const struct mlflow_error *err)
{
    if (err->code == MLFLOW_OK)
        return MLFLOW_OK;
    last_error = *err;
    if (last_error.message[0] == '\0')
        snprintf(last_error.message, sizeof last_error.message, "%s",
                 mlflow_strerror(err->code));
    return err->code;
}

const char *mlflow_last_error(void)
{
    return last_error.message;
}

int mlflow_last_error_code(void)
{
    return last_error.code;
}

static _Atomic int warnings_enabled = 1;

void mlflow_set_warnings(bool enabled)
{
    warnings_enabled = enabled ? 1 : 0;
}

void mlflow__warn_data_loss(const char *what, const struct mlflow_error *err)
{
    if (!warnings_enabled)
        return;
    fprintf(stderr, "mlflow: %s was not stored: %s (%s)\n", what, err->message,
            mlflow_error_name(err->code));
}
