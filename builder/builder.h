/*
 * builder.h - making images: `berth build` from a Dockerfile and `berth
 * commit` from a container. The one public header of builder/, used by
 * the berth command.
 *
 * A build runs each RUN step as a container of the runtime (the same
 * isolation as `berth run`) whose overlay upper directory becomes the
 * step's layer; COPY and ADD write their layer straight from the context;
 * the other instructions change the config only. Every step's result is
 * an image of the store (unnamed, "intermediate"), so a later step, a
 * later build or `FROM` of another stage starts from it. A cache kept in
 * the store maps (parent image, instruction, build args in effect, hash of
 * the sources) to the image a step made; a hit runs nothing.
 */
#ifndef BERTH_BUILDER_H
#define BERTH_BUILDER_H

#include "../runtime/runtime.h"

#include <stdbool.h>
#include <stdio.h>

struct build_opts {
    const char *context;         /* a directory, or "-": the Dockerfile on stdin, no context */
    const char *file;            /* -f; NULL: Dockerfile in the context */
    const char *const *tags;     /* -t, full or short references */
    size_t ntags;
    char *const *build_args;     /* --build-arg "K=V", or "K" (taken from the environment) */
    size_t nbuild_args;
    char *const *labels;         /* --label "K=V" */
    size_t nlabels;
    const char *target;          /* --target STAGE, NULL: the last stage */
    const char *platform;        /* --platform os/arch[/variant], NULL: this machine's */
    const char *iidfile;         /* --iidfile: the image ID is written there */
    bool no_cache, pull, quiet;
    bool network_none;           /* RUN steps get no network; else the host's */
    FILE *out;                   /* the build's progress (docker's classic form); stdout */
    int *status;                 /* NULL, or gets the exit status docker build would have:
                                    0, a failing RUN's code, 128 + N after signal N, else 1 */
};
/* Build; `id` gets the image ID (sha256:...). On failure nothing is
 * tagged and no container, mount or temporary directory is left. */
int builder_build(struct berth_store *s, struct berth_client *c, const struct build_opts *o,
                  char id[DIGEST_MAX], struct berr *err);

struct commit_opts {
    const char *author;          /* -a */
    const char *message;         /* -m: the history entry's comment */
    char *const *changes;        /* -c "CMD [\"sh\"]": CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
                                    USER, WORKDIR (and the other config-only instructions) */
    size_t nchanges;
    bool pause;                  /* freeze a running container while its layer is read */
};
/* The container's changes as one new layer over its image; `ref` (may be
 * NULL) is tagged to the result. */
int builder_commit(struct berth_store *s, const char *container, const char *ref,
                   const struct commit_opts *o, char id[DIGEST_MAX], struct berr *err);

/* `builder prune`: drop the build cache and the intermediate images no
 * named image or container needs; `freed` gets the bytes released. */
int builder_prune(struct berth_store *s, uint64_t *freed, struct berr *err);

#endif
