/*
 * ref.c - image references, normalised as docker does:
 *
 *   busybox                        docker.io/library/busybox:latest
 *   team/app:1.0                   docker.io/team/app:1.0
 *   127.0.0.1:5000/app             127.0.0.1:5000/app:latest
 *   localhost/app@sha256:...       localhost/app@sha256:...
 *
 * The first component is a registry when it has a '.' or a ':' or is
 * "localhost". Repository, tag and digest follow the distribution spec's
 * grammars (common/names.c).
 */
#include "berth.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Copy with a length check; false when src does not fit. */
static bool set_field(char *dst, size_t size, const char *prefix, const char *src)
{
    size_t a = strlen(prefix), b = strlen(src);
    if (a + b >= size)
        return false;
    memcpy(dst, prefix, a);
    memcpy(dst + a, src, b + 1);
    return true;
}

int berth_ref_parse(const char *s, struct berth_ref *ref, struct berr *err)
{
    memset(ref, 0, sizeof *ref);
    if (!s || !*s)
        return berr_set(err, BERR_INVALID, "empty image reference");
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return berr_set(err, BERR_INVALID, "image reference too long");
    snprintf(buf, sizeof buf, "%s", s);

    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        if (!digest_valid(at + 1))
            return berr_set(err, BERR_INVALID, "invalid digest in '%s'", s);
        snprintf(ref->digest, sizeof ref->digest, "%s", at + 1);
    }
    char *slash = strrchr(buf, '/');
    char *colon = strrchr(slash ? slash : buf, ':');
    if (colon) {
        *colon = '\0';
        if (!tag_valid(colon + 1))
            return berr_set(err, BERR_INVALID, "invalid tag in '%s'", s);
        snprintf(ref->tag, sizeof ref->tag, "%s", colon + 1);
    }

    char *name = buf;
    char *first = strchr(buf, '/');
    if (first) {
        size_t n = (size_t)(first - buf);
        bool is_host = memchr(buf, '.', n) || memchr(buf, ':', n) ||
                       (n == 9 && strncmp(buf, "localhost", 9) == 0);
        if (is_host) {
            *first = '\0';
            if (!set_field(ref->registry, sizeof ref->registry, "", buf))
                return berr_set(err, BERR_INVALID, "invalid reference: registry name too long");
            name = first + 1;
        }
    }
    if (!ref->registry[0] || strcmp(ref->registry, "index.docker.io") == 0 ||
        strcmp(ref->registry, "registry-1.docker.io") == 0)
        snprintf(ref->registry, sizeof ref->registry, "docker.io");
    bool official = strcmp(ref->registry, "docker.io") == 0 && !strchr(name, '/');
    if (!set_field(ref->repository, sizeof ref->repository, official ? "library/" : "", name))
        return berr_set(err, BERR_INVALID, "invalid reference: repository name too long");

    for (const char *p = ref->repository; *p; p++)
        if (isupper((unsigned char)*p))
            return berr_set(err, BERR_INVALID, "invalid reference '%s': repository name must be lowercase", s);
    if (!repo_name_valid(ref->repository))
        return berr_set(err, BERR_INVALID, "invalid reference '%s': bad repository name", s);
    if (!ref->tag[0] && !ref->digest[0])
        snprintf(ref->tag, sizeof ref->tag, "latest");
    return 0;
}

void berth_ref_format(const struct berth_ref *ref, char *out, size_t len)
{
    if (ref->digest[0] && !ref->tag[0])
        snprintf(out, len, "%s/%s@%s", ref->registry, ref->repository, ref->digest);
    else
        snprintf(out, len, "%s/%s:%s", ref->registry, ref->repository, ref->tag);
}

void berth_ref_familiar(const struct berth_ref *ref, char *out, size_t len)
{
    const char *repo = ref->repository;
    if (strcmp(ref->registry, "docker.io") == 0) {
        if (strncmp(repo, "library/", 8) == 0)
            repo += 8;
        snprintf(out, len, "%s", repo);
    } else {
        snprintf(out, len, "%s/%s", ref->registry, repo);
    }
}
