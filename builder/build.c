/*
 * build.c - `berth build`: a Dockerfile's steps, one image each, as
 * docker's classic builder runs them and prints them.
 *
 * The Dockerfile is cut into its global ARGs (before the first FROM) and
 * its stages (FROM to FROM); stages after --target are dropped and every
 * stage up to it is built, in order. A stage starts from an image of the
 * store (pulled when missing, or always with --pull), from an earlier
 * stage's result, or from scratch; then every instruction makes a new
 * image of the store, unnamed ("intermediate"), whose ID is the next
 * step's parent:
 *
 *   - RUN: a container of the runtime from the current image, with the
 *     build args in effect in its environment; its overlay upper
 *     directory becomes the new layer;
 *   - COPY, ADD: a layer written from the context, or from another
 *     stage's or image's root mounted read-only (context.c);
 *   - the others change the config only (config.c) and add an
 *     empty-layer history entry.
 *
 * Before a step does anything the cache (cache.c) is asked for the image
 * an identical step made; a hit runs nothing. The final image is tagged
 * only once every step has succeeded.
 *
 * Nothing may be left behind by a failed or interrupted build. The build
 * runs in a mount namespace of its own, so that a mount it makes cannot
 * outlive it; a RUN step's container is run by a child process (which is
 * its monitor) while this process copies its output and watches for
 * SIGINT and SIGTERM (run.c): on one of them the container is killed,
 * waited for and removed, and the build stops with 128 + the signal's
 * number.
 */
#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DOCKERFILE_MAX (16u << 20)

/* the args docker lets through without an ARG instruction; they are kept
 * out of history unless a stage declares them */
static const char *const proxy_args[] = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

volatile sig_atomic_t build_signal;

static void on_signal(int sig)
{
    build_signal = sig;
}

struct stage {
    char *name;                  /* AS name, lower case; NULL when none */
    size_t from, end;            /* its instructions: v[from] is its FROM */
    char image[DIGEST_MAX];      /* its result, once built ("" from scratch) */
};

struct build {
    struct berth_store *s;
    struct berth_client *c;
    const struct build_opts *o;
    FILE *out;                   /* progress: o->out, or a buffer with -q */
    char *qbuf;
    size_t qlen;
    struct dockerfile df;
    char dfname[256];            /* "Dockerfile", for "Dockerfile:3" */
    struct bctx *ctx;
    int pin;                     /* rt_layers_pin */
    char platform[64];           /* what FROM pulls and RUN needs */
    char host[64];               /* this machine's */
    json_t *opt_args;            /* --build-arg: name -> value, or null (unset) */
    json_t *meta;                /* ARGs before FROM: name -> default or null */
    json_t *referenced;          /* names some ARG declared */
    struct stage *stages;
    size_t nstages, cur;
    struct df_instr *labels;     /* --label, as LABEL instructions of the last stage */
    size_t nlabels;
    int step, nsteps;
    /* the stage being built */
    char image[DIGEST_MAX];      /* the current image; "" from scratch */
    char stage_platform[64];
    json_t *config;              /* its whole config document */
    json_t *args;                /* the stage's ARGs: name -> default or null */
    bool cmd_set;                /* a CMD of this stage (ENTRYPOINT then keeps it) */
    int *status;                 /* what the command exits with on failure */
};

/* ---- small helpers ------------------------------------------------------------- */

static void host_platform(char *out, size_t len)
{
    struct utsname u;
    const char *arch = "amd64";
    if (uname(&u) == 0) {
        if (strcmp(u.machine, "aarch64") == 0)
            arch = "arm64";
        else if (strncmp(u.machine, "arm", 3) == 0)
            arch = "arm";
        else if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
            arch = "386";
        else if (strcmp(u.machine, "x86_64") != 0)
            arch = u.machine;
    }
    snprintf(out, len, "linux/%.40s", arch);
}

/* "linux/arm64/v8" and "linux/arm64" run on the same machine. */
static bool same_os_arch(const char *a, const char *b)
{
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    if (la != lb || strncmp(a, b, la) != 0 || !a[la] || !b[lb])
        return strcmp(a, b) == 0;
    a += la + 1;
    b += lb + 1;
    la = strcspn(a, "/");
    lb = strcspn(b, "/");
    return la == lb && strncmp(a, b, la) == 0;
}

static bool is_proxy_arg(const char *name)
{
    for (size_t i = 0; i < sizeof proxy_args / sizeof *proxy_args; i++)
        if (strcmp(proxy_args[i], name) == 0)
            return true;
    return false;
}

static const char *short_id(const char *id)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "%.12s", id[0] && strchr(id, ':') ? strchr(id, ':') + 1 : id);
    return buf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Words joined by spaces, as docker prints a command. */
static char *join_words(json_t *words)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    size_t i;
    json_t *w;
    if (!f)
        return NULL;
    json_array_foreach(words, i, w)
        fprintf(f, "%s%s", i ? " " : "", json_string_value(w) ? json_string_value(w) : "");
    fclose(f);
    return s;
}

static void progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct build *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(b->out, fmt, ap);
    va_end(ap);
    fflush(b->out);
}

int build_interrupted(int *status, struct berr *err)
{
    if (!build_signal)
        return 0;
    *status = 128 + build_signal;
    return berr_set(err, BERR_IO, "Build cancelled (%s)", sigabbrev_np(build_signal)
                    ? sigabbrev_np(build_signal) : "signal");
}

/* ---- build args and variables --------------------------------------------------- */

/* A build arg's value in the stage, as docker's BuildArgs.getBuildArg:
 * --build-arg first, then the stage's default, then the global ARG's. Only
 * args the stage declared, and the proxy args, are in effect. */
static const char *arg_value(struct build *b, const char *name)
{
    json_t *decl = json_object_get(b->args, name);
    if (!decl && !is_proxy_arg(name))
        return NULL;
    json_t *opt = json_object_get(b->opt_args, name);
    if (json_is_string(opt))
        return json_string_value(opt);
    if (json_is_string(decl))
        return json_string_value(decl);
    json_t *m = json_object_get(b->meta, name);
    return json_is_string(m) ? json_string_value(m) : NULL;
}

/* Variables before the first FROM and in FROM lines: the global ARGs. */
static const char *meta_lookup(void *arg, const char *name)
{
    struct build *b = arg;
    if (!json_object_get(b->meta, name) && !is_proxy_arg(name))
        return NULL;
    json_t *opt = json_object_get(b->opt_args, name);
    if (json_is_string(opt))
        return json_string_value(opt);
    json_t *m = json_object_get(b->meta, name);
    return json_is_string(m) ? json_string_value(m) : NULL;
}

