/*
 * commit.c - `berth commit`: a container's changes as a new image.
 *
 * The layer is the container's overlay upper directory
 * (rt_container_layer, which freezes a running container while it reads
 * it). The config is docker's: the image's, with what the container ran
 * (Cmd, Entrypoint, Env, WorkingDir, User as given to run) and then each
 * `-c` instruction applied as a build would apply it. Each -c is parsed as
 * a one-line Dockerfile (df_parse_changes), so its errors are the
 * parser's; only the instructions docker allows there are taken
 * ("run is not a valid change command", as docker says). The history entry is docker's too: created_by the container's
 * command, the comment from -m, the author from -a.
 *
 * Everything that can be refused (the reference, the changes, the
 * container) is checked before the layer is written.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* docker's list of the instructions commit -c takes */
static bool change_allowed(enum df_kind k)
{
    switch (k) {
    case DF_CMD: case DF_ENTRYPOINT: case DF_ENV: case DF_EXPOSE: case DF_HEALTHCHECK:
    case DF_LABEL: case DF_ONBUILD: case DF_STOPSIGNAL: case DF_USER: case DF_VOLUME:
    case DF_WORKDIR:
        return true;
    default:
        return false;
    }
}

/* Parse every -c first (one at a time, so that an error names it): a bad
 * one fails the commit before anything is made. */
static int changes_parse(const struct commit_opts *o, struct dockerfile *dfs, struct berr *err)
{
    for (size_t i = 0; i < o->nchanges; i++) {
        const char *text = o->changes[i];
        struct berr e2 = {0};
        if (df_parse_changes(&o->changes[i], 1, &dfs[i], &e2) < 0) {
            const char *msg = strncmp(e2.msg, "-c:1: ", 6) == 0 ? e2.msg + 6 : e2.msg;
            return berr_set(err, BERR_INVALID, "invalid change '%s': %s", text, msg);
        }
        if (dfs[i].n != 1)
            return berr_set(err, BERR_INVALID, "invalid change '%s': one instruction is "
                            "expected", text);
        if (!change_allowed(dfs[i].v[0].kind)) {
            char low[32];
            const char *name = df_kind_name(dfs[i].v[0].kind);
            size_t j = 0;
            for (; name[j] && j < sizeof low - 1; j++)
                low[j] = (char)(name[j] >= 'A' && name[j] <= 'Z' ? name[j] + 32 : name[j]);
            low[j] = '\0';
            return berr_set(err, BERR_INVALID, "invalid change '%s': %s is not a valid change "
                            "command", text, low);
        }
    }
    return 0;
}

/* Variables for -c: the config's Env, as a build step sees them. */
static const char *env_lookup(void *arg, const char *name)
{
    json_t *env = json_object_get(json_object_get(arg, "config"), "Env"), *v;
    size_t i, n = strlen(name);
    const char *found = NULL;
    json_array_foreach(env, i, v) {
        const char *kv = json_string_value(v);
        if (kv && strncmp(kv, name, n) == 0 && kv[n] == '=')
            found = kv + n + 1;
    }
    return found;
}

/* The image's config with what the container ran over it; HOSTNAME is
 * the runtime's, not the image's. */
static json_t *config_as_run(json_t *image_config, json_t *run)
{
    json_t *cfg = json_is_object(image_config) ? json_deep_copy(image_config) : json_object();
    static const char *const keys[] = {"Cmd", "Entrypoint", "WorkingDir", "User"};
    for (size_t i = 0; run && i < sizeof keys / sizeof *keys; i++) {
        json_t *v = json_object_get(run, keys[i]);
        if (v && !json_is_null(v) && !(json_is_string(v) && !*json_string_value(v)))
            json_object_set(cfg, keys[i], v);
        else
            json_object_del(cfg, keys[i]);
    }
    json_t *env = json_object_get(run, "Env"), *v;
    if (json_is_array(env)) {
        json_t *keep = json_array();
        size_t i;
        json_array_foreach(env, i, v)
            if (json_string_value(v) && strncmp(json_string_value(v), "HOSTNAME=", 9) != 0)
                json_array_append(keep, v);
        json_object_set_new(cfg, "Env", keep);
    }
    return cfg;
}

