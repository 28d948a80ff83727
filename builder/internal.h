/*
 * internal.h - what the files of builder/ share (private; the unit tests
 * include it too).
 */
#ifndef BERTH_BUILDER_INTERNAL_H
#define BERTH_BUILDER_INTERNAL_H

#include "builder.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/stat.h>

/* ---- dockerfile.c: the Dockerfile, parsed ------------------------------------- */

enum df_kind {
    DF_FROM, DF_RUN, DF_CMD, DF_ENTRYPOINT, DF_ENV, DF_ARG, DF_LABEL, DF_MAINTAINER,
    DF_EXPOSE, DF_WORKDIR, DF_USER, DF_VOLUME, DF_STOPSIGNAL, DF_SHELL, DF_HEALTHCHECK,
    DF_ONBUILD, DF_COPY, DF_ADD,
};

struct df_flag {
    char *name;                  /* "from" for --from=builder */
    char *value;                 /* "builder"; "" for a flag without '=' */
};

/* One instruction. Nothing in it is expanded yet: variables are
 * substituted when the build reaches it, with the values in effect there
 * (df_expand, df_words). */
struct df_instr {
    enum df_kind kind;
    int line;                    /* of its first line, 1-based */
    char *text;                  /* "RUN apt-get update", continuations joined, as the
                                    cache and the error messages show it */
    struct df_flag *flags;       /* --name=value before the arguments */
    size_t nflags;
    bool json;                   /* exec form: args are the JSON array's strings */
    /* The arguments:
     *  - exec form (json): the array's strings;
     *  - RUN, CMD, ENTRYPOINT, SHELL (shell form), HEALTHCHECK's CMD:
     *    one string, the rest of the line;
     *  - ENV, LABEL: key, value, key, value... (legacy "ENV K V" gives
     *    one pair whose value is the rest of the line), raw: quotes and
     *    escapes are still there, for df_expand to process;
     *  - ARG: name, default or NULL, name, default or NULL...;
     *  - the others (FROM, COPY, ADD, EXPOSE, WORKDIR, USER, VOLUME,
     *    STOPSIGNAL, MAINTAINER): the rest of the line as one raw string,
     *    for df_words; VOLUME may be json. */
    char **args;
    size_t nargs;
    /* HEALTHCHECK: NONE gives nargs 0 and json false with kind kept;
     * ONBUILD: the instruction it holds (not itself ONBUILD, FROM or
     * MAINTAINER), with `text` its own text without "ONBUILD " (also
     * ONBUILD's one argument: the trigger as the config records it). */
    struct df_instr *sub;
    char escape;                 /* the file's escape character, for df_expand */
};

struct dockerfile {
    struct df_instr *v;
    size_t n;
    char escape;                 /* '\\' or '`' (the escape directive) */
    char *syntax;                /* the syntax directive, or NULL */
};

/* Parse a whole Dockerfile. Errors name the file and line as docker's do:
 * "Dockerfile:3: unknown instruction: FROBNICATE". Comments, blank lines,
 * parser directives (only before anything else) and line continuations
 * are handled here. */
int dockerfile_parse(const char *text, size_t len, const char *filename, struct dockerfile *out,
                     struct berr *err);
void dockerfile_free(struct dockerfile *df);
/* The value of a flag, or NULL when not given. */
const char *df_flag(const struct df_instr *in, const char *name);
/* Lines of a Dockerfile without the checks of a whole file (a FROM first,
 * not empty): an ONBUILD trigger when a stage starts from its image. */
int df_parse_fragment(const char *text, size_t len, const char *filename,
                      struct dockerfile *out, struct berr *err);
/* `commit -c` changes: lines of a Dockerfile, joined as docker does, with
 * no FROM needed and errors named "-c:LINE: ...". Which instructions a
 * commit takes is the caller's to check (docker: CMD, ENTRYPOINT, ENV,
 * EXPOSE, HEALTHCHECK, LABEL, ONBUILD, USER, VOLUME, WORKDIR; else
 * "run is not a valid change command"). */
