/*
 * mime.c - the Content-Type of an artifact from its file name, in one table
 * for everything that moves artifacts: uploads to S3 and to an mlflow-artifacts
 * server (as Python's mimetypes would guess it, which is what MLflow's clients
 * send) and downloads from our server (where MLflow serves plain-text formats
 * as text/plain, so a browser shows a log or an MLmodel instead of saving it).
 */
#include "internal.h"

#include <string.h>
#include <strings.h>

/* What MLflow's server sends as text/plain, MLmodel and MLproject included. */
static const char *const served_as_text[] = {
    "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon",
    "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst",
    "MLmodel", "MLproject",
};

static const struct {
    const char *ext, *type;
} guessed[] = {
    {"txt", "text/plain"},       {"json", "application/json"}, {"csv", "text/csv"},
    {"html", "text/html"},       {"htm", "text/html"},         {"css", "text/css"},
    {"js", "text/javascript"},   {"xml", "application/xml"},   {"md", "text/markdown"},
    {"py", "text/x-python"},     {"yaml", "application/yaml"}, {"yml", "application/yaml"},
    {"png", "image/png"},        {"jpg", "image/jpeg"},        {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},        {"svg", "image/svg+xml"},     {"bmp", "image/bmp"},
    {"webp", "image/webp"},      {"tif", "image/tiff"},        {"tiff", "image/tiff"},
    {"pdf", "application/pdf"},  {"zip", "application/zip"},   {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},        {"wav", "audio/x-wav"},       {"mp3", "audio/mpeg"},
};

const char *mlflow__mime_type(const char *name, bool serving)
{
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    const char *ext = dot && dot != base ? dot + 1 : base;
    if (serving)
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(served_as_text); i++)
            if (strcmp(ext, served_as_text[i]) == 0)
                return "text/plain";
    if (dot && dot != base)
        for (size_t i = 0; i < MLFLOW_ARRAY_LEN(guessed); i++)
            if (strcasecmp(ext, guessed[i].ext) == 0)
                return guessed[i].type;
    return "application/octet-stream";
}