/* docker's: the container's Cmd, joined by spaces. */
static char *created_by(json_t *run)
{
    json_t *cmd = json_object_get(run, "Cmd"), *v;
    size_t i, len = 1;
    json_array_foreach(cmd, i, v)
        len += json_string_length(v) + 1;
    char *s = calloc(1, len);
    if (!s)
        return NULL;
    json_array_foreach(cmd, i, v) {
        if (i)
            strcat(s, " ");
        strcat(s, json_string_value(v) ? json_string_value(v) : "");
    }
    return s;
}

static int make_image(struct berth_store *s, const char *image, json_t *run,
                      struct dockerfile *dfs, const struct commit_opts *o,
                      const struct berth_layer *layer, char id[DIGEST_MAX], struct berr *err)
{
    json_t *doc = NULL;
    int rc = berth_image_get(s, image, NULL, &doc, NULL, err);
    if (rc < 0)
        return rc;
    const char *parent_author = json_string_value(json_object_get(doc, "author"));
    char *old_author = parent_author ? strdup(parent_author) : NULL;
    json_object_set_new(doc, "config", config_as_run(json_object_get(doc, "config"), run));
    /* one list, as one stage: an ENTRYPOINT drops the Cmd unless a CMD
     * of the list set it */
    bool cmd_set = false;
    for (size_t i = 0; rc == 0 && i < o->nchanges; i++) {
        struct berr e2 = {0};
        rc = df_apply_config_stage(&dfs[i].v[0], doc, env_lookup, doc, &cmd_set, NULL, &e2);
        if (rc < 0)
            rc = berr_set(err, BERR_INVALID, "invalid change '%s': %s", o->changes[i], e2.msg);
    }
    /* -a, else a MAINTAINER of -c; never the parent's */
    const char *author = o->author;
    const char *now_author = json_string_value(json_object_get(doc, "author"));
    if (!author && now_author && (!old_author || strcmp(now_author, old_author) != 0))
        author = now_author;
    char *by = rc == 0 ? created_by(run) : NULL;
    if (rc == 0 && !by)
        rc = berr_set(err, BERR_IO, "out of memory");
    if (rc == 0) {
        struct berth_commit c = {
            .parent = image,
            .layer = layer,
            .config = json_object_get(doc, "config"),
            .created_by = by,
            .comment = o->message && *o->message ? o->message : NULL,
            .author = author && *author ? author : NULL,
        };
        rc = berth_image_commit(s, &c, id, err);
    }
    free(by);
    free(old_author);
    json_decref(doc);
    return rc;
}

int builder_commit(struct berth_store *s, const char *container, const char *ref,
                   const struct commit_opts *o, char id[DIGEST_MAX], struct berr *err)
{
    if (ref) {
        struct berth_ref r;
        if (berth_ref_parse(ref, &r, err) < 0)
            return -BERR_INVALID;
        if (r.digest[0])
            return berr_set(err, BERR_INVALID, "invalid reference format: a commit is "
                            "tagged, not named by digest: %s", ref);
    }
    struct dockerfile *dfs = calloc(o->nchanges + 1, sizeof *dfs);
    if (!dfs)
        return berr_set(err, BERR_IO, "out of memory");
    int rc = changes_parse(o, dfs, err);
    char image[DIGEST_MAX] = "";
    json_t *run = NULL;
    struct berth_layer layer;
    if (rc == 0)
        rc = rt_container_layer(s, container, o->pause, &layer, image, &run, err);
    if (rc == 0)
        rc = make_image(s, image, run, dfs, o, &layer, id, err);
    if (rc == 0 && ref)
        rc = berth_tag(s, id, ref, err);
    json_decref(run);
    for (size_t i = 0; i < o->nchanges; i++)
        dockerfile_free(&dfs[i]);
    free(dfs);
    return rc;
}