static const char *env_get(json_t *config, const char *name)
{
    json_t *env = json_object_get(json_object_get(config, "config"), "Env");
    size_t n = strlen(name), i;
    json_t *v;
    const char *found = NULL;
    json_array_foreach(env, i, v) {
        const char *kv = json_string_value(v);
        if (kv && strncmp(kv, name, n) == 0 && kv[n] == '=')
            found = kv + n + 1;
    }
    return found;
}

/* Variables in a stage: the config's Env, then the build args in effect. */
static const char *stage_lookup(void *arg, const char *name)
{
    struct build *b = arg;
    const char *v = env_get(b->config, name);
    return v ? v : arg_value(b, name);
}

/* The build args a RUN gets in its environment (docker's FilterAllowed:
 * those with a value that the Env does not set), sorted, "K=V". With
 * `history`, only those docker writes into created_by: the proxy args
 * only when the stage declared them. */
static json_t *args_in_effect(struct build *b, bool history)
{
    json_t *names = json_object(), *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(b->args, k, v)
        json_object_set_new(names, k, json_true());
    for (size_t i = 0; i < sizeof proxy_args / sizeof *proxy_args; i++)
        json_object_set_new(names, proxy_args[i], json_true());
    size_t n = json_object_size(names), i = 0;
    char **list = calloc(n + 1, sizeof *list);
    json_object_foreach(names, k, v) {
        const char *val = arg_value(b, k);
        if (!val || env_get(b->config, k))
            continue;
        if (history && is_proxy_arg(k) && !json_object_get(b->args, k))
            continue;
        if (list && asprintf(&list[i], "%s=%s", k, val) >= 0)
            i++;
    }
    if (list) {
        qsort(list, i, sizeof *list, cmp_str);
        for (size_t j = 0; j < i; j++) {
            json_array_append_new(out, json_string(list[j]));
            free(list[j]);
        }
    }
    free(list);
    json_decref(names);
    return out;
}

/* The history build args as one string, for the cache key. */
static char *args_key(struct build *b)
{
    json_t *a = args_in_effect(b, true);
    char *s = join_words(a);
    json_decref(a);
    return s;
}

/* ---- the current image ---------------------------------------------------------- */

static json_t *scratch_config(const char *platform)
{
    char os[32] = "linux", arch[32] = "amd64", variant[32] = "";
    sscanf(platform, "%31[^/]/%31[^/]/%31s", os, arch, variant);
    json_t *doc = json_pack("{s:s,s:s,s:{},s:{s:s,s:[]},s:[]}", "architecture", arch, "os", os,
                            "config", "rootfs", "type", "layers", "diff_ids", "history");
    if (variant[0])
        json_object_set_new(doc, "variant", json_string(variant));
    return doc;
}

/* Make `id` the current image (its config read from the store). */
static int set_image(struct build *b, const char *id, struct berr *err)
{
    json_t *config = NULL;
    if (berth_image_get(b->s, id, NULL, &config, NULL, err) < 0)
        return -BERR_NOTFOUND;
    if (!json_is_object(json_object_get(config, "config")))
        json_object_set_new(config, "config", json_object());
    json_decref(b->config);
    b->config = config;
    snprintf(b->image, sizeof b->image, "%s", id);
    return 0;
}

/* The cache key's parent: the image, or scratch of a platform. */
static void parent_key(struct build *b, char *out, size_t len)
{
    if (b->image[0])
        snprintf(out, len, "%s", b->image);
    else
        snprintf(out, len, "scratch:%s", b->stage_platform);
}

/* A step's result: from the cache (printing docker's " ---> Using cache"),
 * or NULL key when the step must be made. */
static bool cache_hit(struct build *b, const char *key)
{
    char id[DIGEST_MAX];
    struct berr err = {0};
    if (b->o->no_cache || cache_lookup(b->s, key, id) < 0 || set_image(b, id, &err) < 0)
        return false;
    progress(b, " ---> Using cache\n");
    return true;
}

/* Commit the step's image over the current one and make it current. */
static int commit_step(struct build *b, const struct berth_layer *layer, const char *created_by,
                       const char *key, struct berr *err)
{
    struct berth_commit c = {
        .parent = b->image[0] ? b->image : NULL,
        .layer = layer,
        .config = json_object_get(b->config, "config"),
        .created_by = created_by,
        .author = json_string_value(json_object_get(b->config, "author")),
        .platform = b->image[0] ? NULL : b->stage_platform,
        .intermediate = true,
    };
    char id[DIGEST_MAX];
    int rc = berth_image_commit(b->s, &c, id, err);
    if (rc == 0)
        rc = set_image(b, id, err);
    if (rc == 0 && key) {
        struct berr ignore = {0};
        cache_store(b->s, key, id, &ignore);   /* a cache that cannot be written is no failure */
    }
    return rc;
}

/* "/bin/sh -c #(nop) " + text, with the SHELL in effect. */
static char *nop_created_by(struct build *b, const char *text)
{
    json_t *sh = df_shell(b->config);
    json_array_append_new(sh, json_string("#(nop) "));
    json_array_append_new(sh, json_string(text));
    char *s = join_words(sh);
    json_decref(sh);
    return s;
}

/* ---- root views (COPY's parent and --from) ---------------------------------------- */

/* The image's root, mounted read-only; *path NULL for an image with no
 * layers. */
static int image_view(struct build *b, const char *image, char **path, struct berr *err)
{
    char **dirs = NULL;
    size_t n = 0;
    *path = NULL;
    int rc = rt_image_layers(b->s, image, &dirs, &n, err);
    if (rc == 0 && n > 0)
        rc = rootview_mount(dirs, n, path, err);
    for (size_t i = 0; dirs && dirs[i]; i++)
        free(dirs[i]);
    free(dirs);
    return rc;
}

/* ---- FROM: images, stages, pulls ------------------------------------------------------ */

static struct stage *stage_named(struct build *b, const char *name, bool by_index)
{
    for (size_t i = 0; i < b->cur; i++)
        if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
            return &b->stages[i];
    if (by_index && *name && strspn(name, "0123456789") == strlen(name)) {
        unsigned long i = strtoul(name, NULL, 10);
        if (i < b->cur)
            return &b->stages[i];
    }
    return NULL;
}

