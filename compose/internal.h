/*
 * internal.h - what the files of compose/ share (private; the unit tests
 * include it too).
 *
 * Every stage works on jansson trees and reports errors as one line,
 * "FILE: KEY.PATH: reason", through a struct cctx that carries the file
 * name and the key path of the node being looked at.
 */
#ifndef BERTH_COMPOSE_INTERNAL_H
#define BERTH_COMPOSE_INTERNAL_H

#include "compose.h"

#include <stdarg.h>

/* Bounds on what one file may make: its size, and the nodes its tree may
 * hold once aliases are expanded ("billion laughs" stops here). */
#define COMPOSE_FILE_MAX (4u << 20)
#define COMPOSE_NODES_MAX 200000
#define COMPOSE_DEPTH_MAX 64
/* Services in a project, ports or mounts in a service: checks between
 * entries compare them pairwise. */
#define COMPOSE_SERVICES_MAX 1000
#define COMPOSE_LIST_MAX 4096

/* ---- context: file, key path, error ------------------------------------------- */

struct cctx {
    const char *file;        /* as the messages name it */
    char path[200];          /* "services.web.ports[0]" */
    size_t plen;
    const char *projdir;     /* relative paths resolve here */
    json_t *vars;            /* {NAME: value}: .env, then the environment over it */
    struct berr *err;
};

/* Push a key or an index onto the path; returns the length to pop back to. */
size_t cc_key(struct cctx *c, const char *key);
size_t cc_idx(struct cctx *c, size_t i);
void cc_pop(struct cctx *c, size_t len);
/* "FILE: PATH: reason" (or "FILE: reason" at the top); returns -BERR_INVALID. */
int cc_fail(struct cctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The end of a shaping function: on success `res` goes to *out, on failure
 * it is dropped; returns rc. */
static inline int cc_give(int rc, json_t *res, json_t **out)
{
    if (rc < 0)
        json_decref(res);
    else
        *out = res;
    return rc < 0 ? rc : 0;
}
/* A value as a message shows it: strings quoted and cut short. */
void cc_show(json_t *v, char *out, size_t len);

/* ---- yaml.c: one YAML document -> a JSON tree ---------------------------------- */

/* Plain scalars are typed (null, true/false, ints, floats), quoted ones stay
 * strings; anchors, aliases and `<<` merge keys are resolved; duplicate keys,
 * more than one document, tags other than the core schema's and trees over
 * COMPOSE_NODES_MAX nodes are refused. An empty document gives NULL. */
int cy_parse(const char *buf, size_t len, const char *file, json_t **out, struct berr *err);
/* Also !reset and !override, each noted in marks as {path: "services.web.ports",
 * op: "reset"|"override"} (see model_unset). */
int cy_parse_marks(const char *buf, size_t len, const char *file, json_t **out, json_t *marks,
                   struct berr *err);
/* What a plain scalar would be read as (a new reference). */
json_t *cy_plain(const char *s, size_t len);

/* ---- dotenv.c: .env and env_file ------------------------------------------------ */

/* KEY=VALUE lines (export, quotes, comments, ${VAR} in unquoted and double
 * quoted values, looked up in what came before and then in vars) into out. */
int dotenv_parse(const char *buf, size_t len, const char *file, json_t *vars, json_t *out,
                 struct berr *err);
int dotenv_read(const char *path, const char *name, json_t *vars, json_t *out, struct berr *err);

/* ---- interp.c: ${VAR} --------------------------------------------------------- */

/* Expand one string; on an error, *why says what is wrong (a malloc'd
 * string set by no other path returns -1 with *why NULL: out of memory). */
int interp_string(const char *s, json_t *vars, char **out, char **why);
/* A new tree with every string value (not the keys) expanded. */
int interp_tree(struct cctx *c, json_t *in, json_t **out);

/* ---- model.c, service.c, keys.c, shape.c: one file's tree in canonical shape ---- */

/* The top level of one file, short syntaxes expanded, types checked,
 * unknown keys refused, relative paths made absolute, env_file folded.
 * No defaults are added: files are merged after this. */
int model_shape(struct cctx *c, json_t *doc, json_t **out);
int service_shape(struct cctx *c, const char *name, json_t *in, json_t **out);

/* Helpers of the shapers (shape.c; durations, sizes, paths and names: units.c). */
int sh_string(struct cctx *c, json_t *v, const char **out);       /* string only */
int sh_scalar_str(struct cctx *c, json_t *v, json_t **out);       /* string/number/bool */
int sh_bool(struct cctx *c, json_t *v, bool *out);                /* also "true"/"false" */
int sh_int(struct cctx *c, json_t *v, long long min, long long max, long long *out);
int sh_kv(struct cctx *c, json_t *v, bool lookup, bool null_empty, json_t **out);
int sh_strings(struct cctx *c, json_t *v, json_t **out);         /* [string] */
int sh_command(struct cctx *c, json_t *v, json_t **out);
int sh_duration(struct cctx *c, json_t *v, json_t **out);
int sh_bytes(struct cctx *c, json_t *v, json_t **out);
int sh_abspath(struct cctx *c, const char *p, char **out);
int sh_ports(struct cctx *c, json_t *v, json_t **out);
/* "80" or "8000-8010" (lo <= hi, 1..65535); false for anything else */
bool port_range(const char *s, size_t len, long *lo, long *hi);
int sh_volumes(struct cctx *c, json_t *v, json_t **out);
bool sh_name_ok(const char *s);
/* Refuse keys of v not in known (x- extensions pass); those in spec are
 * the specification's, "not supported by berth". Both NULL-terminated. */
int sh_check_keys(struct cctx *c, json_t *v, const char *const *known, const char *const *spec);

/* keys.c: the structured service keys */
int sh_build(struct cctx *c, json_t *v, json_t **out);
int sh_depends_on(struct cctx *c, json_t *v, json_t **out);
int sh_healthcheck(struct cctx *c, json_t *v, json_t **out);
int sh_networks(struct cctx *c, json_t *v, json_t **out);
int sh_limits(struct cctx *c, json_t *v, json_t **out);
int sh_deploy(struct cctx *c, json_t *v, json_t **out);
int shell_split(const char *s, json_t **out, const char **why);

/* ---- merge.c ----------------------------------------------------------------- */

/* Merge a shaped file over another (both canonical trees): maps key by
 * key, ports and volumes by their unique keys, command, entrypoint and
 * healthcheck.test replaced, other lists appended. */
int model_merge(json_t *base, json_t *over);
/* Remove the node at a path ("services.web.ports", "x.y[2]") if it is there. */
void model_unset(json_t *tree, const char *path);

/* ---- finish.c: the merged project ------------------------------------------------ */

/* Defaults, the project's name and the checks across services
 * (references, cycles, image or build). files/trees name the source of
 * an error: the last shaped tree that holds the key. */
int model_finish(struct cctx *c, json_t *project, const char *name, json_t *trees,
                 json_t *files);

/* ---- order.c ------------------------------------------------------------------- */

/* A cycle among depends_on, as "a -> b -> a" in out; false when none. */
bool order_find_cycle(json_t *services, char *out, size_t len);

/* ---- project names ------------------------------------------------------------ */

bool project_name_ok(const char *s);
/* A directory's name made a project name: lower case, [a-z0-9_-] kept. */
void project_name_from_dir(const char *dir, char *out, size_t len);

#endif