int df_parse_changes(char *const *changes, size_t n, struct dockerfile *out, struct berr *err);
/* "RUN" for DF_RUN... */
const char *df_kind_name(enum df_kind k);
/* Go's time.ParseDuration ("1m30s", "500ms"): 0, or negative when invalid. */
int df_parse_duration(const char *s, int64_t *ns);

/* ---- expand.c: variables, quotes and words, as docker's shell lexer ----------- */

/* The value of a variable, or NULL when unset. */
typedef const char *(*df_lookup_fn)(void *arg, const char *name);
/* $VAR, ${VAR}, ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}
 * (and ${VAR:?msg}, an error), the escape character and single and double
 * quotes as docker processes them: quotes are removed, an escaped
 * character is kept literally, nothing is expanded inside single quotes.
 * One word out (spaces kept). */
int df_expand(const char *in, char escape, df_lookup_fn lookup, void *arg, char **out,
              struct berr *err);
/* The same, split into words at unquoted white space (COPY's sources and
 * destination, EXPOSE's ports, FROM's image and AS name...). A NULL-
 * terminated array; free with df_words_free. */
int df_words(const char *in, char escape, df_lookup_fn lookup, void *arg, char ***out,
             size_t *n, struct berr *err);
void df_words_free(char **words);
/* Go's strconv.Quote and QuoteRune (docker's history texts use %q). */
char *df_go_quote(const char *s);
char *df_go_quote_rune(long long r);

/* ---- config.c: instructions that change only the image config ----------------- */

/* Apply CMD, ENTRYPOINT, ENV, LABEL, MAINTAINER, EXPOSE, WORKDIR, USER,
 * VOLUME, STOPSIGNAL, SHELL, HEALTHCHECK or ONBUILD to `image` (the whole
 * image config document: its "config" object and "author" change), with
 * variables from `lookup` where docker expands them. `created_by` gets the
 * history text docker's classic builder writes for it, e.g.
 * `/bin/sh -c #(nop)  CMD ["echo" "hello"]` (its shell is the config's
 * Shell, df_shell); caller frees. Used by builds and by `commit -c`. */
int df_apply_config(const struct df_instr *in, json_t *image, df_lookup_fn lookup, void *arg,
                    char **created_by, struct berr *err);
/* The same within a stage (or one `commit -c` list): *cmd_set is set by a
 * CMD with arguments and read by ENTRYPOINT, which drops the inherited Cmd
 * unless this stage set one, as docker does. df_apply_config is this with
 * cmd_set NULL. Also takes ARG (config unchanged, created_by
 * "... #(nop)  ARG a=1"). `created_by` may be NULL. */
int df_apply_config_stage(const struct df_instr *in, json_t *image, df_lookup_fn lookup,
                          void *arg, bool *cmd_set, char **created_by, struct berr *err);
/* The argv of a RUN, CMD or ENTRYPOINT: exec form as written, shell form
 * as df_shell(image) + the line. NULL-terminated; free with df_words_free. */
int df_command_argv(json_t *image, const struct df_instr *in, char ***argv, size_t *argc,
                    struct berr *err);
/* The history text of a RUN, as docker's classic builder writes it:
 * "/bin/sh -c apt-get update" (exec form: the argv joined with spaces);
 * with build args in effect ("K=V": the declared ARGs that have a value
 * and are not shadowed by ENV, the predefined proxy args only when
 * declared) "|2 A=1 B=2 /bin/sh -c ...", sorted. Also the text of
 * "The command '...' returned a non-zero code" with nbuild_args 0. */
int df_created_by_run(json_t *image, const struct df_instr *in, char *const *build_args,
                      size_t nbuild_args, char **created_by, struct berr *err);
/* Go's Duration.String ("1m30s"), and docker's signal check for STOPSIGNAL. */
void df_duration_string(int64_t ns, char out[32]);
bool df_signal_valid(const char *sig);
/* The shell a shell-form RUN, CMD or ENTRYPOINT runs under: the config's
 * "Shell" (set by SHELL), else ["/bin/sh","-c"]. A new array. */
json_t *df_shell(json_t *image);

/* ---- ignore.c: .dockerignore --------------------------------------------------- */

