/*
 * mirror.c - copy repositories from one registry to another, keeping
 * digests: blobs first (skipped when the destination has them, mounted
 * when both repositories live on one registry, else staged through the
 * local store), then manifests byte for byte, children of an index before
 * the index. A tag the destination already has at the same digest is left
 * alone, so running a mirror again copies only what changed.
 */
#include "internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

struct mirror {
    struct berth_client *c;
    struct berth_store *s;
    struct berth_ref src, dst;
    const char *glob;
    bool all_platforms;
    int copied, current;
};

static int copy_blob(struct mirror *m, const char *digest, uint64_t size, struct berr *err)
{
    int have = reg_blob_exists(m->c, &m->dst, digest, "pull,push", err);
    if (have != 0)
        return have < 0 ? have : 0;
    if (strcmp(m->src.registry, m->dst.registry) == 0 &&
        reg_blob_push(m->c, m->s, &m->dst, digest, size, m->src.repository, NULL, NULL, err) == 0 &&
        reg_blob_exists(m->c, &m->dst, digest, "pull,push", err) == 1)
        return 0;   /* mounted */
    int rc = 0;
    store_pin(m->s);
    if (!store_has_blob(m->s, digest))
        rc = reg_blob_fetch(m->c, m->s, &m->src, digest, size, NULL, NULL, err);
    if (rc == 0)
        rc = reg_blob_push(m->c, m->s, &m->dst, digest, size, NULL, NULL, NULL, err);
    store_unpin(m->s);
    return rc;
}

/* Copy an image manifest's blobs, then the manifest (by tag, or by digest
 * when tag is NULL). */
static int copy_image(struct mirror *m, const struct berth_manifest *man, const char *tag,
                      struct berr *err)
{
    json_t *doc = json_loadb(man->body, man->len, 0, NULL);
    json_t *config = json_object_get(doc, "config");
    int rc = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(doc, "layers"), i, d) {
        if (rc == 0)
            rc = copy_blob(m, json_string_value(json_object_get(d, "digest")),
                           (uint64_t)json_integer_value(json_object_get(d, "size")), err);
    }
    if (rc == 0 && config)
        rc = copy_blob(m, json_string_value(json_object_get(config, "digest")),
                       (uint64_t)json_integer_value(json_object_get(config, "size")), err);
    json_decref(doc);
    struct berth_ref to = m->dst;
    snprintf(to.tag, sizeof to.tag, "%s", tag ? tag : "");
    snprintf(to.digest, sizeof to.digest, "%s", man->digest);
    char digest[DIGEST_MAX];
    if (rc == 0)
        rc = reg_manifest_put(m->c, &to, man->body, man->len, man->media_type, digest, err);
    return rc;
}

static bool is_index(const char *mt)
{
    return strstr(mt, "image.index") || strstr(mt, "manifest.list");
}

/* Without --all-platforms an index becomes this machine's image: fetch
 * that child in place of the index. */
static int host_child(struct mirror *m, struct berth_manifest *top, const char *tag,
                      struct berr *err)
{
    json_t *doc = json_loadb(top->body, top->len, 0, NULL);
    char host[64], digest[DIGEST_MAX] = "";
    host_platform(host, sizeof host);
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(doc, "manifests"), i, child) {
        if (!digest[0] && platform_matches(json_object_get(child, "platform"), host))
            snprintf(digest, sizeof digest, "%s",
                     json_string_value(json_object_get(child, "digest")));
    }
    json_decref(doc);
    if (!digest[0])
        return berr_set(err, BERR_NOTFOUND, "%s: no manifest for %s", tag, host);
    struct berth_manifest cm;
    int rc = berth_manifest_fetch(m->c, &m->src, digest, &cm, err);
    if (rc == 0) {
        free(top->body);
        *top = cm;
    }
    return rc;
}

static int mirror_one(struct mirror *m, const char *tag, struct berr *err)
{
    struct berth_manifest top;
    int rc = berth_manifest_fetch(m->c, &m->src, tag, &top, err);
    if (rc == 0 && !m->all_platforms && is_index(top.media_type))
        rc = host_child(m, &top, tag, err);
    if (rc < 0)
        return rc;
    char have[DIGEST_MAX];
    struct berr ignore = {0};
    if (berth_manifest_head(m->c, &m->dst, tag, have, &ignore) == 0 &&
        strcmp(have, top.digest) == 0) {
        if (!m->c->o.quiet)
            fprintf(m->c->o.out, "%s: up to date (%s)\n", tag, top.digest);
        m->current++;
        free(top.body);
        return 0;
    }
    if (is_index(top.media_type)) {
        /* --all-platforms: every child by digest, then the index itself */
        json_t *doc = json_loadb(top.body, top.len, 0, NULL);
        size_t i;
        json_t *child;
        json_array_foreach(json_object_get(doc, "manifests"), i, child) {
            struct berth_manifest cm;
            if (rc == 0)
                rc = berth_manifest_fetch(m->c, &m->src,
                                          json_string_value(json_object_get(child, "digest")),
                                          &cm, err);
            if (rc == 0) {
                rc = copy_image(m, &cm, NULL, err);
                free(cm.body);
            }
        }
        json_decref(doc);
        if (rc == 0) {
            struct berth_ref to = m->dst;
            snprintf(to.tag, sizeof to.tag, "%s", tag);
            char digest[DIGEST_MAX];
            rc = reg_manifest_put(m->c, &to, top.body, top.len, top.media_type, digest, err);
        }
    } else {
        rc = copy_image(m, &top, tag, err);
    }
    if (rc == 0 && !m->c->o.quiet)
        fprintf(m->c->o.out, "%s: copied %s\n", tag, top.digest);
    if (rc == 0)
        m->copied++;
    free(top.body);
    return rc;
}

static int add_tag(void *arg, const char *tag)
{
    return json_array_append_new(arg, json_string(tag));
}

int berth_mirror(struct berth_client *c, struct berth_store *s, const char *src,
                 const char *dst, const char *tags, bool all_platforms, struct berr *err)
{
    struct mirror m = {.c = c, .s = s, .glob = tags, .all_platforms = all_platforms};
    if (berth_ref_parse(src, &m.src, err) < 0 || berth_ref_parse(dst, &m.dst, err) < 0)
        return -BERR_INVALID;
    /* "repo:tag" copies that tag; a bare repository copies its tags */
    bool one = strchr(strrchr(src, '/') ? strrchr(src, '/') : src, ':') != NULL;
    json_t *list = json_array();
    int rc = 0;
    if (one)
        json_array_append_new(list, json_string(m.src.tag));
    else
        rc = berth_tags(c, &m.src, add_tag, list, err);
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t) {
        const char *tag = json_string_value(t);
        if (rc == 0 && (!tags || fnmatch(tags, tag, 0) == 0))
            rc = mirror_one(&m, tag, err);
    }
    json_decref(list);
    if (rc == 0 && !c->o.quiet)
        fprintf(c->o.out, "%s -> %s: %d copied, %d up to date\n", src, dst, m.copied, m.current);
    return rc;
}