/* Is the image's config for `platform` ("os/arch[/variant]")? */
static bool image_platform_is(json_t *config, const char *platform)
{
    char os[32] = "", arch[32] = "", variant[32] = "";
    sscanf(platform, "%31[^/]/%31[^/]/%31s", os, arch, variant);
    const char *cos = json_string_value(json_object_get(config, "os"));
    const char *carch = json_string_value(json_object_get(config, "architecture"));
    const char *cvar = json_string_value(json_object_get(config, "variant"));
    return cos && carch && strcmp(cos, os) == 0 && strcmp(carch, arch) == 0 &&
           (!variant[0] || (cvar && strcmp(cvar, variant) == 0));
}

/* An image of the store by name, pulled when it is missing, when it is
 * for another platform than one asked for, or always with `pull`. `id`
 * gets its ID (the config digest). */
static int image_resolve(struct build *b, const char *name, const char *platform, bool pull,
                         char id[DIGEST_MAX], struct berr *err)
{
    json_t *manifest = NULL, *config = NULL;
    char have[64] = "";
    int rc = pull ? -BERR_NOTFOUND : berth_image_get(b->s, name, &manifest, &config, NULL, err);
    bool explicit = b->o->platform || strcmp(platform, b->platform) != 0;
    if (rc == 0 && explicit && !image_platform_is(config, platform)) {
        snprintf(have, sizeof have, "%.20s/%.20s",
                 json_string_value(json_object_get(config, "os")) ?: "?",
                 json_string_value(json_object_get(config, "architecture")) ?: "?");
        json_decref(manifest);
        manifest = NULL;
        rc = -BERR_NOTFOUND;
    }
    json_decref(config);
    if (rc < 0 && (pull || have[0] || err->code == BERR_NOTFOUND)) {
        struct berth_ref ref;
        char digest[DIGEST_MAX];
        if (berth_ref_parse(name, &ref, err) < 0)
            return -BERR_INVALID;
        if (!b->c)
            return berr_set(err, BERR_NOTFOUND, "pull access denied for %s: no registry client",
                            name);
        fflush(b->out);
        rc = berth_pull(b->c, b->s, name, platform, digest, err);
        if (rc == 0)
            rc = berth_image_get(b->s, name, &manifest, NULL, NULL, err);
        if (rc < 0 && have[0]) {
            char why[256];
            memcpy(why, err->msg, sizeof why);
            return berr_set(err, BERR_NOTFOUND, "image %s is for %s, not %s, and the %s one "
                            "could not be pulled: %s", name, have, platform, platform, why);
        }
    }
    if (rc < 0)
        return rc;
    const char *cd = json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    if (!cd)
        rc = berr_set(err, BERR_INVALID, "image %s has no config", name);
    else
        snprintf(id, DIGEST_MAX, "%s", cd);
    json_decref(manifest);
    return rc;
}

/* The stage's FROM: its base, then the base's ONBUILD triggers. */
static int dispatch(struct build *b, const struct df_instr *in, struct berr *err);