struct df_ignore;
/* The patterns of a .dockerignore (comments, blank lines, "!" exceptions,
 * "**", leading "/" and "./" cleaned as docker does). */
int df_ignore_parse(const char *text, size_t len, struct df_ignore **out, struct berr *err);
/* Is `path` (relative to the context, cleaned, no leading "/") excluded? */
bool df_ignore_match(const struct df_ignore *ig, const char *path);
/* Could an exception ("!" pattern) match something below `dir` (relative,
 * cleaned)? When an excluded directory answers true the walker must still
 * descend into it; when false it can skip it whole. */
bool df_ignore_may_reinclude(const struct df_ignore *ig, const char *dir);
void df_ignore_free(struct df_ignore *ig);
/* Go's filepath.Clean ("a//b/../c/" -> "a/c", "" -> "."). */
char *df_clean_path(const char *path);
/* The walker, not these patterns, keeps the Dockerfile and .dockerignore
 * in the context whatever they say, as docker does. */

/* ---- context.c, copy.c, fetch.c: the build context; COPY and ADD ------------- */

/* A context directory and its .dockerignore (NULL dir: a build with no
 * context, `berth build -`). */
struct bctx;
int bctx_open(const char *dir, struct bctx **out, struct berr *err);
void bctx_free(struct bctx *c);

/* One COPY or ADD, its words already expanded. Sources are globs relative
 * to the context root (or to `from_root`); one that leads outside it is
 * refused as docker refuses it. */
struct copy_step {
    const struct bctx *ctx;      /* sources from the context, or */
    const char *from_root;       /* COPY --from: the stage's or image's root, mounted */
    char *const *srcs;
    size_t nsrcs;
    const char *dest;            /* relative to `workdir` unless absolute */
    const char *workdir;         /* the image's WorkingDir ("" or NULL: /) */
    const char *parent_root;     /* the parent image's root, mounted read-only (NULL:
                                    scratch): where dest is resolved and --chown names
                                    are looked up (its /etc/passwd, /etc/group) */
    const char *chown, *chmod;   /* --chown, --chmod, or NULL */
    bool add;                    /* ADD: local tar archives are unpacked, URLs fetched */
    const char *line;            /* "Dockerfile:7", for errors */
};
/* Resolve and hash the sources (names, modes, contents; a URL is fetched
 * here). `hash` is the cache's; `created_by` docker's history text,
 * "/bin/sh -c #(nop) COPY file:<hex> in /dest ". */
struct copy_plan;
int copy_prepare(const struct copy_step *c, struct copy_plan **out, char hash[DIGEST_MAX],
                 char **created_by, struct berr *err);
/* The step's layer: the sources at dest, with the parent directories dest
 * needs, owned and moded as docker's builder makes them. */
int copy_layer(struct berth_store *s, struct copy_plan *p, struct berth_layer *out,
               struct berr *err);
void copy_plan_free(struct copy_plan *p);

/* The plan, shared by context.c (the sources, the hash), copy.c (the
 * destination, the layer) and fetch.c (URLs); nothing else looks inside. */
#define COPY_CHUNK (1 << 20)     /* bytes read at a time */

struct centry {
    char *path;                  /* in the layer: "app/x", no leading or trailing '/' */
    char *src;                   /* where it is read: an absolute path; NULL: a made dir */
    char *link;                  /* a symlink's target; a hard link's first path */
    mode_t mode;                 /* st_mode, type included, --chmod applied */
    uid_t uid;
    gid_t gid;
    uint64_t size;
    struct timespec mtime;
    dev_t rdev, dev;
    ino_t ino;
    nlink_t nlink;
    unsigned char sha[32];       /* of the contents (regular files, archives) */
    bool archive;                /* ADD: src is a tar to unpack under path */
    bool hardlink;
    int info;                    /* the source it comes from, -1: a parent of dest */
    size_t seq;                  /* the later of two entries at one path wins */
};

struct cinfo {                   /* one source after globs: docker's "copy info" */
    bool dir;
    EVP_MD_CTX *md;
};

