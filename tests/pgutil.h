/*
 * pgutil.h - what the tests over PostgreSQL share: finding the server that
 * tests/pg_fixture.sh started, an admin connection to it, and a fresh
 * schema per test that the store is pointed at through libpq's
 * options=-csearch_path (schemas are far cheaper than CREATE DATABASE).
 * Header-only because every test is its own program.
 */
#ifndef MLFLOW_PGUTIL_H
#define MLFLOW_PGUTIL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The server's URI: MLFLOW_TEST_PG_URI, or the first line of the file that
 * MLFLOW_TEST_PG_URI_FILE names (ctest's fixture writes it). 0, or -1 after
 * saying why on stderr. */
static inline int pgutil_server_uri(char *buf, size_t size)
{
    const char *env = getenv("MLFLOW_TEST_PG_URI");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return 0;
    }
    const char *file = getenv("MLFLOW_TEST_PG_URI_FILE");
    FILE *f = file ? fopen(file, "r") : NULL;
    if (!f) {
        fprintf(stderr, "no PostgreSQL server: set MLFLOW_TEST_PG_URI, or run through ctest, "
                        "whose fixture starts one\n");
        return -1;
    }
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    return ok && *buf ? 0 : -1;
}

/* DROP SCHEMA ... CASCADE lists every table it drops as a notice. */
static inline void pgutil_ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* An admin connection with notices silenced; NULL after saying why. */
static inline PGconn *pgutil_connect(const char *server)
{
    PGconn *pg = PQconnectdb(server);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to %s: %s", server, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, pgutil_ignore_notice, NULL);
    return pg;
}

/* Runs one admin statement; false after printing the server's error. */
static inline bool pgutil_exec(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
    return ok;
}

/* Creates schema <prefix>_<pid>_<n> (n counts up per program) and writes
 * its name to schema; false after saying why. */
static inline bool pgutil_create_schema(PGconn *pg, const char *prefix, char *schema,
                                        size_t size)
{
    static unsigned counter;
    snprintf(schema, size, "%s_%ld_%u", prefix, (long)getpid(), ++counter);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    return pgutil_exec(pg, sql);
}

/* The store URI for server with its search_path set to schema. */
static inline void pgutil_schema_uri(char *buf, size_t size, const char *server,
                                     const char *schema)
{
    snprintf(buf, size, "%s%coptions=-csearch_path%%3D%s", server,
             strchr(server, '?') ? '&' : '?', schema);
}

/* DROP SCHEMA ... CASCADE, errors ignored: the cluster is thrown away. */
static inline void pgutil_drop_schema(PGconn *pg, const char *schema)
{
    char sql[128];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", schema);
    PQclear(PQexec(pg, sql));
}

#endif /* MLFLOW_PGUTIL_H */
