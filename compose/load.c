/*
 * load.c - compose_load: which files, which variables, which name, then
 * the pipeline. Files are -f's, else $COMPOSE_FILE, else the first of
 * compose.yaml, compose.yml, docker-compose.yml, docker-compose.yaml found
 * in the working directory or above it, with its compose.override.yaml
 * (or .yml, or docker-compose.override.*) beside it. The project
 * directory is --project-directory, else the first file's. Variables are
 * the project directory's .env (or --env-file) with the environment over
 * it. Each file is parsed, interpolated and shaped on its own (so an error
 * names its file), then they are merged in order and finished.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static const char *const default_names[] = {"compose.yaml", "compose.yml", "docker-compose.yml",
                                            "docker-compose.yaml"};
static const char *const override_names[] = {"compose.override.yaml", "compose.override.yml",
                                             "docker-compose.override.yml",
                                             "docker-compose.override.yaml"};

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static char *join(const char *dir, const char *name)
{
    char *s;
    if (!dir)
        return strdup(name);
    if (asprintf(&s, "%s/%s", dir, name) < 0)
        return NULL;
    return s;
}

/* A compose file in d (NULL: "."), and its override file beside it. */
static bool try_dir(const char *d, json_t *files)
{
    for (size_t i = 0; i < sizeof default_names / sizeof *default_names; i++) {
        char *p = join(d, default_names[i]);
        if (p && is_file(p)) {
            json_array_append_new(files, json_string(p));
            free(p);
            for (size_t j = 0; j < sizeof override_names / sizeof *override_names; j++) {
                char *o = join(d, override_names[j]);
                bool found = o && is_file(o);
                if (found)
                    json_array_append_new(files, json_string(o));
                free(o);
                if (found)
                    break;
            }
            return true;
        }
        free(p);
    }
    return false;
}

/* The default files: in dir (NULL: ".") or the nearest directory above. */
static int default_files(const char *dir, json_t *files, struct berr *err)
{
    char here[PATH_MAX];
    if (try_dir(dir, files))
        return 0;
    if (!realpath(dir ? dir : ".", here))
        return berr_set(err, BERR_IO, "%s: %s", dir ? dir : ".", strerror(errno));
    for (;;) {
        char *slash = strrchr(here, '/');
        if (!slash || (slash == here && here[1] == '\0'))
            break;
        if (slash == here)
            here[1] = '\0';
        else
            *slash = '\0';
        if (try_dir(here, files))
            return 0;
    }
    return berr_set(err, BERR_NOTFOUND, "no configuration file provided: not found "
                    "(compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml)");
}

static int read_file(const char *path, char **buf, size_t *len, struct berr *err)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return berr_set(err, errno == ENOENT ? BERR_NOTFOUND : BERR_IO, "%s: %s", path,
                        strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return berr_set(err, BERR_INVALID, "%s: is a directory", path);
    }
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    ssize_t r;
    while ((r = read(fd, b + n, cap - n)) > 0) {
        n += (size_t)r;
        if (n > COMPOSE_FILE_MAX) {
            free(b);
            close(fd);
            return berr_set(err, BERR_TOOBIG, "%s: larger than %u bytes", path, COMPOSE_FILE_MAX);
        }
        if (n == cap)
            b = realloc(b, cap *= 2);
    }
    int e = errno;
    close(fd);
    if (r < 0) {
        free(b);
        return berr_set(err, BERR_IO, "%s: %s", path, strerror(e));
    }
    *buf = b;
    *len = n;
    return 0;
}

static json_t *env_vars(char **env)
{
    json_t *vars = json_object();
    for (char **e = env ? env : environ; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e || (size_t)(eq - *e) > 255)
            continue;
        char name[256];
        memcpy(name, *e, (size_t)(eq - *e));
        name[eq - *e] = '\0';
        json_t *v = json_string(eq + 1);
        if (v)
            json_object_set_new(vars, name, v);
    }
    return vars;
}

static int one_file(struct cctx *c, const char *path, json_t **out, json_t *marks)
{
    char *buf = NULL;
    size_t len = 0;
    json_t *doc, *interp;
    int rc = read_file(path, &buf, &len, c->err);
    if (rc < 0)
        return rc;
    rc = cy_parse_marks(buf, len, c->file, &doc, marks, c->err);
    free(buf);
    if (rc < 0)
        return rc;
    if (!doc)
        return cc_fail(c, "empty compose file");
    rc = interp_tree(c, doc, &interp);
    json_decref(doc);
    if (rc < 0)
        return rc;
    rc = model_shape(c, interp, out);
    json_decref(interp);
    /* !reset: the value given is only a placeholder */
    size_t i;
    json_t *m;
    json_array_foreach(rc == 0 ? marks : NULL, i, m)
        if (strcmp(json_string_value(json_object_get(m, "op")), "reset") == 0)
            model_unset(*out, json_string_value(json_object_get(m, "path")));
    return rc;
}