struct copy_plan {
    struct centry *v;
    size_t n, cap;
    struct cinfo *infos;
    size_t ninfos;
    char *tmpdir;                /* ADD of URLs: where they were fetched */
    const char *cmd;             /* "COPY" or "ADD" */
    const char *line;
    unsigned char *buf;          /* COPY_CHUNK bytes, for reading files */
};

struct copy_target {
    char dir[2 * PATH_MAX];      /* dest resolved in the parent image, relative, "" for / */
    bool is_dir;                 /* the sources go into it */
    bool exists_dir;             /* the parent image has a directory there */
};

/* An error of the step: "Dockerfile:7: COPY failed: ..." */
__attribute__((format(printf, 4, 5)))
int copy_fail(const struct copy_plan *p, struct berr *err, int code, const char *fmt, ...);
/* A new entry at the end of the plan (info -1), or NULL. */
struct centry *copy_entry_add(struct copy_plan *p, struct berr *err);
/* Go's path.Clean of a rooted path, without the leading '/' ("" for /). */
void copy_clean_rooted(const char *in, char *out, size_t len);
/* `rel` resolved inside `root` as if root were "/" (symlinks followed,
 * never out); `out` relative to root. 0 or -errno. */
int copy_resolve_scoped(const char *root, const char *rel, const struct df_ignore *ig,
                        char *out, size_t outlen, struct stat *st_out);
/* copy.c: --chown, --chmod and the destination; dest's parents as entries;
 * is the file a tar archive? */
int copy_resolve_target(const struct copy_step *c, struct copy_plan *p, uid_t *uid, gid_t *gid,
                        int *chmod, struct copy_target *t, struct berr *err);
int copy_add_parents(const struct copy_step *c, struct copy_plan *p, const char *dir, bool self,
                     uid_t uid, gid_t gid, struct berr *err);
bool copy_is_archive(const char *path);
/* fetch.c: `url` fetched into the plan's temporary directory. */
int copy_fetch(struct copy_plan *p, const char *url, char **path, char **name, struct stat *st,
               unsigned char sha[32], struct berr *err);

/* A read-only view of an image's root filesystem: its unpacked layers
 * (rt_image_layers) as one overlay mounted on a new temporary directory
 * (the builder runs in a mount namespace of its own, so nothing is left
 * mounted if it dies). */
int rootview_mount(char *const *lower, size_t n, char **path, struct berr *err);
void rootview_umount(char *path);

/* ---- cache.c: the build cache --------------------------------------------------- */

/* <store>/build-cache/<hex of the key>, holding the image ID a step made.
 * The key is sha256 over the parent image ID, the instruction's text, the
 * build args in effect and the sources' hash (or ""). */
int cache_lookup(struct berth_store *s, const char *key, char id[DIGEST_MAX]);
int cache_store(struct berth_store *s, const char *key, const char *id, struct berr *err);
void cache_key(const char *parent, const char *text, const char *args, const char *hash,
               char key[DIGEST_MAX]);

/* ---- build.c, run.c: a RUN step's command --------------------------------------- */

/* The signal (SIGINT, SIGTERM, SIGHUP) that stops the build; 0 while none
 * has come. Set by build.c's handler. */
extern volatile sig_atomic_t build_signal;
/* After one: *status 128 + its number and "Build cancelled (INT)"; else 0. */
int build_interrupted(int *status, struct berr *err);

/* A RUN's command in a container of `image`, its output into `out`. On a
 * signal or a non-zero exit the step fails (*status the build's); else
 * the container's layer goes to `commit` (build.c: the image, the cache),
 * and the container is removed. */
struct run_cmd {
    struct berth_store *s;
    const char *image;           /* the current image */
    bool network_none;
    FILE *out;                   /* progress, and the command's output */
    json_t *argv, *env;          /* the command; the build args, "K=V" */
    const char *cmd;             /* argv as docker prints it, for errors */
    int *status;                 /* what the build exits with on failure */
    int (*commit)(void *arg, const struct berth_layer *layer, struct berr *err);
    void *arg;
};
int run_command(const struct run_cmd *r, struct berr *err);

#endif