static int run_triggers(struct build *b, json_t *triggers, struct berr *err)
{
    size_t n = json_array_size(triggers), i;
    json_t *t;
    if (n == 0)
        return 0;
    progress(b, "# Executing %zu build trigger%s\n", n, n > 1 ? "s" : "");
    json_array_foreach(triggers, i, t) {
        const char *text = json_string_value(t);
        struct dockerfile df = {0};
        int rc = text ? df_parse_fragment(text, strlen(text), b->dfname, &df, err)
                      : berr_set(err, BERR_INVALID, "invalid ONBUILD trigger");
        if (rc == 0 && df.n != 1)
            rc = berr_set(err, BERR_INVALID, "onbuild trigger should be a single expression");
        if (rc == 0 && (df.v[0].kind == DF_FROM || df.v[0].kind == DF_ONBUILD ||
                        df.v[0].kind == DF_MAINTAINER))
            rc = berr_set(err, BERR_INVALID, "%s isn't allowed as an ONBUILD trigger", text);
        if (rc == 0)
            rc = dispatch(b, &df.v[0], err);
        dockerfile_free(&df);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int stage_begin(struct build *b, struct stage *st, struct berr *err)
{
    const struct df_instr *in = &b->df.v[st->from];
    char **words = NULL;
    size_t n = 0;
    int rc = df_words(in->args[0], b->df.escape, meta_lookup, b, &words, &n, err);
    if (rc < 0)
        return rc;
    if (n == 0 || !words[0][0]) {
        df_words_free(words);
        return berr_set(err, BERR_INVALID, "%s:%d: base name (%s) should not be blank", b->dfname,
                        in->line, in->args[0]);
    }
    const char *plat_flag = df_flag(in, "platform");
    char *plat = NULL;
    if (plat_flag && df_expand(plat_flag, b->df.escape, meta_lookup, b, &plat, err) < 0) {
        df_words_free(words);
        return -BERR_INVALID;
    }
    snprintf(b->stage_platform, sizeof b->stage_platform, "%s", plat && *plat ? plat : b->platform);
    free(plat);
    json_decref(b->args);
    b->args = json_object();
    b->cmd_set = false;
    b->image[0] = '\0';
    json_decref(b->config);
    b->config = NULL;
    const char *base = words[0];
    struct stage *prev = stage_named(b, base, false);
    if (strcasecmp(base, "scratch") == 0) {
        b->config = scratch_config(b->stage_platform);
    } else if (prev) {
        if (prev->image[0])
            rc = set_image(b, prev->image, err);
        else
            b->config = scratch_config(b->stage_platform);
    } else {
        char id[DIGEST_MAX];
        rc = image_resolve(b, base, b->stage_platform, b->o->pull, id, err);
        if (rc == 0)
            rc = set_image(b, id, err);
    }
    df_words_free(words);
    if (rc < 0)
        return rc;
    /* with no platform asked for, the steps' is the base image's */
    const char *os = json_string_value(json_object_get(b->config, "os"));
    const char *arch = json_string_value(json_object_get(b->config, "architecture"));
    const char *variant = json_string_value(json_object_get(b->config, "variant"));
    if (!plat_flag && !b->o->platform && b->image[0] && os && arch)
        snprintf(b->stage_platform, sizeof b->stage_platform, "%.20s/%.20s%s%.20s", os, arch,
                 variant && *variant ? "/" : "", variant && *variant ? variant : "");
    /* docker's default PATH, for the steps (and in every image they make) */
    json_t *cfg = json_object_get(b->config, "config");
    if (!env_get(b->config, "PATH")) {
        json_t *env = json_object_get(cfg, "Env");
        if (!json_is_array(env))
            json_object_set_new(cfg, "Env", env = json_array());
        json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
    }
    json_t *triggers = json_incref(json_object_get(cfg, "OnBuild"));
    json_object_del(cfg, "OnBuild");
    rc = run_triggers(b, triggers, err);
    json_decref(triggers);
    return rc;
}

/* ---- config-only instructions and ARG ---------------------------------------------- */

/* A directory entry of a layer: attributes as `st`, or root's 0755 now. */
static int layer_dir(struct archive *a, const char *path, const struct stat *st,
                     struct berr *err)
{
    struct archive_entry *ae = archive_entry_new();
    char name[4200];
    snprintf(name, sizeof name, "%s/", path);
    archive_entry_set_pathname(ae, name);
    archive_entry_set_filetype(ae, AE_IFDIR);
    archive_entry_set_perm(ae, st ? st->st_mode & 07777 : 0755);
    archive_entry_set_uid(ae, st ? st->st_uid : 0);
    archive_entry_set_gid(ae, st ? st->st_gid : 0);
    archive_entry_set_mtime(ae, st ? st->st_mtim.tv_sec : time(NULL), 0);
    int rc = archive_write_header(a, ae) == ARCHIVE_OK
                 ? 0 : berr_set(err, BERR_IO, "cannot write a layer: %s", archive_error_string(a));
    archive_entry_free(ae);
    return rc;
}

/* WORKDIR makes its directory, as docker's builder does: a layer with the
 * directories missing from the image (root's, 0755) and the existing ones
 * above them. *made false when nothing was missing (or a symlink is on the
 * way: the runtime makes what is missing when a container starts). */
static int workdir_layer(struct build *b, struct berth_layer *layer, bool *made,
                         struct berr *err)
{
    const char *wd = json_string_value(json_object_get(json_object_get(b->config, "config"),
                                                       "WorkingDir"));
    *made = false;
    if (!wd || wd[0] != '/' || strlen(wd) >= 4000)
        return 0;
    char *root = NULL, path[4096] = "";
    if (b->image[0] && image_view(b, b->image, &root, err) < 0)
        return -BERR_IO;
    struct stat parents[64];
    char *names[64];
    size_t nparents = 0;
    struct berth_layer_writer *w = NULL;
    int rc = 0;
    char *copy = strdup(wd), *save = NULL;
    for (char *c = copy ? strtok_r(copy, "/", &save) : NULL; c && rc == 0;
         c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
            break;
        size_t len = strlen(path);
        snprintf(path + len, sizeof path - len, "%s%s", len ? "/" : "", c);
        char full[8200];
        struct stat st;
        snprintf(full, sizeof full, "%s/%s", root ? root : "", path);
        if (!w && root && lstat(full, &st) == 0) {
            if (!S_ISDIR(st.st_mode) || nparents == 64)
                break;
            parents[nparents] = st;
            names[nparents++] = strdup(path);
            continue;
        }
        if (!w) {
            rc = berth_layer_new(b->s, &w, err);
            for (size_t i = 0; rc == 0 && i < nparents; i++)
                rc = layer_dir(berth_layer_archive(w), names[i], &parents[i], err);
        }
        if (rc == 0)
            rc = layer_dir(berth_layer_archive(w), path, NULL, err);
    }
    if (rc == 0 && w) {
        rc = berth_layer_finish(w, layer, err);
        *made = rc == 0;
    }
    berth_layer_free(w);
    for (size_t i = 0; i < nparents; i++)
        free(names[i]);
    free(copy);
    if (root)
        rootview_umount(root);
    return rc;
}

static int config_step(struct build *b, const struct df_instr *in, struct berr *err)
{
    json_t *doc = json_deep_copy(b->config);
    char *created_by = NULL, *args = args_key(b);
    char parent[DIGEST_MAX + 80], key[DIGEST_MAX];
    int rc = df_apply_config_stage(in, doc, stage_lookup, b, &b->cmd_set, &created_by, err);
    if (rc == 0) {
        parent_key(b, parent, sizeof parent);
        cache_key(parent, created_by, args, "", key);
        if (!cache_hit(b, key)) {
            json_t *old = b->config;
            struct berth_layer layer;
            bool made = false;
            b->config = doc;
            doc = old;
            if (in->kind == DF_WORKDIR)
                rc = workdir_layer(b, &layer, &made, err);
            if (rc == 0)
                rc = commit_step(b, made ? &layer : NULL, created_by, key, err);
        }
    }
    json_decref(doc);
    free(created_by);
    free(args);
    return rc;
}

/* An ARG's names and defaults, [name, value or null] pairs, every default
 * expanded with what was in effect before the instruction (docker expands
 * an instruction's words before it runs it: "ARG A=1 B=$A" does not see
 * this A). */
static json_t *arg_values(struct build *b, const struct df_instr *in, df_lookup_fn lookup,
                          struct berr *err)
{
    json_t *vals = json_array();
    for (size_t i = 0; i < in->nargs; i += 2) {
        const char *def = i + 1 < in->nargs ? in->args[i + 1] : NULL;
        char *value = NULL;
        if (def && df_expand(def, b->df.escape, lookup, b, &value, err) < 0) {
            json_decref(vals);
            return NULL;
        }
        json_array_append_new(vals, json_pack("[s,o]", in->args[i],
                                              value ? json_string(value) : json_null()));
        free(value);
    }
    return vals;
}

/* ARG name[=default]...: declared in the stage, recorded in history. */
static int arg_step(struct build *b, const struct df_instr *in, struct berr *err)
{
    json_t *vals = arg_values(b, in, stage_lookup, err), *v;
    if (!vals)
        return -BERR_INVALID;
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        json_decref(vals);
        return berr_set(err, BERR_IO, "out of memory");
    }
    fputs("ARG", f);
    json_array_foreach(vals, i, v) {
        const char *name = json_string_value(json_array_get(v, 0));
        json_t *value = json_array_get(v, 1);
        fprintf(f, " %s%s%s", name, json_is_string(value) ? "=" : "",
                json_is_string(value) ? json_string_value(value) : "");
        json_object_set(b->args, name, value);
        json_object_set_new(b->referenced, name, json_true());
    }
    fclose(f);
    json_decref(vals);
    char *created_by = nop_created_by(b, text), *args = args_key(b);
    char parent[DIGEST_MAX + 80], key[DIGEST_MAX];
    parent_key(b, parent, sizeof parent);
    cache_key(parent, created_by, args, "", key);
    int rc = cache_hit(b, key) ? 0 : commit_step(b, NULL, created_by, key, err);
    free(created_by);
    free(args);
    free(text);
    return rc;
}

/* ARG before the first FROM: into the global args. */
static int meta_arg(struct build *b, const struct df_instr *in, struct berr *err)
{
    json_t *vals = arg_values(b, in, meta_lookup, err), *v;
    size_t i;
    if (!vals)
        return -BERR_INVALID;
    json_array_foreach(vals, i, v) {
        const char *name = json_string_value(json_array_get(v, 0));
        json_object_set(b->meta, name, json_array_get(v, 1));
        json_object_set_new(b->referenced, name, json_true());
    }
    json_decref(vals);
    return 0;
}

/* ---- RUN (its command: run.c) ---------------------------------------------------------- */

/* run.c's commit of the step's layer: the image, and the cache. */
struct run_commit {
    struct build *b;
    const char *created_by, *key;
};

static int commit_run_layer(void *arg, const struct berth_layer *layer, struct berr *err)
{
    struct run_commit *c = arg;
    return commit_step(c->b, layer, c->created_by, c->key, err);
}

static int run_step(struct build *b, const struct df_instr *in, struct berr *err)
{
    json_t *argv;
    if (in->json) {
        argv = json_array();
        for (size_t i = 0; i < in->nargs; i++)
            json_array_append_new(argv, json_string(in->args[i]));
    } else {
        argv = df_shell(b->config);
        json_array_append_new(argv, json_string(in->nargs ? in->args[0] : ""));
    }
    json_t *env = args_in_effect(b, false), *shown = args_in_effect(b, true);
    char *cmd = join_words(argv), *created_by = NULL, *args = join_words(shown);
    if (json_array_size(env) > 0) {
        char *prefix = join_words(shown);
        if (asprintf(&created_by, "|%zu%s%s %s", json_array_size(shown), *prefix ? " " : "",
                     prefix, cmd) < 0)
            created_by = NULL;
        free(prefix);
    } else {
        created_by = strdup(cmd);
    }
    char parent[DIGEST_MAX + 80], key[DIGEST_MAX];
    parent_key(b, parent, sizeof parent);
    cache_key(parent, created_by, args, "", key);
    int rc = 0;
    if (cache_hit(b, key))
        goto out;
    if (!b->image[0]) {
        rc = berr_set(err, BERR_INVALID, "The command '%s' cannot run: the image is empty "
                      "(FROM scratch)", cmd);
        goto out;
    }
    if (!same_os_arch(b->stage_platform, b->host)) {
        rc = berr_set(err, BERR_UNSUPPORTED, "The command '%s' cannot run: the image is for "
                      "%s, this machine is %s", cmd, b->stage_platform, b->host);
        goto out;
    }
    struct run_commit commit = {b, created_by, key};
    struct run_cmd r = {
        .s = b->s, .image = b->image, .network_none = b->o->network_none, .out = b->out,
        .argv = argv, .env = env, .cmd = cmd, .status = b->status,
        .commit = commit_run_layer, .arg = &commit,
    };
    rc = run_command(&r, err);
out:
    json_decref(argv);
    json_decref(env);
    json_decref(shown);
    free(cmd);
    free(created_by);
    free(args);
    return rc;
}

/* ---- COPY and ADD ---------------------------------------------------------------------- */

/* created_by as copy_prepare writes it, with the SHELL in effect. */
static char *copy_created_by(struct build *b, char *cb)
{
    const char *def = "/bin/sh -c ";
    if (!cb || strncmp(cb, def, strlen(def)) != 0)
        return cb;
    json_t *sh = df_shell(b->config);
    char *prefix = join_words(sh), *out = NULL;
    json_decref(sh);
    if (prefix && strcmp(prefix, "/bin/sh -c") != 0 &&
        asprintf(&out, "%s %s", prefix, cb + strlen(def)) >= 0) {
        free(cb);
        cb = out;
    }
    free(prefix);
    return cb;
}

static int copy_step(struct build *b, const struct df_instr *in, struct berr *err)
{
    char **words = NULL;
    size_t n = 0;
    int rc = 0;
    bool add = in->kind == DF_ADD;
    const char *what = add ? "ADD" : "COPY";
    if (in->json) {
        words = calloc(in->nargs + 1, sizeof *words);
        for (size_t i = 0; words && rc == 0 && i < in->nargs; i++, n++)
            rc = df_expand(in->args[i], b->df.escape, stage_lookup, b, &words[i], err);
        if (!words)
            rc = berr_set(err, BERR_IO, "out of memory");
    } else {
        rc = df_words(in->nargs ? in->args[0] : "", b->df.escape, stage_lookup, b, &words, &n, err);
    }
    if (rc == 0 && n < 2)
        rc = berr_set(err, BERR_INVALID, "%s:%d: %s requires at least two arguments, but only "
                      "%zu provided", b->dfname, in->line, what, n);
    char *chown = NULL, *from_root = NULL, *parent_root = NULL, *created_by = NULL;
    const char *from = df_flag(in, "from");
    if (rc == 0 && df_flag(in, "chown") &&
        df_expand(df_flag(in, "chown"), b->df.escape, stage_lookup, b, &chown, err) < 0)
        rc = -BERR_INVALID;
    if (rc == 0 && from) {
        char id[DIGEST_MAX] = "";
        struct stage *st = stage_named(b, from, true);
        if (b->stages[b->cur].name && strcasecmp(b->stages[b->cur].name, from) == 0)
            rc = berr_set(err, BERR_INVALID, "invalid from flag value %s: refers to current "
                          "build stage", from);
        else if (st)
            snprintf(id, sizeof id, "%s", st->image);
        else
            rc = image_resolve(b, from, b->stage_platform, false, id, err);
        if (rc == 0 && id[0])
            rc = image_view(b, id, &from_root, err);
        if (rc == 0 && !from_root)
            rc = berr_set(err, BERR_INVALID, "%s --from=%s: the image has no files", what, from);
    }
    if (rc == 0 && b->image[0])
        rc = image_view(b, b->image, &parent_root, err);
    struct copy_plan *plan = NULL;
    char hash[DIGEST_MAX] = "", line[300];
    snprintf(line, sizeof line, "%s:%d", b->dfname, in->line);
    if (rc == 0) {
        const char *wd = json_string_value(json_object_get(json_object_get(b->config, "config"),
                                                           "WorkingDir"));
        struct copy_step cs = {
            .ctx = from ? NULL : b->ctx,
            .from_root = from_root,
            .srcs = words,
            .nsrcs = n - 1,
            .dest = words[n - 1],
            .workdir = wd,
            .parent_root = parent_root,
            .chown = chown,
            .chmod = df_flag(in, "chmod"),
            .add = add,
            .line = line,
        };
        if (!from && !b->ctx)
            rc = berr_set(err, BERR_INVALID, "%s failed: no build context (the Dockerfile came "
                          "from stdin)", what);
        else
            rc = copy_prepare(&cs, &plan, hash, &created_by, err);
    }
    if (rc == 0) {
        char *args = args_key(b);
        char parent[DIGEST_MAX + 80], key[DIGEST_MAX];
        created_by = copy_created_by(b, created_by);
        parent_key(b, parent, sizeof parent);
        cache_key(parent, created_by, args, hash, key);
        free(args);
        if (!cache_hit(b, key)) {
            struct berth_layer layer;
            rc = copy_layer(b->s, plan, &layer, err);
            if (rc == 0)
                rc = commit_step(b, &layer, created_by, key, err);
        }
    }
    copy_plan_free(plan);
    if (from_root)
        rootview_umount(from_root);
    if (parent_root)
        rootview_umount(parent_root);
    free(chown);
    free(created_by);
    if (in->json) {
        for (size_t i = 0; words && i < n; i++)
            free(words[i]);
        free(words);
    } else {
        df_words_free(words);
    }
    return rc;
}

/* ---- one instruction -------------------------------------------------------------------- */

static int dispatch(struct build *b, const struct df_instr *in, struct berr *err)
{
    int rc = build_interrupted(b->status, err);
    if (rc < 0)
        return rc;
    switch (in->kind) {
    case DF_RUN: rc = run_step(b, in, err); break;
    case DF_COPY:
    case DF_ADD: rc = copy_step(b, in, err); break;
    case DF_ARG: rc = arg_step(b, in, err); break;
    case DF_FROM:
        rc = berr_set(err, BERR_INVALID, "%s:%d: FROM in the middle of a stage", b->dfname,
                      in->line);
        break;
    default: rc = config_step(b, in, err); break;
    }
    if (rc == 0)
        rc = build_interrupted(b->status, err);
    return rc;
}

/* ---- planning: global ARGs, stages, --target, --label --------------------------------- */

static int plan_stages(struct build *b, struct berr *err)
{
    size_t nmeta = 0;
    b->stages = calloc(b->df.n + 1, sizeof *b->stages);
    if (!b->stages)
        return berr_set(err, BERR_IO, "out of memory");
    for (size_t i = 0; i < b->df.n; i++) {
        const struct df_instr *in = &b->df.v[i];
        if (in->kind == DF_FROM) {
            struct stage *st = &b->stages[b->nstages++];
            st->from = i;
            st->end = b->df.n;
            if (b->nstages > 1)
                b->stages[b->nstages - 2].end = i;
            /* the words as written: the base is expanded when the stage starts */
            char *w[4] = {0}, *line = strdup(in->nargs ? in->args[0] : ""), *save = NULL;
            size_t n = 0;
            for (char *t = line ? strtok_r(line, " \t", &save) : NULL; t;
                 t = strtok_r(NULL, " \t", &save))
                w[n < 4 ? n : 3] = t, n++;
            int rc = 0;
            if (n != 1 && !(n == 3 && strcasecmp(w[1], "as") == 0))
                rc = berr_set(err, BERR_INVALID, "%s:%d: FROM requires either one or three "
                              "arguments", b->dfname, in->line);
            if (rc == 0 && n == 3) {
                for (char *p = w[2]; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                if (!islower((unsigned char)w[2][0]) ||
                    strspn(w[2], "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(w[2]))
                    rc = berr_set(err, BERR_INVALID, "%s:%d: invalid name for build stage: "
                                  "\"%s\", name can't start with a number or contain symbols",
                                  b->dfname, in->line, w[2]);
                for (size_t k = 0; rc == 0 && k + 1 < b->nstages; k++)
                    if (b->stages[k].name && strcmp(b->stages[k].name, w[2]) == 0)
                        rc = berr_set(err, BERR_INVALID, "%s:%d: duplicate name %s", b->dfname,
                                      in->line, w[2]);
                if (rc == 0)
                    st->name = strdup(w[2]);
            }
            free(line);
            if (rc < 0)
                return rc;
        } else if (b->nstages == 0 && in->kind == DF_ARG) {
            nmeta++;
        } else if (b->nstages == 0) {
            return berr_set(err, BERR_INVALID, "%s:%d: no build stage in current context",
                            b->dfname, in->line);
        }
    }
    if (b->nstages == 0)
        return berr_set(err, BERR_INVALID, b->df.n ? "%s: no FROM instruction: no build stage"
                                                   : "the Dockerfile (%s) cannot be empty",
                        b->dfname);
    if (b->o->target) {
        size_t t = b->nstages;
        for (size_t i = 0; i < b->nstages; i++)
            if (b->stages[i].name && strcasecmp(b->stages[i].name, b->o->target) == 0)
                t = i;
        if (t == b->nstages)
            return berr_set(err, BERR_NOTFOUND, "failed to reach build target %s in Dockerfile",
                            b->o->target);
        b->nstages = t + 1;
    }
    b->nsteps = (int)nmeta;
    for (size_t i = 0; i < b->nstages; i++)
        b->nsteps += (int)(b->stages[i].end - b->stages[i].from);
    return 0;
}

/* '...' with every ' as '"'"', so that df_expand gives the text back. */
static char *quote_literal(const char *s)
{
    char *q = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&q, &len);
    if (!f)
        return NULL;
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\"'\"'", f);
        else
            fputc(*s, f);
    fputc('\'', f);
    fclose(f);
    return q;
}

/* --label K=V: LABEL instructions appended to the last stage, by key. */
static int plan_labels(struct build *b, struct berr *err)
{
    size_t n = b->o->nlabels;
    if (n == 0)
        return 0;
    json_t *labels = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *kv = b->o->labels[i], *eq = strchr(kv, '=');
        char *k = eq ? strndup(kv, (size_t)(eq - kv)) : strdup(kv);
        if (k && *k)
            json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        free(k);
    }
    size_t m = json_object_size(labels), i = 0;
    char **keys = calloc(m + 1, sizeof *keys);
    b->labels = calloc(m + 1, sizeof *b->labels);
    if (!keys || !b->labels) {
        free(keys);
        json_decref(labels);
        return berr_set(err, BERR_IO, "out of memory");
    }
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
        keys[i++] = (char *)k;
    qsort(keys, m, sizeof *keys, cmp_str);
    for (i = 0; i < m; i++) {
        struct df_instr *in = &b->labels[b->nlabels++];
        const char *val = json_string_value(json_object_get(labels, keys[i]));
        in->kind = DF_LABEL;
        if (asprintf(&in->text, "LABEL %s=%s", keys[i], val) < 0)
            in->text = NULL;
        in->args = calloc(3, sizeof *in->args);
        if (in->args) {
            in->args[0] = quote_literal(keys[i]);
            in->args[1] = quote_literal(val);
            in->nargs = 2;
        }
    }
    free(keys);
    json_decref(labels);
    b->nsteps += (int)b->nlabels;
    return 0;
}

/* ---- the Dockerfile, the context ----------------------------------------------------------- */

static int read_fd(int fd, char **text, size_t *len, const char *what, struct berr *err)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            if (cap >= DOCKERFILE_MAX) {
                free(buf);
                return berr_set(err, BERR_TOOBIG, "%s is too large", what);
            }
            char *grown = realloc(buf, cap * 2 + 1);
            if (!grown)
                break;
            buf = grown;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            return berr_set(err, BERR_IO, "cannot read %s: %s", what, strerror(errno));
        }
        if (r == 0) {
            buf[n] = '\0';
            *text = buf;
            *len = n;
            return 0;
        }
        n += (size_t)r;
    }
    free(buf);
    return berr_set(err, BERR_IO, "out of memory");
}