static int add_file(json_t *files, const char *path, struct berr *err)
{
    json_t *s = path && *path ? json_string(path) : NULL;
    if (!s)
        return berr_set(err, BERR_INVALID, "invalid file name (empty, or not UTF-8)");
    json_array_append_new(files, s);
    return 0;
}

static int project_name(const struct compose_opts *o, json_t *vars, json_t *merged,
                        const char *projdir, char *out, size_t len, struct berr *err)
{
    const char *env = json_string_value(json_object_get(vars, "COMPOSE_PROJECT_NAME"));
    const char *file = json_string_value(json_object_get(merged, "name"));
    const char *given = o->project ? o->project : env && *env ? env : file;
    if (given) {
        if (!project_name_ok(given))
            return berr_set(err, BERR_INVALID, "invalid project name \"%.60s\": lower case letters, "
                            "digits, \"_\" and \"-\", starting with a letter or a digit", given);
        snprintf(out, len, "%s", given);
        return 0;
    }
    project_name_from_dir(projdir, out, len);
    if (!out[0])
        return berr_set(err, BERR_INVALID, "no project name: the directory's name \"%.60s\" has no "
                        "letter or digit (use -p NAME)", projdir);
    return 0;
}

int compose_load(const struct compose_opts *o, json_t **project, struct berr *err)
{
    json_t *files = json_array(), *trees = json_array(), *vars = NULL, *merged = NULL;
    char projdir[PATH_MAX], name[128];
    int rc = 0;
    *project = NULL;
    if (o->nfiles)
        for (size_t i = 0; i < o->nfiles && rc == 0; i++)
            rc = add_file(files, o->files[i], err);
    else {
        json_t *env = env_vars(o->environ);
        const char *cf = json_string_value(json_object_get(env, "COMPOSE_FILE"));
        if (cf && *cf) {
            char *copy = strdup(cf), *save, *tok;
            for (tok = strtok_r(copy, ":", &save); tok && rc == 0; tok = strtok_r(NULL, ":", &save))
                rc = add_file(files, tok, err);
            free(copy);
        }
        if (rc == 0 && json_array_size(files) == 0)
            rc = default_files(o->workdir, files, err);
        json_decref(env);
    }
    if (rc == 0 && json_array_size(files) == 0) /* a path that is not UTF-8 */
        rc = berr_set(err, BERR_INVALID, "no configuration file provided: invalid file name");
    if (rc < 0)
        goto out;
    /* the project directory */
    const char *first = json_string_value(json_array_get(files, 0));
    const char *dir = o->workdir;
    char fdir[PATH_MAX];
    if (!dir) {
        if (strcmp(first, "-") == 0 || !strchr(first, '/'))
            dir = ".";
        else {
            snprintf(fdir, sizeof fdir, "%.*s", (int)(strrchr(first, '/') - first), first);
            dir = fdir[0] ? fdir : "/";
        }
    }
    if (!realpath(dir, projdir)) {
        rc = berr_set(err, BERR_NOTFOUND, "project directory %s: %s", dir, strerror(errno));
        goto out;
    }
    json_t *utf8 = json_string(projdir);
    if (!utf8) {
        rc = berr_set(err, BERR_INVALID, "project directory %s: the path is not UTF-8", dir);
        goto out;
    }
    json_decref(utf8);
    /* variables: .env under the environment */
    json_t *env = env_vars(o->environ);
    vars = json_object();
    char *dotenv = o->env_file ? strdup(o->env_file) : join(projdir, ".env");
    rc = dotenv_read(dotenv, o->env_file ? o->env_file : ".env", env, vars, err);
    free(dotenv);
    if (rc == -BERR_NOTFOUND && !o->env_file)
        rc = 0;
    json_object_update(vars, env);
    json_decref(env);
    if (rc < 0)
        goto out;
    struct cctx c = {.projdir = projdir, .vars = vars, .err = err};
    size_t i;
    json_t *f;
    merged = json_object();
    json_array_foreach(files, i, f) {
        json_t *tree, *marks = json_array(), *m;
        size_t j;
        c.file = json_string_value(f);
        c.plen = 0;
        c.path[0] = '\0';
        if ((rc = one_file(&c, json_string_value(f), &tree, marks)) < 0) {
            json_decref(marks);
            goto out;
        }
        /* what this file resets or overrides is taken out of what came before */
        json_array_foreach(marks, j, m)
            model_unset(merged, json_string_value(json_object_get(m, "path")));
        json_decref(marks);
        model_merge(merged, tree);
        json_array_append_new(trees, tree);
    }
    if ((rc = project_name(o, vars, merged, projdir, name, sizeof name, err)) < 0)
        goto out;
    c.file = first;
    c.plen = 0;
    c.path[0] = '\0';
    if ((rc = model_finish(&c, merged, name, trees, files)) < 0)
        goto out;
    *project = merged;
    merged = NULL;
out:
    json_decref(merged);
    json_decref(trees);
    json_decref(files);
    json_decref(vars);
    return rc;
}