static int read_dockerfile(struct build *b, char **text, size_t *len, struct berr *err)
{
    const struct build_opts *o = b->o;
    bool ctx_stdin = strcmp(o->context, "-") == 0;
    bool file_stdin = o->file && strcmp(o->file, "-") == 0;
    if (ctx_stdin && o->file && !file_stdin)
        return berr_set(err, BERR_INVALID, "ambiguous Dockerfile source: both stdin and flag "
                        "correspond to Dockerfiles");
    if (ctx_stdin && file_stdin)
        return berr_set(err, BERR_INVALID, "invalid argument: can't use stdin for both build "
                        "context and dockerfile");
    if (!ctx_stdin) {
        struct stat st;
        if (stat(o->context, &st) < 0)
            return berr_set(err, BERR_NOTFOUND, "unable to prepare context: path \"%s\" not "
                            "found", o->context);
        if (!S_ISDIR(st.st_mode))
            return berr_set(err, BERR_INVALID, "unable to prepare context: context must be a "
                            "directory: %s", o->context);
    }
    if (ctx_stdin || file_stdin) {
        snprintf(b->dfname, sizeof b->dfname, "Dockerfile");
        return read_fd(0, text, len, "the Dockerfile from stdin", err);
    }
    char path[4096];
    if (o->file)
        snprintf(path, sizeof path, "%s", o->file);
    else
        snprintf(path, sizeof path, "%s/Dockerfile", o->context);
    const char *base = strrchr(path, '/');
    snprintf(b->dfname, sizeof b->dfname, "%.200s", base ? base + 1 : path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char *abs = realpath(o->context, NULL);
        int e = errno;
        if (!o->file && abs)
            snprintf(path, sizeof path, "%s/Dockerfile", abs);
        free(abs);
        (void)e;
        return berr_set(err, BERR_NOTFOUND, "unable to prepare context: unable to evaluate "
                        "symlinks in Dockerfile path: lstat %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return berr_set(err, BERR_INVALID, "unable to prepare context: %s is a directory", path);
    }
    int rc = read_fd(fd, text, len, path, err);
    close(fd);
    return rc;
}

/* --build-arg K=V, or K (its value from our environment, or unset). */
static json_t *parse_build_args(const struct build_opts *o)
{
    json_t *args = json_object();
    for (size_t i = 0; i < o->nbuild_args; i++) {
        const char *kv = o->build_args[i], *eq = strchr(kv, '=');
        if (eq) {
            char *k = strndup(kv, (size_t)(eq - kv));
            if (k && *k)
                json_object_set_new(args, k, json_string(eq + 1));
            free(k);
        } else if (*kv) {
            const char *env = getenv(kv);
            json_object_set_new(args, kv, env ? json_string(env) : json_null());
        }
    }
    return args;
}

/* The tags, checked before anything is built. */
static int check_tags(const struct build_opts *o, struct berr *err)
{
    for (size_t i = 0; i < o->ntags; i++) {
        struct berth_ref ref;
        struct berr e2 = {0};
        if (berth_ref_parse(o->tags[i], &ref, &e2) < 0 || ref.digest[0])
            return berr_set(err, BERR_INVALID, "invalid argument \"%s\" for \"-t, --tag\" flag: "
                            "invalid reference format", o->tags[i]);
    }
    return 0;
}

/* The build gets a mount namespace of its own, nothing shared back. */
static int private_mounts(struct berr *err)
{
    if (unshare(CLONE_NEWNS) < 0)
        return berr_set(err, BERR_IO, "cannot make a mount namespace for the build: %s",
                        strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return berr_set(err, BERR_IO, "cannot make the build's mounts private: %s",
                        strerror(errno));
    return 0;
}

/* ---- the build ---------------------------------------------------------------------------------- */

static int build_stages(struct build *b, struct berr *err)
{
    size_t meta_end = b->stages[0].from;
    for (size_t i = 0; i < meta_end; i++) {
        progress(b, "Step %d/%d : %s\n", ++b->step, b->nsteps, b->df.v[i].text);
        int rc = meta_arg(b, &b->df.v[i], err);
        if (rc < 0)
            return rc;
    }
    for (b->cur = 0; b->cur < b->nstages; b->cur++) {
        struct stage *st = &b->stages[b->cur];
        progress(b, "Step %d/%d : %s\n", ++b->step, b->nsteps, b->df.v[st->from].text);
        int rc = stage_begin(b, st, err);
        if (rc < 0)
            return rc;
        progress(b, " ---> %s\n", short_id(b->image));
        for (size_t i = st->from + 1; i < st->end; i++) {
            progress(b, "Step %d/%d : %s\n", ++b->step, b->nsteps, b->df.v[i].text);
            if ((rc = dispatch(b, &b->df.v[i], err)) < 0)
                return rc;
            progress(b, " ---> %s\n", short_id(b->image));
        }
        for (size_t i = 0; b->cur + 1 == b->nstages && i < b->nlabels; i++) {
            progress(b, "Step %d/%d : %s\n", ++b->step, b->nsteps, b->labels[i].text);
            if ((rc = dispatch(b, &b->labels[i], err)) < 0)
                return rc;
            progress(b, " ---> %s\n", short_id(b->image));
        }
        snprintf(st->image, sizeof st->image, "%s", b->image);
    }
    /* --build-arg that no ARG declared (docker's warning, same words) */
    json_t *unused = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(b->opt_args, k, v)
        if (!json_object_get(b->referenced, k) && !is_proxy_arg(k))
            json_array_append_new(unused, json_string(k));
    if (json_array_size(unused) > 0) {
        size_t n = json_array_size(unused);
        char **names = calloc(n, sizeof *names);
        for (size_t i = 0; names && i < n; i++)
            names[i] = (char *)json_string_value(json_array_get(unused, i));
        if (names)
            qsort(names, n, sizeof *names, cmp_str);
        progress(b, "[Warning] One or more build-args [");
        for (size_t i = 0; names && i < n; i++)
            progress(b, "%s%s", i ? " " : "", names[i]);
        progress(b, "] were not consumed\n");
        free(names);
    }
    json_decref(unused);
    if (!b->image[0])
        return berr_set(err, BERR_INVALID, "No image was generated. Is your Dockerfile empty?");
    return build_interrupted(b->status, err);
}

static int finish_build(struct build *b, char id[DIGEST_MAX], struct berr *err)
{
    const struct build_opts *o = b->o;
    snprintf(id, DIGEST_MAX, "%s", b->image);
    /* an untagged result is an image of its own (docker's <none>), not a
     * step that `builder prune` may take */
    if (o->ntags == 0) {
        int rc = berth_image_unmark_intermediate(b->s, id, err);
        if (rc < 0)
            return rc;
    }
    progress(b, "Successfully built %s\n", short_id(id));
    for (size_t i = 0; i < o->ntags; i++) {
        struct berth_ref ref;
        char name[600];
        int rc = berth_ref_parse(o->tags[i], &ref, err);
        if (rc == 0)
            rc = berth_tag(b->s, id, o->tags[i], err);
        if (rc < 0)
            return rc;
        berth_ref_familiar(&ref, name, sizeof name);
        progress(b, "Successfully tagged %s:%s\n", name, ref.tag[0] ? ref.tag : "latest");
    }
    if (o->iidfile) {
        FILE *f = fopen(o->iidfile, "we");
        if (!f || fputs(id, f) < 0 || fclose(f) != 0)
            return berr_set(err, BERR_IO, "cannot write image ID file %s: %s", o->iidfile,
                            strerror(errno));
    }
    return 0;
}

static void build_free(struct build *b)
{
    if (b->pin >= 0)
        close(b->pin);
    bctx_free(b->ctx);
    for (size_t i = 0; b->stages && i < b->df.n + 1; i++)
        free(b->stages[i].name);
    free(b->stages);
    dockerfile_free(&b->df);
    for (size_t i = 0; i < b->nlabels; i++) {
        free(b->labels[i].text);
        for (size_t k = 0; k < b->labels[i].nargs; k++)
            free(b->labels[i].args[k]);
        free(b->labels[i].args);
    }
    free(b->labels);
    json_decref(b->opt_args);
    json_decref(b->meta);
    json_decref(b->referenced);
    json_decref(b->config);
    json_decref(b->args);
}

int builder_build(struct berth_store *s, struct berth_client *c, const struct build_opts *o,
                  char id[DIGEST_MAX], struct berr *err)
{
    int status_local = 1;
    struct build b = {.s = s, .c = c, .o = o, .pin = -1,
                      .status = o->status ? o->status : &status_local};
    *b.status = 1;
    id[0] = '\0';
    if (o->iidfile)
        unlink(o->iidfile);   /* no stale ID if this build fails */
    b.out = o->out ? o->out : stdout;
    if (o->quiet && !(b.out = open_memstream(&b.qbuf, &b.qlen)))
        return berr_set(err, BERR_IO, "out of memory");
    host_platform(b.host, sizeof b.host);
    snprintf(b.platform, sizeof b.platform, "%s", o->platform ? o->platform : b.host);
    b.opt_args = parse_build_args(o);
    b.meta = json_object();
    b.referenced = json_object();

    /* SA_RESTART: the build's I/O goes on; poll() in a RUN step is
     * interrupted all the same, and the steps check for the signal */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART}, old[3];
    const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
    sigemptyset(&sa.sa_mask);
    build_signal = 0;
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &sa, &old[i]);

    char *text = NULL;
    size_t len = 0;
    int rc = check_tags(o, err);
    if (rc == 0)
        rc = read_dockerfile(&b, &text, &len, err);
    if (rc == 0)
        rc = dockerfile_parse(text, len, b.dfname, &b.df, err);
    free(text);
    if (rc == 0)
        rc = plan_stages(&b, err);
    if (rc == 0)
        rc = plan_labels(&b, err);
    if (rc == 0 && strcmp(o->context, "-") != 0)
        rc = bctx_open(o->context, &b.ctx, err);
    if (rc == 0)
        rc = private_mounts(err);
    if (rc == 0 && (b.pin = rt_layers_pin(s, err)) < 0)
        rc = b.pin;
    if (rc == 0)
        rc = build_stages(&b, err);
    if (rc == 0)
        rc = finish_build(&b, id, err);
    if (rc == 0)
        *b.status = 0;
    else if (build_signal)
        build_interrupted(b.status, err);   /* what was cut short says why */

    if (o->quiet) {
        fclose(b.out);
        if (rc < 0 && b.qbuf)
            fwrite(b.qbuf, 1, b.qlen, stderr);
        free(b.qbuf);
    }
    build_free(&b);
    for (int i = 0; i < 3; i++)
        sigaction(sigs[i], &old[i], NULL);
    return rc;
}
