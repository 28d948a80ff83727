/*
 * test_dockerfile.c - the Dockerfile language of `berth build` and
 * `berth commit -c`: parsing (directives, continuations, comments, every
 * instruction and its errors), variable expansion and word splitting as
 * docker's shell lexer does them, the config-only instructions and the
 * history texts docker's classic builder writes, and .dockerignore.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../builder/internal.h"

/* ---- helpers ----------------------------------------------------------------- */

static void parse_ok(const char *text, struct dockerfile *df)
{
    struct berr err = {0};
    int rc = dockerfile_parse(text, strlen(text), "Dockerfile", df, &err);
    if (rc != 0)
        fail_msg("parse failed: %s\n--- input:\n%s", err.msg, text);
}

static void parse_err_file(const char *text, const char *file, const char *want)
{
    struct berr err = {0};
    struct dockerfile df;
    int rc = dockerfile_parse(text, strlen(text), file, &df, &err);
    if (rc == 0) {
        dockerfile_free(&df);
        fail_msg("parse accepted:\n%s\n(wanted error \"%s\")", text, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("error \"%s\", wanted \"%s\"", err.msg, want);
}

static void parse_err(const char *text, const char *want)
{
    parse_err_file(text, "Dockerfile", want);
}

/* variables for the lookups: "K=V" strings, NULL-terminated */
static const char *lookup_env(void *arg, const char *name)
{
    const char *const *env = arg;
    size_t nl = strlen(name);
    for (; env && *env; env++)
        if (strncmp(*env, name, nl) == 0 && (*env)[nl] == '=')
            return *env + nl + 1;
    return NULL;
}

static void expand_is(const char *in, const char *const *env, const char *want)
{
    struct berr err = {0};
    char *out = NULL;
    int rc = df_expand(in, '\\', lookup_env, (void *)env, &out, &err);
    if (!want) {
        if (rc == 0)
            fail_msg("df_expand(%s) = \"%s\", wanted an error", in, out);
        return;
    }
    if (rc != 0)
        fail_msg("df_expand(%s): %s", in, err.msg);
    if (strcmp(out, want) != 0)
        fail_msg("df_expand(%s) = \"%s\", wanted \"%s\"", in, out, want);
    free(out);
}

/* want: the words joined with ',' */
static void words_are(const char *in, const char *const *env, const char *want)
{
    struct berr err = {0};
    char **w = NULL;
    size_t n = 0;
    int rc = df_words(in, '\\', lookup_env, (void *)env, &w, &n, &err);
    if (rc != 0)
        fail_msg("df_words(%s): %s", in, err.msg);
    char got[512] = "";
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(got, ",");
        strcat(got, w[i]);
    }
    assert_null(w[n]);
    if (strcmp(got, want) != 0)
        fail_msg("df_words(%s) = \"%s\", wanted \"%s\"", in, got, want);
    df_words_free(w);
}

/* Apply one instruction (the last of `text`, after a FROM) to `image`. */
static char *apply(const char *text, json_t *image, const char *const *env)
{
    struct dockerfile df;
    char *full;
    assert_true(asprintf(&full, "FROM scratch\n%s\n", text) > 0);
    parse_ok(full, &df);
    free(full);
    struct berr err = {0};
    char *cb = NULL;
    int rc = df_apply_config(&df.v[df.n - 1], image, lookup_env, (void *)env, &cb, &err);
    if (rc != 0)
        fail_msg("apply %s: %s", text, err.msg);
    dockerfile_free(&df);
    return cb;
}

static void apply_err(const char *text, const char *const *env, const char *want)
{
    struct dockerfile df;
    char *full;
    assert_true(asprintf(&full, "FROM scratch\n%s\n", text) > 0);
    parse_ok(full, &df);
    free(full);
    json_t *image = json_pack("{s:s, s:s, s:{}}", "architecture", "amd64", "os", "linux",
                              "config");
    struct berr err = {0};
    char *cb = NULL;
    int rc = df_apply_config(&df.v[df.n - 1], image, lookup_env, (void *)env, &cb, &err);
    if (rc == 0)
        fail_msg("apply %s succeeded (%s), wanted \"%s\"", text, cb, want);
    if (strcmp(err.msg, want) != 0)
        fail_msg("apply %s: error \"%s\", wanted \"%s\"", text, err.msg, want);
    json_decref(image);
    dockerfile_free(&df);
}

static json_t *new_image(void)
{
    return json_pack("{s:s, s:s, s:{s:[s]}}", "architecture", "amd64", "os", "linux", "config",
                     "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
}

static void json_is(json_t *v, const char *want)
{
    char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!got || strcmp(got, want) != 0)
        fail_msg("JSON %s, wanted %s", got ? got : "(null)", want);
    free(got);
}

static json_t *cfg(json_t *image, const char *key)
{
    return json_object_get(json_object_get(image, "config"), key);
}

static void str_is(const char *got, const char *want)
{
    if (!got || strcmp(got, want) != 0)
        fail_msg("got \"%s\", wanted \"%s\"", got ? got : "(null)", want);
}

/* ---- docker's tutorials ---------------------------------------------------------------- */

static void test_tutorial_getting_started(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("# syntax=docker/dockerfile:1\n"
             "\n"
             "FROM node:18-alpine\n"
             "WORKDIR /app\n"
             "COPY . .\n"
             "RUN yarn install --production\n"
             "CMD [\"node\", \"src/index.js\"]\n"
             "EXPOSE 3000\n", &df);
    assert_int_equal(df.n, 6);
    str_is(df.syntax, "docker/dockerfile:1");
    assert_int_equal(df.escape, '\\');
    assert_int_equal(df.v[0].kind, DF_FROM);
    assert_int_equal(df.v[0].line, 3);
    str_is(df.v[0].args[0], "node:18-alpine");
    assert_int_equal(df.v[1].kind, DF_WORKDIR);
    str_is(df.v[1].args[0], "/app");
    assert_int_equal(df.v[2].kind, DF_COPY);
    assert_false(df.v[2].json);
    str_is(df.v[2].args[0], ". .");
    assert_int_equal(df.v[3].kind, DF_RUN);
    assert_int_equal(df.v[3].nargs, 1);
    assert_false(df.v[3].json);
    str_is(df.v[3].args[0], "yarn install --production");
    str_is(df.v[3].text, "RUN yarn install --production");
    assert_int_equal(df.v[3].nflags, 0);
    assert_int_equal(df.v[4].kind, DF_CMD);
    assert_true(df.v[4].json);
    assert_int_equal(df.v[4].nargs, 2);
    str_is(df.v[4].args[0], "node");
    str_is(df.v[4].args[1], "src/index.js");
    assert_int_equal(df.v[5].kind, DF_EXPOSE);
    assert_int_equal(df.v[5].line, 8);
    dockerfile_free(&df);
}

static void test_tutorial_flask(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("# syntax=docker/dockerfile:1\n"
             "FROM python:3.10-alpine\n"
             "WORKDIR /code\n"
             "ENV FLASK_APP=app.py\n"
             "ENV FLASK_RUN_HOST=0.0.0.0\n"
             "RUN apk add --no-cache gcc musl-dev linux-headers\n"
             "COPY requirements.txt requirements.txt\n"
             "RUN pip install -r requirements.txt\n"
             "EXPOSE 5000\n"
             "COPY . .\n"
             "CMD [\"flask\", \"run\"]\n", &df);
    assert_int_equal(df.n, 10);
    assert_int_equal(df.v[2].kind, DF_ENV);
    assert_int_equal(df.v[2].nargs, 2);
    str_is(df.v[2].args[0], "FLASK_APP");
    str_is(df.v[2].args[1], "app.py");
    str_is(df.v[4].args[0], "apk add --no-cache gcc musl-dev linux-headers");
    assert_int_equal(df.v[4].nflags, 0);
    assert_int_equal(df.v[9].kind, DF_CMD);

    /* the config it makes */
    json_t *image = new_image();
    const char *want_cb[] = {
        NULL,
        "/bin/sh -c #(nop) WORKDIR /code",
        "/bin/sh -c #(nop)  ENV FLASK_APP=app.py",
        "/bin/sh -c #(nop)  ENV FLASK_RUN_HOST=0.0.0.0",
        NULL, NULL, NULL,
        "/bin/sh -c #(nop)  EXPOSE 5000",
        NULL,
        "/bin/sh -c #(nop)  CMD [\"flask\" \"run\"]",
    };
    for (size_t i = 1; i < df.n; i++) {
        struct berr err = {0};
        char *cb = NULL;
        if (df.v[i].kind == DF_RUN) {
            assert_int_equal(df_created_by_run(image, &df.v[i], NULL, 0, &cb, &err), 0);
            char *want;
            assert_true(asprintf(&want, "/bin/sh -c %s", df.v[i].args[0]) > 0);
            str_is(cb, want);
            free(want);
        } else if (df.v[i].kind != DF_COPY) {
            assert_int_equal(df_apply_config(&df.v[i], image, NULL, NULL, &cb, &err), 0);
            str_is(cb, want_cb[i]);
        }
        free(cb);
    }
    json_is(cfg(image, "Env"), "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
                               "/bin\",\"FLASK_APP=app.py\",\"FLASK_RUN_HOST=0.0.0.0\"]");
    json_is(cfg(image, "WorkingDir"), "\"/code\"");
    json_is(cfg(image, "ExposedPorts"), "{\"5000/tcp\":{}}");
    json_is(cfg(image, "Cmd"), "[\"flask\",\"run\"]");
    json_decref(image);
    dockerfile_free(&df);
}

static void test_tutorial_hello(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM ubuntu:22.04\n"
             "RUN apt-get update && apt-get install -y git\n"
             "COPY abc.txt /tmp/abc.txt\n"
             "CMD [\"echo\", \"helllo world\"]\n", &df);
    json_t *image = new_image();
    char *cb = NULL;
    struct berr err = {0};
    assert_int_equal(df_created_by_run(image, &df.v[1], NULL, 0, &cb, &err), 0);
    str_is(cb, "/bin/sh -c apt-get update && apt-get install -y git");
    free(cb);
    assert_int_equal(df_apply_config(&df.v[3], image, NULL, NULL, &cb, &err), 0);
    str_is(cb, "/bin/sh -c #(nop)  CMD [\"echo\" \"helllo world\"]");
    free(cb);
    json_decref(image);
    dockerfile_free(&df);
}

static void test_tutorial_multistage(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("ARG GO_VERSION=1.21\n"
             "FROM golang:${GO_VERSION} AS build\n"
             "WORKDIR /src\n"
             "COPY go.mod go.sum ./\n"
             "RUN --mount=type=cache,target=/go/pkg/mod go mod download\n"
             "COPY . .\n"
             "RUN CGO_ENABLED=0 go build -o /bin/hello ./cmd/hello\n"
             "\n"
             "FROM --platform=linux/amd64 scratch as final\n"
             "COPY --from=build --chown=1000:1000 --chmod=755 /bin/hello /bin/hello\n"
             "ENTRYPOINT [\"/bin/hello\"]\n", &df);
    assert_int_equal(df.n, 10);
    assert_int_equal(df.v[0].kind, DF_ARG);
    assert_int_equal(df.v[0].nargs, 2);
    str_is(df.v[0].args[0], "GO_VERSION");
    str_is(df.v[0].args[1], "1.21");
    str_is(df.v[1].args[0], "golang:${GO_VERSION} AS build");
    assert_int_equal(df.v[4].nflags, 1);
    str_is(df_flag(&df.v[4], "mount"), "type=cache,target=/go/pkg/mod");
    str_is(df.v[4].args[0], "go mod download");
    assert_int_equal(df.v[7].kind, DF_FROM);
    assert_int_equal(df.v[7].line, 9);
    str_is(df_flag(&df.v[7], "platform"), "linux/amd64");
    str_is(df.v[7].args[0], "scratch as final");
    str_is(df_flag(&df.v[8], "from"), "build");
    str_is(df_flag(&df.v[8], "chown"), "1000:1000");
    str_is(df_flag(&df.v[8], "chmod"), "755");
    assert_null(df_flag(&df.v[8], "link"));
    str_is(df.v[8].args[0], "/bin/hello /bin/hello");
    str_is(df.v[8].text, "COPY --from=build --chown=1000:1000 --chmod=755 /bin/hello /bin/hello");

    /* the words of FROM, expanded as the build does it */
    const char *env[] = {"GO_VERSION=1.21", NULL};
    char **w;
    size_t n;
    struct berr err = {0};
    assert_int_equal(df_words(df.v[1].args[0], df.escape, lookup_env, env, &w, &n, &err), 0);
    assert_int_equal(n, 3);
    str_is(w[0], "golang:1.21");
    str_is(w[2], "build");
    df_words_free(w);
    dockerfile_free(&df);
}

/* ---- lines: continuations, comments, directives --------------------------------------------- */

static void test_continuations(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM debian\n"
             "RUN apt-get update && \\\n"
             "    apt-get install -y \\\n"
             "      git \\  \t\n"
             "      curl\n"
             "CMD echo done\n", &df);
    assert_int_equal(df.n, 3);
    assert_int_equal(df.v[1].line, 2);
    str_is(df.v[1].args[0], "apt-get update &&     apt-get install -y       git       curl");
    str_is(df.v[1].text, "RUN apt-get update &&     apt-get install -y       git       curl");
    assert_int_equal(df.v[2].line, 6);
    dockerfile_free(&df);

    /* comment lines and blank lines inside a continuation are skipped */
    parse_ok("FROM debian\n"
             "RUN a \\\n"
             "# a comment in the middle\n"
             "   # an indented one\n"
             "\n"
             "    \n"
             "  b\n"
             "USER x\n", &df);
    assert_int_equal(df.n, 3);
    str_is(df.v[1].args[0], "a   b");
    assert_int_equal(df.v[2].line, 8);
    dockerfile_free(&df);

    /* a continuation at the end of the file */
    parse_ok("FROM a\nRUN x \\\n", &df);
    assert_int_equal(df.n, 2);
    str_is(df.v[1].args[0], "x");
    dockerfile_free(&df);

    /* a line of only the escape continues; CRLF line ends */
    parse_ok("FROM a\r\nRUN \\\r\n  echo hi\r\n", &df);
    assert_int_equal(df.n, 2);
    str_is(df.v[1].args[0], "echo hi");
    dockerfile_free(&df);

    /* '#' in the middle of a line is not a comment */
    parse_ok("FROM a\nRUN echo a # b\n", &df);
    str_is(df.v[1].args[0], "echo a # b");
    dockerfile_free(&df);

    /* an escaped escape at the end of a line still continues (as docker) */
    parse_ok("FROM a\n  RUN echo \\\\\n  x\n", &df);
    assert_int_equal(df.n, 2);
    str_is(df.v[1].args[0], "echo \\  x");
    dockerfile_free(&df);

    /* indentation, a byte order mark */
    parse_ok("\xef\xbb\xbf" "FROM a\n\t  \tRUN b\n", &df);
    assert_int_equal(df.n, 2);
    assert_int_equal(df.v[0].kind, DF_FROM);
    dockerfile_free(&df);

    /* no final newline */
    parse_ok("FROM a\nCMD x", &df);
    str_is(df.v[1].args[0], "x");
    dockerfile_free(&df);
}

static void test_escape_directive(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("# escape=`\n"
             "\n"
             "FROM mcr.microsoft.com/windows/servercore\n"
             "COPY testfile.txt c:\\\n"
             "RUN dir c:\\\n"
             "RUN echo a `\n"
             "    b\n", &df);
    assert_int_equal(df.escape, '`');
    assert_int_equal(df.n, 4);
    str_is(df.v[1].args[0], "testfile.txt c:\\");
    str_is(df.v[2].args[0], "dir c:\\");
    str_is(df.v[3].args[0], "echo a     b");
    assert_int_equal(df.v[3].escape, '`');
    dockerfile_free(&df);

    /* spelled in any case, with spaces */
    parse_ok("#  ESCAPE = `  \nFROM a\nRUN x `\n y\n", &df);
    assert_int_equal(df.escape, '`');
    str_is(df.v[1].args[0], "x  y");
    dockerfile_free(&df);

    /* directives after a comment, a blank line or an instruction are comments */
    parse_ok("# a comment\n# escape=`\nFROM a\n", &df);
    assert_int_equal(df.escape, '\\');
    dockerfile_free(&df);
    parse_ok("\n# escape=`\nFROM a\n", &df);
    assert_int_equal(df.escape, '\\');
    dockerfile_free(&df);
    parse_ok("FROM a\n# escape=`\nRUN b \\\n c\n", &df);
    assert_int_equal(df.escape, '\\');
    str_is(df.v[1].args[0], "b  c");
    dockerfile_free(&df);
    /* an unknown directive ends them too */
    parse_ok("# foo=bar\n# escape=`\nFROM a\n", &df);
    assert_int_equal(df.escape, '\\');
    dockerfile_free(&df);

    /* syntax and escape together, in either order */
    parse_ok("# syntax=docker/dockerfile:1.4\n# escape=`\nFROM a\n", &df);
    assert_int_equal(df.escape, '`');
    str_is(df.syntax, "docker/dockerfile:1.4");
    dockerfile_free(&df);
    parse_ok("#escape=\\\n#syntax = x/y\nFROM a\n", &df);
    assert_int_equal(df.escape, '\\');
    str_is(df.syntax, "x/y");
    dockerfile_free(&df);
    parse_ok("FROM a\n", &df);
    assert_null(df.syntax);
    dockerfile_free(&df);

    parse_err("# escape=`\n# escape=\\\nFROM a\n",
              "Dockerfile:2: only one escape parser directive can be used");
    parse_err("# syntax=a\n# syntax=b\nFROM a\n",
              "Dockerfile:2: only one syntax parser directive can be used");
    parse_err("# escape=x\nFROM a\n",
              "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
    parse_err("# escape=``\nFROM a\n",
              "Dockerfile:1: invalid escape token '``' does not match ` or \\");
}

static void test_case_insensitive(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("from alpine\nRuN echo hi\nworkdir /x\nCopy a b\nhealthcheck none\n"
             "onbuild run echo\nExPoSe 80\n", &df);
    enum df_kind want[] = {DF_FROM, DF_RUN, DF_WORKDIR, DF_COPY, DF_HEALTHCHECK, DF_ONBUILD,
                           DF_EXPOSE};
    assert_int_equal(df.n, 7);
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(df.v[i].kind, want[i]);
    str_is(df.v[1].text, "RuN echo hi");
    assert_int_equal(df.v[5].sub->kind, DF_RUN);
    dockerfile_free(&df);
    for (int k = DF_FROM; k <= DF_ADD; k++)
        assert_string_not_equal(df_kind_name((enum df_kind)k), "?");
    str_is(df_kind_name(DF_HEALTHCHECK), "HEALTHCHECK");
}

/* ---- every instruction ---------------------------------------------------------------------- */

static void test_from(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("ARG BASE=debian\nARG TAG\nFROM ${BASE}:${TAG:-bookworm}\nFROM scratch\n"
             "FROM a AS b-1.x_y\nFROM a As UPPER\n", &df);
    assert_int_equal(df.n, 6);
    assert_int_equal(df.v[1].nargs, 2);
    str_is(df.v[1].args[0], "TAG");
    assert_null(df.v[1].args[1]);
    str_is(df.v[3].args[0], "scratch");
    dockerfile_free(&df);

    parse_err("FROM\n", "Dockerfile:1: FROM requires either one or three arguments");
    parse_err("FROM a b\n", "Dockerfile:1: FROM requires either one or three arguments");
    parse_err("FROM a AS b c\n", "Dockerfile:1: FROM requires either one or three arguments");
    parse_err("FROM a FOR b\n", "Dockerfile:1: FROM requires either one or three arguments");
    parse_err("FROM a AS 1st\n", "Dockerfile:1: invalid name for build stage: \"1st\", name "
                                 "can't start with a number or contain symbols");
    parse_err("FROM a AS b/c\n", "Dockerfile:1: invalid name for build stage: \"b/c\", name "
                                 "can't start with a number or contain symbols");
    parse_err("FROM --platform linux/amd64 a\n", "Dockerfile:1: Missing a value on flag: platform");
    parse_err("FROM --plat=x a\n", "Dockerfile:1: Unknown flag: plat");
}

static void test_run(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\n"
             "RUN [\"/bin/bash\", \"-c\", \"echo hi\"]\n"
             "RUN --network=none echo offline\n"
             "RUN --network=host --mount=type=secret,id=a --mount=type=cache,target=/c make\n"
             "RUN [ \"echo\" , \"x\" ]  \n"
             "RUN [not json\n"
             "RUN [\"a\", \"b\"] trailing\n"
             "RUN\n"
             "RUN []\n"
             "RUN --network=\"none\" x\n"
             "RUN echo --network=none\n", &df);
    assert_true(df.v[1].json);
    assert_int_equal(df.v[1].nargs, 3);
    str_is(df.v[1].args[2], "echo hi");
    str_is(df_flag(&df.v[2], "network"), "none");
    str_is(df.v[2].args[0], "echo offline");
    str_is(df.v[2].text, "RUN --network=none echo offline");
    assert_int_equal(df.v[3].nflags, 3);
    str_is(df.v[3].flags[1].value, "type=secret,id=a");
    str_is(df.v[3].flags[2].value, "type=cache,target=/c");
    str_is(df.v[3].args[0], "make");
    assert_true(df.v[4].json);
    assert_int_equal(df.v[4].nargs, 2);
    assert_false(df.v[5].json);
    str_is(df.v[5].args[0], "[not json");
    assert_false(df.v[6].json);
    str_is(df.v[6].args[0], "[\"a\", \"b\"] trailing");
    assert_int_equal(df.v[7].nargs, 0);
    assert_true(df.v[8].json);
    assert_int_equal(df.v[8].nargs, 0);
    str_is(df_flag(&df.v[9], "network"), "none");
    assert_int_equal(df.v[10].nflags, 0);
    str_is(df.v[10].args[0], "echo --network=none");
    dockerfile_free(&df);

    parse_err("FROM a\nRUN [\"a\", 1]\n", "Dockerfile:2: when using JSON array syntax, arrays "
                                         "must be comprised of strings only");
    parse_err("FROM a\nRUN --network=none --network=host x\n",
              "Dockerfile:2: Duplicate flag specified: network");
    parse_err("FROM a\nRUN --privileged x\n", "Dockerfile:2: Unknown flag: privileged");
}

static void test_cmd_entrypoint_shell(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\nCMD [\"python\", \"app.py\"]\nCMD python app.py\nENTRYPOINT [\"/x\"]\n"
             "ENTRYPOINT exec top -b\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n"
             "CMD [\"a\\\"b\", \"\\u00e9\"]\n", &df);
    assert_true(df.v[1].json);
    assert_false(df.v[2].json);
    str_is(df.v[2].args[0], "python app.py");
    str_is(df.v[4].args[0], "exec top -b");
    assert_int_equal(df.v[5].nargs, 4);
    str_is(df.v[6].args[0], "a\"b");
    str_is(df.v[6].args[1], "\xc3\xa9");
    dockerfile_free(&df);

    parse_err("FROM a\nSHELL /bin/bash -c\n",
              "Dockerfile:2: SHELL requires the arguments to be in JSON form");
    parse_err("FROM a\nSHELL []\n", "Dockerfile:2: SHELL requires at least one argument");
    parse_err("FROM a\nSHELL\n", "Dockerfile:2: SHELL requires at least one argument");
    parse_err("FROM a\nCMD --x=1 y\n", "Dockerfile:2: Unknown flag: x");
    parse_err("FROM a\nENTRYPOINT [1]\n", "Dockerfile:2: when using JSON array syntax, arrays "
                                          "must be comprised of strings only");
}

static void test_env_label(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\n"
             "ENV K=V K2=\"a b\" K3=c\\ d\n"
             "ENV LEGACY value with  spaces\n"
             "ENV EMPTY=\n"
             "ENV Q='x y'z\n"
             "LABEL com.example.a=\"1\" version=2 description=\"multi \\\n"
             " line\"\n"
             "LABEL \"key with space\"=v\n"
             "LABEL old style value\n", &df);
    struct df_instr *e = &df.v[1];
    assert_int_equal(e->nargs, 6);
    str_is(e->args[0], "K");
    str_is(e->args[1], "V");
    str_is(e->args[2], "K2");
    str_is(e->args[3], "\"a b\"");
    str_is(e->args[5], "c\\ d");
    assert_int_equal(df.v[2].nargs, 2);
    str_is(df.v[2].args[0], "LEGACY");
    str_is(df.v[2].args[1], "value with  spaces");
    str_is(df.v[3].args[1], "");
    str_is(df.v[4].args[1], "'x y'z");
    assert_int_equal(df.v[5].nargs, 6);
    str_is(df.v[5].args[5], "\"multi  line\"");
    str_is(df.v[6].args[0], "\"key with space\"");
    str_is(df.v[7].args[0], "old");
    str_is(df.v[7].args[1], "style value");
    dockerfile_free(&df);

    parse_err("FROM a\nENV\n", "Dockerfile:2: ENV requires at least one argument");
    parse_err("FROM a\nENV ONLYKEY\n", "Dockerfile:2: ENV must have two arguments");
    parse_err("FROM a\nENV a=1 b\n", "Dockerfile:2: Syntax error - can't find = in \"b\". "
                                     "Must be of the form: name=value");
    parse_err("FROM a\nENV =x\n", "Dockerfile:2: ENV names can not be blank");
    parse_err("FROM a\nLABEL\n", "Dockerfile:2: LABEL requires at least one argument");
    parse_err("FROM a\nLABEL k\n", "Dockerfile:2: LABEL must have two arguments");
    parse_err("FROM a\nLABEL a=b c\n", "Dockerfile:2: Syntax error - can't find = in \"c\". "
                                       "Must be of the form: name=value");
    parse_err("FROM a\nENV --x=1 a=b\n", "Dockerfile:2: Unknown flag: x");
}

static void test_arg(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("ARG A\nARG B=1 C D=\"x y\"\nFROM a\nARG E=\n", &df);
    assert_int_equal(df.v[0].nargs, 2);
    assert_null(df.v[0].args[1]);
    assert_int_equal(df.v[1].nargs, 6);
    str_is(df.v[1].args[0], "B");
    str_is(df.v[1].args[1], "1");
    str_is(df.v[1].args[2], "C");
    assert_null(df.v[1].args[3]);
    str_is(df.v[1].args[5], "\"x y\"");
    str_is(df.v[3].args[1], "");
    dockerfile_free(&df);
    parse_err("ARG\nFROM a\n", "Dockerfile:1: ARG requires at least one argument");
    parse_err("ARG =1\nFROM a\n", "Dockerfile:1: ARG names can not be blank");
}

static void test_one_argument_instructions(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\nMAINTAINER Jane Doe <jane@example.com>\nWORKDIR /path with space\n"
             "USER app:app\nSTOPSIGNAL SIGTERM\nEXPOSE 80 443/udp\n", &df);
    str_is(df.v[1].args[0], "Jane Doe <jane@example.com>");
    str_is(df.v[2].args[0], "/path with space");
    str_is(df.v[3].args[0], "app:app");
    str_is(df.v[4].args[0], "SIGTERM");
    str_is(df.v[5].args[0], "80 443/udp");
    dockerfile_free(&df);
    parse_err("FROM a\nMAINTAINER\n", "Dockerfile:2: MAINTAINER requires exactly one argument");
    parse_err("FROM a\nWORKDIR\n", "Dockerfile:2: WORKDIR requires exactly one argument");
    parse_err("FROM a\nUSER   \n", "Dockerfile:2: USER requires exactly one argument");
    parse_err("FROM a\nSTOPSIGNAL\n", "Dockerfile:2: STOPSIGNAL requires exactly one argument");
    parse_err("FROM a\nEXPOSE\n", "Dockerfile:2: EXPOSE requires at least one argument");
    parse_err("FROM a\nUSER --x=1 root\n", "Dockerfile:2: Unknown flag: x");
}

static void test_volume(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\nVOLUME /data\nVOLUME [\"/a\", \"/b c\"]\nVOLUME /x /y\n", &df);
    assert_false(df.v[1].json);
    str_is(df.v[1].args[0], "/data");
    assert_true(df.v[2].json);
    assert_int_equal(df.v[2].nargs, 2);
    str_is(df.v[2].args[1], "/b c");
    str_is(df.v[3].args[0], "/x /y");
    dockerfile_free(&df);
    parse_err("FROM a\nVOLUME\n", "Dockerfile:2: VOLUME requires at least one argument");
    parse_err("FROM a\nVOLUME []\n", "Dockerfile:2: VOLUME requires at least one argument");
    parse_err("FROM a\nVOLUME [\"/a\", \" \"]\n",
              "Dockerfile:2: VOLUME specified can not be an empty string");
}

static void test_copy_add(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\n"
             "COPY a b c /dest/\n"
             "COPY [\"my file\", \"/dest dir/\"]\n"
             "ADD --chown=app:app --link https://example.com/x.tar.gz /x\n"
             "COPY --link=false --chmod=0644 a b\n"
             "COPY --chown=\"1000:1000\" a b\n"
             "ADD --checksum=sha256:abc --keep-git-dir=true a b\n"
             "COPY --exclude=*.md --exclude=*.txt . /\n"
             "COPY --parents a/b ./\n", &df);
    str_is(df.v[1].args[0], "a b c /dest/");
    assert_true(df.v[2].json);
    str_is(df.v[2].args[0], "my file");
    str_is(df_flag(&df.v[3], "chown"), "app:app");
    str_is(df_flag(&df.v[3], "link"), "");
    str_is(df.v[3].args[0], "https://example.com/x.tar.gz /x");
    str_is(df_flag(&df.v[4], "link"), "false");
    str_is(df_flag(&df.v[4], "chmod"), "0644");
    str_is(df_flag(&df.v[5], "chown"), "1000:1000");
    str_is(df_flag(&df.v[6], "keep-git-dir"), "true");
    assert_int_equal(df.v[7].nflags, 2);
    dockerfile_free(&df);

    parse_err("FROM a\nCOPY onlyone\n", "Dockerfile:2: COPY requires at least two arguments, "
                                        "but only one was provided. Destination could not be "
                                        "determined");
    parse_err("FROM a\nADD x\n", "Dockerfile:2: ADD requires at least two arguments, but only "
                                 "one was provided. Destination could not be determined");
    parse_err("FROM a\nCOPY [\"x\"]\n", "Dockerfile:2: COPY requires at least two arguments, "
                                        "but only one was provided. Destination could not be "
                                        "determined");
    parse_err("FROM a\nCOPY\n", "Dockerfile:2: COPY requires at least two arguments, but only "
                                "one was provided. Destination could not be determined");
    parse_err("FROM a\nCOPY --frm=x a b\n", "Dockerfile:2: Unknown flag: frm");
    parse_err("FROM a\nADD --from=x a b\n", "Dockerfile:2: Unknown flag: from");
    parse_err("FROM a\nCOPY --from a b\n", "Dockerfile:2: Missing a value on flag: from");
    parse_err("FROM a\nCOPY --from=a --from=b a b\n",
              "Dockerfile:2: Duplicate flag specified: from");
    parse_err("FROM a\nCOPY --link=maybe a b\n",
              "Dockerfile:2: Expecting boolean value for flag link, not: maybe");
    parse_err("FROM a\nCOPY --link= a b\n", "Dockerfile:2: Missing a value on flag: link");
}

static void test_healthcheck(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\n"
             "HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=2s "
             "--retries=3 CMD curl -f http://localhost/ || exit 1\n"
             "HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n"
             "HEALTHCHECK NONE\n"
             "HEALTHCHECK --interval=whatever NONE\n"
             "healthcheck cmd true\n", &df);
    struct df_instr *h = &df.v[1];
    assert_int_equal(h->nflags, 5);
    assert_int_equal(h->nargs, 1);
    assert_false(h->json);
    str_is(h->args[0], "curl -f http://localhost/ || exit 1");
    assert_true(df.v[2].json);
    assert_int_equal(df.v[2].nargs, 2);
    assert_int_equal(df.v[3].nargs, 0);
    assert_int_equal(df.v[3].kind, DF_HEALTHCHECK);
    assert_int_equal(df.v[4].nargs, 0);
    str_is(df.v[5].args[0], "true");
    dockerfile_free(&df);

    parse_err("FROM a\nHEALTHCHECK\n", "Dockerfile:2: HEALTHCHECK requires at least one argument");
    parse_err("FROM a\nHEALTHCHECK NONE x\n", "Dockerfile:2: HEALTHCHECK NONE takes no arguments");
    parse_err("FROM a\nHEALTHCHECK FOO bar\n",
              "Dockerfile:2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)");
    parse_err("FROM a\nHEALTHCHECK CMD\n", "Dockerfile:2: Missing command after HEALTHCHECK CMD");
    parse_err("FROM a\nHEALTHCHECK CMD []\n",
              "Dockerfile:2: Missing command after HEALTHCHECK CMD");
    parse_err("FROM a\nHEALTHCHECK --interval=5 CMD x\n",
              "Dockerfile:2: time: missing unit in duration \"5\"");
    parse_err("FROM a\nHEALTHCHECK --timeout=abc CMD x\n",
              "Dockerfile:2: time: invalid duration \"abc\"");
    parse_err("FROM a\nHEALTHCHECK --timeout=5d CMD x\n",
              "Dockerfile:2: time: unknown unit in duration \"5d\"");
    parse_err("FROM a\nHEALTHCHECK --interval=10us CMD x\n",
              "Dockerfile:2: Interval \"interval\" cannot be less than 1ms");
    parse_err("FROM a\nHEALTHCHECK --retries=-1 CMD x\n",
              "Dockerfile:2: --retries cannot be negative (-1)");
    parse_err("FROM a\nHEALTHCHECK --retries=x CMD x\n",
              "Dockerfile:2: strconv.ParseInt: parsing \"x\": invalid syntax");
    parse_err("FROM a\nHEALTHCHECK --every=1s CMD x\n", "Dockerfile:2: Unknown flag: every");
}

static void test_onbuild(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM a\nONBUILD ADD . /app/src\nonbuild   RUN   echo \"hi there\"\n"
             "ONBUILD COPY --from=x a b\n", &df);
    struct df_instr *o = &df.v[1];
    assert_int_equal(o->kind, DF_ONBUILD);
    assert_non_null(o->sub);
    assert_int_equal(o->sub->kind, DF_ADD);
    str_is(o->sub->text, "ADD . /app/src");
    str_is(o->sub->args[0], ". /app/src");
    str_is(o->text, "ONBUILD ADD . /app/src");
    str_is(df.v[2].sub->text, "RUN   echo \"hi there\"");
    str_is(df.v[2].sub->args[0], "echo \"hi there\"");
    str_is(df_flag(df.v[3].sub, "from"), "x");
    dockerfile_free(&df);

    parse_err("FROM a\nONBUILD\n", "Dockerfile:2: ONBUILD requires at least one argument");
    parse_err("FROM a\nONBUILD ONBUILD RUN x\n",
              "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    parse_err("FROM a\nONBUILD from b\n",
              "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
    parse_err("FROM a\nONBUILD MAINTAINER me\n",
              "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger");
    parse_err("FROM a\nONBUILD FROBNICATE\n", "Dockerfile:2: unknown instruction: FROBNICATE");
    parse_err("FROM a\nONBUILD COPY x\n", "Dockerfile:2: COPY requires at least two arguments, "
                                          "but only one was provided. Destination could not be "
                                          "determined");
}

/* ---- errors of the file as a whole -------------------------------------------------------- */

static void test_file_errors(void **state)
{
    (void)state;
    parse_err("FROM alpine\nRUN echo hi\nFROBNICATE the widgets\n",
              "Dockerfile:3: unknown instruction: FROBNICATE");
    parse_err_file("FROM alpine\n\n# c\nfrobnicate\n", "docker/Dockerfile.dev",
                   "docker/Dockerfile.dev:4: unknown instruction: FROBNICATE");
    parse_err("FROM a\nRUN a \\\n  b\nCMD x \\\n\n  y\nBOGUS\n",
              "Dockerfile:7: unknown instruction: BOGUS");
    parse_err("", "the Dockerfile (Dockerfile) cannot be empty");
    parse_err("\n\n   \n", "the Dockerfile (Dockerfile) cannot be empty");
    parse_err("# only\n# comments\n", "the Dockerfile (Dockerfile) cannot be empty");
    parse_err_file("", "x.Dockerfile", "the Dockerfile (x.Dockerfile) cannot be empty");
    parse_err("RUN echo hi\n", "Dockerfile:1: No build stage in current context");
    parse_err("ARG A=1\n\nENV B=2\nFROM x\n", "Dockerfile:3: No build stage in current context");
    parse_err("# escape=`\nCMD x\n", "Dockerfile:2: No build stage in current context");
    /* the first error wins */
    parse_err("FROM a\nENV\nBOGUS\n", "Dockerfile:2: ENV requires at least one argument");

    struct dockerfile df;
    parse_ok("ARG A\nARG B=2\nFROM x\n", &df);
    assert_int_equal(df.n, 3);
    dockerfile_free(&df);
}

static void test_changes(void **state)
{
    (void)state;
    struct dockerfile df;
    struct berr err = {0};
    char *changes[] = {"CMD [\"sh\"]", "ENV A=1 B=2", "EXPOSE 80", "LABEL x=y", "USER nobody",
                       "WORKDIR /srv", "ENTRYPOINT [\"/e\"]", "VOLUME /v", "ONBUILD RUN x",
                       "HEALTHCHECK NONE"};
    assert_int_equal(df_parse_changes(changes, 10, &df, &err), 0);
    assert_int_equal(df.n, 10);
    assert_int_equal(df.v[0].kind, DF_CMD);
    assert_int_equal(df.v[9].kind, DF_HEALTHCHECK);
    dockerfile_free(&df);

    char *bad[] = {"CMD x", "RUN touch /x"};
    assert_int_not_equal(df_parse_changes(bad, 2, &df, &err), 0);
    str_is(err.msg, "run is not a valid change command");
    char *bad2[] = {"FROM x"};
    assert_int_not_equal(df_parse_changes(bad2, 1, &df, &err), 0);
    str_is(err.msg, "from is not a valid change command");
    char *bad3[] = {"NOPE x"};
    assert_int_not_equal(df_parse_changes(bad3, 1, &df, &err), 0);
    str_is(err.msg, "change:1: unknown instruction: NOPE");
    assert_int_equal(df_parse_changes(NULL, 0, &df, &err), 0);
    assert_int_equal(df.n, 0);
    dockerfile_free(&df);

    /* commit -c ENTRYPOINT after a CMD of the same list keeps it */
    assert_int_equal(df_parse_changes(changes, 10, &df, &err), 0);
    json_t *image = new_image();
    json_object_set_new(json_object_get(image, "config"), "Cmd", json_pack("[s]", "bash"));
    bool cmd_set = false;
    for (size_t i = 0; i < df.n; i++) {
        char *cb = NULL;
        assert_int_equal(df_apply_config_stage(&df.v[i], image, NULL, NULL, &cmd_set, &cb, &err),
                         0);
        free(cb);
    }
    json_is(cfg(image, "Cmd"), "[\"sh\"]");
    json_is(cfg(image, "Entrypoint"), "[\"/e\"]");
    json_is(cfg(image, "User"), "\"nobody\"");
    json_is(cfg(image, "Healthcheck"), "{\"Test\":[\"NONE\"]}");
    json_decref(image);
    dockerfile_free(&df);
}

/* ---- expansion -------------------------------------------------------------------------- */

static void test_expand_docker_table(void **state)
{
    (void)state;
    /* docker's own table of cases (builder/dockerfile/shell/envVarTest) */
    const char *env[] = {"PWD=/home", "SHELL=bash", "KOREAN=\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
                         NULL};
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"hello", "hello"},
        {"he'll'o", "hello"},
        {"he'llo", NULL},
        {"he\\'llo", "he'llo"},
        {"he\\\\'llo", NULL},
        {"abc\\tdef", "abctdef"},
        {"\"abc\\tdef\"", "abc\\tdef"},
        {"\"abc\\\\tdef\"", "abc\\tdef"},
        {"'abc\\tdef'", "abc\\tdef"},
        {"hello\\", "hello"},
        {"hello\\\\", "hello\\"},
        {"\"hello", NULL},
        {"\"hello\\\"", NULL},
        {"\"hel'lo\"", "hel'lo"},
        {"'hello", NULL},
        {"'hello\\'", "hello\\"},
        {"'hello\\there'", "hello\\there"},
        {"'hello\\\\there'", "hello\\\\there"},
        {"\"''\"", "''"},
        {"$.", "$."},
        {"$1", ""},
        {"he$1x", "hex"},
        {"he$.x", "he$.x"},
        {"he$pwd.", "he."},
        {"he$PWD", "he/home"},
        {"he\\$PWD", "he$PWD"},
        {"he\\\\$PWD", "he\\/home"},
        {"\"he\\$PWD\"", "he$PWD"},
        {"\"he\\\\$PWD\"", "he\\/home"},
        {"\\${}", "${}"},
        {"\\${}aaa", "${}aaa"},
        {"he\\${}", "he${}"},
        {"he\\${}xx", "he${}xx"},
        {"${}", NULL},
        {"${}aaa", NULL},
        {"he${}", NULL},
        {"he${}xx", NULL},
        {"he${hi}", "he"},
        {"he${hi}xx", "hexx"},
        {"he${PWD}", "he/home"},
        {"he${.}", NULL},
        {"he${XXX:-000}xx", "he000xx"},
        {"he${PWD:-000}xx", "he/homexx"},
        {"he${XXX:-$PWD}xx", "he/homexx"},
        {"he${XXX:-${PWD:-yyy}}xx", "he/homexx"},
        {"he${XXX:-${YYY:-yyy}}xx", "heyyyxx"},
        {"he${XXX:YYY}", NULL},
        {"he${XXX:+${PWD}}xx", "hexx"},
        {"he${PWD:+${XXX}}xx", "hexx"},
        {"he${PWD:+${SHELL}}xx", "hebashxx"},
        {"he${XXX:+000}xx", "hexx"},
        {"he${PWD:+000}xx", "he000xx"},
        {"'he${XX}'", "he${XX}"},
        {"\"he${PWD}\"", "he/home"},
        {"\"he'$PWD'\"", "he'/home'"},
        {"\"$PWD\"", "/home"},
        {"'$PWD'", "$PWD"},
        {"'\\$PWD'", "\\$PWD"},
        {"'\"hello\"'", "\"hello\""},
        {"'he\\$PWD'", "he\\$PWD"},
        {"he${PWD", NULL},
        {"he${PWD:=000}xx", NULL},
        {"he${PWD:+${PWD}:}xx", "he/home:xx"},
        {"he${XXX:-\\$PWD:}xx", "he$PWD:xx"},
        {"he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"},
        {"\xec\x95\x88'\xeb\x85\x95'\xed\x95\x98", "\xec\x95\x88\xeb\x85\x95\xed\x95\x98"},
        {"\xec\x95\x88\\'x", "\xec\x95\x88'x"},
        {"$KOREAN", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"},
        {"\xec\x95\x88$KOREAN", "\xec\x95\x88\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4"},
        {"${{aaa}", NULL},
        {"${aaa}}", "}"},
        {"${aaa", NULL},
        {"${{aaa:-bbb}", NULL},
        {"${aaa:-bbb}}", "bbb}"},
        {"${aaa:-bbb", NULL},
        {"${aaa:-bbb}", "bbb"},
        {"${aaa:-${bbb:-ccc}}", "ccc"},
        {"${aaa:-bbb ${foo}", NULL},
        {"${aaa:-bbb {foo}", "bbb {foo"},
        {"${:}", NULL},
        {"${:-bbb}", NULL},
        {"${:+bbb}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expand_is(cases[i].in, env, cases[i].want);
}

static void test_expand_modifiers(void **state)
{
    (void)state;
    const char *env[] = {"SET=value", "EMPTY=", "PATH=/usr/bin:/bin", "FILE=archive.tar.gz",
                         "SP=a b", NULL};
    /* - and :- differ on a variable set to "" */
    expand_is("${EMPTY-def}", env, "");
    expand_is("${EMPTY:-def}", env, "def");
    expand_is("${UNSET-def}", env, "def");
    expand_is("${SET-def}", env, "value");
    /* + and :+ */
    expand_is("${EMPTY+alt}", env, "alt");
    expand_is("${EMPTY:+alt}", env, "");
    expand_is("${UNSET+alt}", env, "");
    expand_is("${SET:+alt}", env, "alt");
    /* ? and :? */
    expand_is("${SET:?must be set}", env, "value");
    expand_is("${EMPTY?x}", env, "");
    struct berr err = {0};
    char *out;
    assert_int_not_equal(df_expand("${UNSET:?need it}", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"${UNSET:?need it}\": UNSET: need it");
    assert_int_not_equal(df_expand("${UNSET?}", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"${UNSET?}\": UNSET: is not allowed to be unset");
    assert_int_not_equal(df_expand("a${EMPTY:?}", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"a${EMPTY:?}\": EMPTY: is not allowed to be empty");
    assert_int_not_equal(df_expand("${X:=1}", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"${X:=1}\": unsupported modifier (:=) in substitution");
    assert_int_not_equal(df_expand("x${", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"x${\": syntax error: missing '}'");
    assert_int_not_equal(df_expand("${}", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"${}\": syntax error: bad substitution");
    assert_int_not_equal(df_expand("'abc", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"'abc\": unexpected end of statement while looking for "
                    "matching single-quote");
    assert_int_not_equal(df_expand("\"abc", '\\', lookup_env, env, &out, &err), 0);
    str_is(err.msg, "failed to process \"\\\"abc\": unexpected end of statement while looking "
                    "for matching double-quote");
    /* prefixes and suffixes */
    expand_is("${FILE#*.}", env, "tar.gz");
    expand_is("${FILE##*.}", env, "gz");
    expand_is("${FILE%.*}", env, "archive.tar");
    expand_is("${FILE%%.*}", env, "archive");
    expand_is("${FILE#nomatch}", env, "archive.tar.gz");
    expand_is("${PATH%%:*}", env, "/usr/bin");
    /* plain forms */
    expand_is("$SET/$UNSET/${SET}x$SETx", env, "value//valuex");
    expand_is("${PATH}:/opt", env, "/usr/bin:/bin:/opt");
    expand_is("$", env, "$");
    expand_is("a$ b", env, "a$ b");
    expand_is("$$", env, "");
    expand_is("  spaces kept  ", env, "  spaces kept  ");
    expand_is("", env, "");
    expand_is("\"$SP\"", env, "a b");
    /* no lookup at all */
    char *o;
    assert_int_equal(df_expand("x$A${B:-d}", '\\', NULL, NULL, &o, NULL), 0);
    str_is(o, "xd");
    free(o);
}

static void test_expand_backtick(void **state)
{
    (void)state;
    const char *env[] = {"D=c:\\data", NULL};
    struct berr err = {0};
    char *out;
    assert_int_equal(df_expand("c:\\windows\\$D `$D ``", '`', lookup_env, env, &out, &err), 0);
    str_is(out, "c:\\windows\\c:\\data $D `");
    free(out);
    assert_int_equal(df_expand("\"a`\"b\"", '`', lookup_env, env, &out, &err), 0);
    str_is(out, "a\"b");
    free(out);
    char **w;
    size_t n;
    assert_int_equal(df_words("a` b c", '`', lookup_env, env, &w, &n, &err), 0);
    assert_int_equal(n, 2);
    str_is(w[0], "a b");
    df_words_free(w);
}

static void test_words(void **state)
{
    (void)state;
    /* docker's table (builder/dockerfile/wordsTest) */
    const char *env[] = {"hi=hi", "space=abc  def", "leading=  ab c", "trailing=ab c   ", NULL};
    words_are("hello", NULL, "hello");
    words_are("hello${hi}bye", NULL, "hellobye");
    words_are("hello${hi}bye", env, "hellohibye");
    words_are("hello${space}bye", env, "helloabc,defbye");
    words_are("hello\"${space}\"bye", env, "helloabc  defbye");
    words_are("hello \"${space}\"bye", env, "hello,abc  defbye");
    words_are("hello${leading}def", env, "hello,ab,cdef");
    words_are("hello\"${leading}\" def", env, "hello  ab c,def");
    words_are("hello\"${leading}\"", env, "hello  ab c");
    words_are("hello${leading}", env, "hello,ab,c");
    words_are("hello${trailing}", env, "helloab,c");
    words_are("hello${trailing}d", env, "helloab,c,d");
    words_are("hello\"${trailing}\"d", env, "helloab c   d");
    words_are("hel\"lo${trailing}\"", env, "helloab c   ");
    words_are("hello\" there  \"", env, "hello there  ");
    words_are("hello there     ", env, "hello,there");
    words_are("hello\\ there", env, "hello there");
    words_are("hello\\\" there", env, "hello\",there");
    /* empty quotes make no word; several spaces make one break */
    words_are("a \"\" b", env, "a,b");
    words_are("  a\t\tb  ", env, "a,b");
    words_are("", env, "");
    words_are("'a b' \"c d\" e\\ f", env, "a b,c d,e f");
    /* COPY's sources and destination, FROM's words */
    words_are("--x=1 ./src /dst/", env, "--x=1,./src,/dst/");
    words_are("${hi:-x} AS build", env, "hi,AS,build");
    char **w;
    struct berr err = {0};
    assert_int_not_equal(df_words("'a b", '\\', lookup_env, env, &w, NULL, &err), 0);
}

/* ---- config-only instructions ------------------------------------------------------------------ */

static void test_config_cmd_entrypoint(void **state)
{
    (void)state;
    json_t *image = new_image();
    char *cb = apply("CMD [\"echo\", \"hello world\"]", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  CMD [\"echo\" \"hello world\"]");
    free(cb);
    json_is(cfg(image, "Cmd"), "[\"echo\",\"hello world\"]");

    cb = apply("CMD python app.py", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"python app.py\"]");
    free(cb);
    json_is(cfg(image, "Cmd"), "[\"/bin/sh\",\"-c\",\"python app.py\"]");

    /* not expanded */
    const char *env[] = {"X=1", NULL};
    cb = apply("CMD echo $X \"q\\\"\"", image, env);
    str_is(cb, "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"echo $X \\\"q\\\\\\\"\\\"\"]");
    free(cb);

    /* ENTRYPOINT drops the CMD of the base image */
    cb = apply("ENTRYPOINT [\"/docker-entrypoint.sh\"]", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  ENTRYPOINT [\"/docker-entrypoint.sh\"]");
    free(cb);
    json_is(cfg(image, "Entrypoint"), "[\"/docker-entrypoint.sh\"]");
    assert_null(cfg(image, "Cmd"));

    cb = apply("ENTRYPOINT top -b", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  ENTRYPOINT [\"/bin/sh\" \"-c\" \"top -b\"]");
    free(cb);

    cb = apply("CMD []", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  CMD []");
    free(cb);
    json_is(cfg(image, "Cmd"), "[]");
    json_decref(image);

    /* ... but not one this stage set */
    image = new_image();
    struct dockerfile df;
    parse_ok("FROM a\nCMD [\"x\"]\nENTRYPOINT [\"e\"]\n", &df);
    bool cmd_set = false;
    struct berr err = {0};
    assert_int_equal(df_apply_config_stage(&df.v[1], image, NULL, NULL, &cmd_set, NULL, &err), 0);
    assert_true(cmd_set);
    assert_int_equal(df_apply_config_stage(&df.v[2], image, NULL, NULL, &cmd_set, &cb, &err), 0);
    free(cb);
    json_is(cfg(image, "Cmd"), "[\"x\"]");
    dockerfile_free(&df);
    json_decref(image);
}

static void test_config_env(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"PATH=/usr/bin", "HOME=/root", NULL};
    char *cb = apply("ENV PATH=/opt/bin:$PATH", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ENV PATH=/opt/bin:/usr/bin");
    free(cb);
    json_is(cfg(image, "Env"), "[\"PATH=/opt/bin:/usr/bin\"]");

    cb = apply("ENV A=\"a b\" B=c\\ d C='$HOME' D=\"$HOME\"", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ENV A=a b B=c d C=$HOME D=/root");
    free(cb);
    json_is(cfg(image, "Env"), "[\"PATH=/opt/bin:/usr/bin\",\"A=a b\",\"B=c d\",\"C=$HOME\","
                               "\"D=/root\"]");

    cb = apply("ENV LEGACY some value  here", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ENV LEGACY=some value  here");
    free(cb);

    /* a variable set in the same instruction is not seen by it */
    cb = apply("ENV A=new E=${A:-unset}", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ENV A=new E=unset");
    free(cb);
    json_is(cfg(image, "Env"), "[\"PATH=/opt/bin:/usr/bin\",\"A=new\",\"B=c d\",\"C=$HOME\","
                               "\"D=/root\",\"LEGACY=some value  here\",\"E=unset\"]");

    cb = apply("ENV EMPTY=", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ENV EMPTY=");
    free(cb);
    apply_err("ENV ${NOTHING}=x", env, "ENV names can not be blank");
    apply_err("ENV A=${B:?no_B}", env, "failed to process \"${B:?no_B}\": B: no_B");
    json_decref(image);

    /* no config object yet */
    image = json_object();
    cb = apply("ENV X=1", image, NULL);
    free(cb);
    json_is(image, "{\"config\":{\"Env\":[\"X=1\"]}}");
    json_decref(image);
}

static void test_config_label_maintainer(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"VER=1.2", NULL};
    char *cb = apply("LABEL a=b", image, env);
    str_is(cb, "/bin/sh -c #(nop)  LABEL a=b");
    free(cb);
    cb = apply("LABEL version=$VER \"com.example.desc\"=\"x y\" multi=\"one \\\ntwo\"", image, env);
    str_is(cb, "/bin/sh -c #(nop)  LABEL version=1.2 com.example.desc=x y multi=one two");
    free(cb);
    json_is(cfg(image, "Labels"), "{\"a\":\"b\",\"com.example.desc\":\"x y\","
                                  "\"multi\":\"one two\",\"version\":\"1.2\"}");
    cb = apply("LABEL a=c", image, env);
    free(cb);
    json_is(json_object_get(cfg(image, "Labels"), "a"), "\"c\"");

    cb = apply("MAINTAINER Jane <jane@example.com>", image, env);
    str_is(cb, "/bin/sh -c #(nop)  MAINTAINER Jane <jane@example.com>");
    free(cb);
    json_is(json_object_get(image, "author"), "\"Jane <jane@example.com>\"");
    /* not expanded */
    cb = apply("MAINTAINER $VER", image, env);
    free(cb);
    json_is(json_object_get(image, "author"), "\"$VER\"");
    json_decref(image);
}

static void test_config_expose(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"PORTS=8080 9090/udp", "P=7", NULL};
    char *cb = apply("EXPOSE 5000", image, env);
    str_is(cb, "/bin/sh -c #(nop)  EXPOSE 5000");
    free(cb);
    cb = apply("EXPOSE 80/udp 443 8000-8002/TCP", image, env);
    str_is(cb, "/bin/sh -c #(nop)  EXPOSE 443 80/udp 8000-8002/TCP");
    free(cb);
    json_is(cfg(image, "ExposedPorts"), "{\"443/tcp\":{},\"5000/tcp\":{},\"80/udp\":{},"
                                        "\"8000/tcp\":{},\"8001/tcp\":{},\"8002/tcp\":{}}");
    json_decref(image);

    image = new_image();
    cb = apply("EXPOSE $PORTS ${P}0/sctp 127.0.0.1:8081:81", image, env);
    str_is(cb, "/bin/sh -c #(nop)  EXPOSE 8080 9090/udp 70/sctp 127.0.0.1:8081:81");
    free(cb);
    json_is(cfg(image, "ExposedPorts"), "{\"70/sctp\":{},\"8080/tcp\":{},\"81/tcp\":{},"
                                        "\"9090/udp\":{}}");
    json_decref(image);

    apply_err("EXPOSE abc", env, "Invalid containerPort: abc");
    apply_err("EXPOSE 70000", env, "Invalid containerPort: 70000");
    apply_err("EXPOSE 90-80", env, "Invalid containerPort: 90-80");
    apply_err("EXPOSE 80/xyz", env, "Invalid proto: xyz");
    apply_err("EXPOSE 80/tcp /udp", env, "No port specified: /udp<empty>");
}

static void test_config_workdir_user(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"APP=myapp", "U=app", NULL};
    char *cb = apply("WORKDIR /app", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /app");
    free(cb);
    cb = apply("WORKDIR src/$APP", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /app/src/myapp");
    free(cb);
    cb = apply("WORKDIR ../../other/./x/", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /app/other/x");
    free(cb);
    cb = apply("WORKDIR ../../../../..", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /");
    free(cb);
    /* an absolute one is kept as written */
    cb = apply("WORKDIR /a//b/", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /a//b/");
    free(cb);
    json_decref(image);

    image = new_image();
    cb = apply("WORKDIR relative", image, env);
    str_is(cb, "/bin/sh -c #(nop) WORKDIR /relative");
    free(cb);
    json_is(cfg(image, "WorkingDir"), "\"/relative\"");
    apply_err("WORKDIR ${NOPE}", env, "cannot normalize nothing");

    cb = apply("USER $U:${G:-staff}", image, env);
    str_is(cb, "/bin/sh -c #(nop)  USER app:staff");
    free(cb);
    json_is(cfg(image, "User"), "\"app:staff\"");
    json_decref(image);
}

static void test_config_volume_stopsignal(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"D=/data", "SIG=SIGINT", NULL};
    char *cb = apply("VOLUME $D /logs", image, env);
    str_is(cb, "/bin/sh -c #(nop)  VOLUME [/data /logs]");
    free(cb);
    cb = apply("VOLUME [\"/var/lib/x\", \"$D/y\"]", image, env);
    str_is(cb, "/bin/sh -c #(nop)  VOLUME [/var/lib/x /data/y]");
    free(cb);
    json_is(cfg(image, "Volumes"), "{\"/data\":{},\"/data/y\":{},\"/logs\":{},"
                                   "\"/var/lib/x\":{}}");
    apply_err("VOLUME $NOPE", env, "VOLUME specified can not be an empty string");

    cb = apply("STOPSIGNAL SIGKILL", image, env);
    str_is(cb, "/bin/sh -c #(nop)  STOPSIGNAL SIGKILL");
    free(cb);
    json_is(cfg(image, "StopSignal"), "\"SIGKILL\"");
    cb = apply("STOPSIGNAL $SIG", image, env);
    free(cb);
    json_is(cfg(image, "StopSignal"), "\"SIGINT\"");
    cb = apply("STOPSIGNAL 9", image, env);
    free(cb);
    cb = apply("STOPSIGNAL term", image, env);
    free(cb);
    cb = apply("STOPSIGNAL SIGRTMIN+3", image, env);
    free(cb);
    apply_err("STOPSIGNAL SIGFOO", env, "Invalid signal: SIGFOO");
    apply_err("STOPSIGNAL 0", env, "Invalid signal: 0");
    apply_err("STOPSIGNAL 99", env, "Invalid signal: 99");
    json_decref(image);

    assert_true(df_signal_valid("SIGTERM"));
    assert_true(df_signal_valid("USR1"));
    assert_true(df_signal_valid("RTMAX-14"));
    assert_false(df_signal_valid("RTMAX-15"));
    assert_false(df_signal_valid("RTMIN+0"));
    assert_false(df_signal_valid(""));
    assert_false(df_signal_valid("-9"));
}

static void test_config_shell(void **state)
{
    (void)state;
    json_t *image = new_image();
    json_t *sh = df_shell(image);
    json_is(sh, "[\"/bin/sh\",\"-c\"]");
    json_decref(sh);
    char *cb = apply("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]", image, NULL);
    str_is(cb, "/bin/bash -o pipefail -c #(nop)  SHELL [/bin/bash -o pipefail -c]");
    free(cb);
    sh = df_shell(image);
    json_is(sh, "[\"/bin/bash\",\"-o\",\"pipefail\",\"-c\"]");
    json_decref(sh);

    cb = apply("CMD echo hi", image, NULL);
    str_is(cb, "/bin/bash -o pipefail -c #(nop)  CMD [\"/bin/bash\" \"-o\" \"pipefail\" \"-c\" "
               "\"echo hi\"]");
    free(cb);
    cb = apply("WORKDIR /w", image, NULL);
    str_is(cb, "/bin/bash -o pipefail -c #(nop) WORKDIR /w");
    free(cb);

    struct dockerfile df;
    parse_ok("FROM a\nRUN set -x; make\nRUN [\"make\", \"install\"]\n", &df);
    char **argv;
    size_t argc;
    struct berr err = {0};
    assert_int_equal(df_command_argv(image, &df.v[1], &argv, &argc, &err), 0);
    assert_int_equal(argc, 5);
    str_is(argv[0], "/bin/bash");
    str_is(argv[4], "set -x; make");
    assert_null(argv[5]);
    df_words_free(argv);
    assert_int_equal(df_command_argv(image, &df.v[2], &argv, &argc, &err), 0);
    assert_int_equal(argc, 2);
    df_words_free(argv);
    assert_int_equal(df_created_by_run(image, &df.v[1], NULL, 0, &cb, &err), 0);
    str_is(cb, "/bin/bash -o pipefail -c set -x; make");
    free(cb);
    assert_int_not_equal(df_command_argv(image, &df.v[0], &argv, &argc, &err), 0);
    dockerfile_free(&df);
    json_decref(image);

    /* an empty Shell in the config means the default */
    image = json_pack("{s:{s:[]}}", "config", "Shell");
    sh = df_shell(image);
    json_is(sh, "[\"/bin/sh\",\"-c\"]");
    json_decref(sh);
    json_decref(image);
}

static void test_config_healthcheck(void **state)
{
    (void)state;
    json_t *image = new_image();
    char *cb = apply("HEALTHCHECK --interval=5m --timeout=3s --retries=3 "
                     "CMD curl -f http://localhost/ || exit 1", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"curl -f http://localhost/ || "
               "exit 1\"] \"5m0s\" \"3s\" \"0s\" '\\x03'}");
    free(cb);
    json_is(cfg(image, "Healthcheck"), "{\"Interval\":300000000000,\"Retries\":3,\"Test\":"
                                       "[\"CMD-SHELL\",\"curl -f http://localhost/ || exit 1\"],"
                                       "\"Timeout\":3000000000}");

    cb = apply("HEALTHCHECK --start-period=1m30s --start-interval=500ms CMD [\"/check\", \"-v\"]",
               image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD\" \"/check\" \"-v\"] \"0s\" \"0s\" "
               "\"1m30s\" '\\x00'}");
    free(cb);
    json_is(cfg(image, "Healthcheck"), "{\"StartInterval\":500000000,\"StartPeriod\":"
                                       "90000000000,\"Test\":[\"CMD\",\"/check\",\"-v\"]}");

    cb = apply("HEALTHCHECK NONE", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}");
    free(cb);
    json_is(cfg(image, "Healthcheck"), "{\"Test\":[\"NONE\"]}");

    cb = apply("HEALTHCHECK --retries=65 CMD true", image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"0s\" \"0s\" \"0s\" "
               "'A'}");
    free(cb);
    json_decref(image);
}

static void test_config_onbuild_arg(void **state)
{
    (void)state;
    json_t *image = new_image();
    const char *env[] = {"V=1", NULL};
    char *cb = apply("ONBUILD RUN echo $V", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ONBUILD RUN echo $V");
    free(cb);
    cb = apply("onbuild   COPY . /app", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ONBUILD COPY . /app");
    free(cb);
    json_is(cfg(image, "OnBuild"), "[\"RUN echo $V\",\"COPY . /app\"]");

    cb = apply("ARG A B=$V C=\"x y\"", image, env);
    str_is(cb, "/bin/sh -c #(nop)  ARG A B=1 C=x y");
    free(cb);
    json_decref(image);

    /* RUN, COPY, ADD, FROM are not config instructions */
    struct dockerfile df;
    parse_ok("FROM a\nRUN x\nCOPY a b\n", &df);
    image = new_image();
    struct berr err = {0};
    char *c2 = NULL;
    assert_int_not_equal(df_apply_config(&df.v[1], image, NULL, NULL, &c2, &err), 0);
    assert_int_not_equal(df_apply_config(&df.v[2], image, NULL, NULL, &c2, &err), 0);
    assert_int_not_equal(df_apply_config(&df.v[0], image, NULL, NULL, &c2, &err), 0);
    assert_null(c2);
    json_decref(image);
    dockerfile_free(&df);
}

static void test_created_by_run(void **state)
{
    (void)state;
    json_t *image = new_image();
    struct dockerfile df;
    parse_ok("FROM a\nRUN apt-get update\nRUN [\"echo\", \"x y\"]\n"
             "RUN --network=none echo $A\n", &df);
    struct berr err = {0};
    char *cb;
    assert_int_equal(df_created_by_run(image, &df.v[1], NULL, 0, &cb, &err), 0);
    str_is(cb, "/bin/sh -c apt-get update");
    free(cb);
    assert_int_equal(df_created_by_run(image, &df.v[2], NULL, 0, &cb, &err), 0);
    str_is(cb, "echo x y");
    free(cb);
    char *args[] = {"B=2", "A=1"};
    assert_int_equal(df_created_by_run(image, &df.v[3], args, 2, &cb, &err), 0);
    str_is(cb, "|2 A=1 B=2 /bin/sh -c echo $A");
    free(cb);
    assert_int_equal(df_created_by_run(image, &df.v[2], args, 1, &cb, &err), 0);
    str_is(cb, "|1 B=2 echo x y");
    free(cb);
    dockerfile_free(&df);
    json_decref(image);
}

/* ---- Go's formatting ------------------------------------------------------------------------- */

static void test_go_formats(void **state)
{
    (void)state;
    struct {
        int64_t ns;
        const char *s;
    } durs[] = {
        {0, "0s"}, {1, "1ns"}, {999, "999ns"}, {1000, "1\xc2\xb5s"}, {1500, "1.5\xc2\xb5s"},
        {1000000, "1ms"}, {1500000, "1.5ms"}, {500000000, "500ms"}, {1000000000, "1s"},
        {1500000000, "1.5s"}, {30000000000, "30s"}, {90000000000, "1m30s"},
        {300000000000, "5m0s"}, {3600000000000, "1h0m0s"}, {3723000000001, "1h2m3.000000001s"},
        {-1500000000, "-1.5s"},
    };
    for (size_t i = 0; i < sizeof durs / sizeof *durs; i++) {
        char s[32];
        df_duration_string(durs[i].ns, s);
        str_is(s, durs[i].s);
    }
    struct {
        const char *s;
        int64_t ns;
    } parses[] = {
        {"0", 0}, {"5s", 5000000000}, {"1m30s", 90000000000}, {"1.5h", 5400000000000},
        {"500ms", 500000000}, {"10us", 10000}, {"10\xc2\xb5s", 10000}, {"3ns", 3},
        {"-2s", -2000000000}, {"+1m", 60000000000}, {".5s", 500000000}, {"1h1m1s", 3661000000000},
    };
    for (size_t i = 0; i < sizeof parses / sizeof *parses; i++) {
        int64_t ns = -42;
        if (df_parse_duration(parses[i].s, &ns) != 0 || ns != parses[i].ns)
            fail_msg("df_parse_duration(%s) = %lld", parses[i].s, (long long)ns);
    }
    const char *bad[] = {"", "s", "5", "1.s.", "x5s", "5x", "-", "1m30", "."};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ns;
        if (df_parse_duration(bad[i], &ns) == 0)
            fail_msg("df_parse_duration accepted \"%s\"", bad[i]);
    }

    struct {
        const char *in, *want;
    } quotes[] = {
        {"", "\"\""}, {"abc", "\"abc\""}, {"a\"b", "\"a\\\"b\""}, {"a\\b", "\"a\\\\b\""},
        {"\t\n\r", "\"\\t\\n\\r\""}, {"\x01\x7f", "\"\\x01\\x7f\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""}, {"\xff", "\"\\xff\""},
        {"\xc2\xa0", "\"\\u00a0\""}, {"\xe2\x80\x8b", "\"\\u200b\""}, {"'", "\"'\""},
        {"\xf0\x9f\x90\xb3", "\"\xf0\x9f\x90\xb3\""},
    };
    for (size_t i = 0; i < sizeof quotes / sizeof *quotes; i++) {
        char *q = df_go_quote(quotes[i].in);
        str_is(q, quotes[i].want);
        free(q);
    }
    struct {
        long long r;
        const char *want;
    } runes[] = {
        {0, "'\\x00'"}, {3, "'\\x03'"}, {'A', "'A'"}, {'\'', "'\\''"}, {'\n', "'\\n'"},
        {0xe9, "'\xc3\xa9'"}, {-1, "'\xef\xbf\xbd'"}, {0x110000, "'\xef\xbf\xbd'"},
    };
    for (size_t i = 0; i < sizeof runes / sizeof *runes; i++) {
        char *q = df_go_quote_rune(runes[i].r);
        str_is(q, runes[i].want);
        free(q);
    }
}

/* ---- .dockerignore ----------------------------------------------------------------------------- */

static struct df_ignore *ignore(const char *text)
{
    struct df_ignore *ig = NULL;
    struct berr err = {0};
    if (df_ignore_parse(text, strlen(text), &ig, &err) != 0)
        fail_msg("df_ignore_parse: %s", err.msg);
    return ig;
}

static void excluded(const struct df_ignore *ig, const char *path, bool want)
{
    if (df_ignore_match(ig, path) != want)
        fail_msg("\"%s\" %s, wanted %s", path, want ? "kept" : "excluded",
                 want ? "excluded" : "kept");
}

static void test_ignore_basics(void **state)
{
    (void)state;
    struct df_ignore *ig = ignore("# comment\n"
                                  "\n"
                                  "*/temp*\n"
                                  "*/*/temp*\n"
                                  "temp?\n"
                                  "  *.md  \n"
                                  "!README.md\n"
                                  "node_modules\n"
                                  "/build/\n"
                                  "./dist\n");
    excluded(ig, "somedir/temporary.txt", true);
    excluded(ig, "somedir/temp", true);
    excluded(ig, "somedir/subdir/temporary.txt", true);
    excluded(ig, "a/b/c/temp", false);
    excluded(ig, "tempa", true);
    excluded(ig, "tempab", false);
    excluded(ig, "temp", false);
    excluded(ig, "CHANGELOG.md", true);
    excluded(ig, "README.md", false);
    excluded(ig, "docs/guide.md", false);          /* '*' stops at '/' */
    excluded(ig, "node_modules", true);
    excluded(ig, "node_modules/a/b/c.js", true);   /* a parent matches */
    excluded(ig, "src/node_modules", false);
    excluded(ig, "build", true);
    excluded(ig, "build/out.o", true);
    excluded(ig, "dist/x", true);
    excluded(ig, "main.c", false);
    excluded(ig, ".", false);
    excluded(ig, "", false);
    df_ignore_free(ig);

    /* the last match wins */
    ig = ignore("*.md\n!README*.md\nREADME-secret.md\n");
    excluded(ig, "README.md", false);
    excluded(ig, "README-secret.md", true);
    excluded(ig, "notes.md", true);
    df_ignore_free(ig);

    /* exceptions below an excluded directory */
    ig = ignore("docs\n!docs/keep.txt\n");
    excluded(ig, "docs/other.txt", true);
    excluded(ig, "docs/keep.txt", false);
    excluded(ig, "docs", true);
    df_ignore_free(ig);

    /* everything, then exceptions */
    ig = ignore("*\n!src\n!Dockerfile\n");
    excluded(ig, "x", true);
    excluded(ig, "src", false);
    excluded(ig, "src/a/b.c", false);
    excluded(ig, "Dockerfile", false);
    df_ignore_free(ig);

    ig = ignore("");
    excluded(ig, "anything", false);
    df_ignore_free(ig);
    ig = ignore("\xef\xbb\xbf" "bom\r\n");
    excluded(ig, "bom", true);
    df_ignore_free(ig);
}

static void test_ignore_double_star(void **state)
{
    (void)state;
    struct df_ignore *ig = ignore("**/*.go\n");
    excluded(ig, "main.go", true);
    excluded(ig, "a/b/c.go", true);
    excluded(ig, "a/b/c.golang", false);
    df_ignore_free(ig);

    ig = ignore("a/**/b\n");
    excluded(ig, "a/b", true);
    excluded(ig, "a/x/b", true);
    excluded(ig, "a/x/y/b", true);
    excluded(ig, "a/x/y/bc", false);
    excluded(ig, "a/b/c", true);                     /* through its parent a/b */
    excluded(ig, "ab", false);
    df_ignore_free(ig);

    ig = ignore("logs/**\n");                        /* a prefix */
    excluded(ig, "logs/a", true);
    excluded(ig, "logs/a/b", true);
    excluded(ig, "logs", false);
    excluded(ig, "logsx", false);
    df_ignore_free(ig);

    ig = ignore("**\n!keep\n");
    excluded(ig, "x/y", true);
    excluded(ig, "keep", false);
    df_ignore_free(ig);

    ig = ignore("**.bak\n");                         /* docker's suffix shortcut */
    excluded(ig, "x.bak", true);
    excluded(ig, "a/b/x.bak", true);
    df_ignore_free(ig);

    ig = ignore("**/cache\n");
    excluded(ig, "cache", true);
    excluded(ig, "a/cache", true);
    excluded(ig, "a/cache/x", true);
    excluded(ig, "a/mycache", false);
    df_ignore_free(ig);

    ig = ignore("a/**/*.txt\n");
    excluded(ig, "a/x.txt", true);
    excluded(ig, "a/b/c/x.txt", true);
    excluded(ig, "b/x.txt", false);
    df_ignore_free(ig);
}

static void test_ignore_classes_escapes(void **state)
{
    (void)state;
    struct df_ignore *ig = ignore("[a-c]x\nf[^o]o\n\\*star\nq\\?\nlit]\n[\\]]z\n");
    excluded(ig, "ax", true);
    excluded(ig, "cx", true);
    excluded(ig, "dx", false);
    excluded(ig, "fao", true);
    excluded(ig, "foo", false);
    excluded(ig, "*star", true);
    excluded(ig, "xstar", false);
    excluded(ig, "q?", true);
    excluded(ig, "qa", false);
    excluded(ig, "lit]", true);
    excluded(ig, "]z", true);
    df_ignore_free(ig);

    ig = ignore("caf\xc3\xa9?\n");
    excluded(ig, "caf\xc3\xa9s", true);
    excluded(ig, "caf\xc3\xa9\xc3\xa9", true);         /* one character, two bytes */
    df_ignore_free(ig);

    struct berr err = {0};
    struct df_ignore *bad = NULL;
    const char *bads[] = {"[\n", "a[b\n", "[]\n", "[z-a]\n", "x\\\n", "[a-]\n"};
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        if (df_ignore_parse(bads[i], strlen(bads[i]), &bad, &err) == 0)
            fail_msg("accepted bad pattern %s", bads[i]);
        str_is(err.msg, ".dockerignore:1: syntax error in pattern");
    }
    assert_int_not_equal(df_ignore_parse("a\n!\n", 4, &bad, &err), 0);
    str_is(err.msg, ".dockerignore:2: illegal exclusion pattern: \"!\"");
    assert_int_not_equal(df_ignore_parse("!  \n", 4, &bad, &err), 0);
}

static void test_ignore_clean(void **state)
{
    (void)state;
    struct {
        const char *in, *want;
    } cases[] = {
        {"", "."}, {".", "."}, {"a", "a"}, {"a/", "a"}, {"a//b", "a/b"}, {"./a", "a"},
        {"a/./b", "a/b"}, {"a/../b", "b"}, {"a/b/../../c", "c"}, {"..", ".."}, {"../a", "../a"},
        {"../../a/..", "../.."}, {"a/../..", ".."}, {"/", "/"}, {"//a//", "/a"}, {"/..", "/"},
        {"/../a", "/a"}, {"/a/b/../..", "/"}, {"abc/def/", "abc/def"}, {"a/b/c/../../../..", ".."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *c = df_clean_path(cases[i].in);
        if (strcmp(c, cases[i].want) != 0)
            fail_msg("df_clean_path(%s) = %s, wanted %s", cases[i].in, c, cases[i].want);
        free(c);
    }
    /* patterns are cleaned */
    struct df_ignore *ig = ignore("a/../b\n/c//d/\n!./e/f/..\n/\n");
    excluded(ig, "b", true);
    excluded(ig, "c/d", true);
    excluded(ig, "a", false);
    df_ignore_free(ig);
}

static void test_ignore_reinclude(void **state)
{
    (void)state;
    struct df_ignore *ig = ignore("node_modules\n!node_modules/keep/x.js\n");
    assert_true(df_ignore_may_reinclude(ig, "node_modules"));
    assert_true(df_ignore_may_reinclude(ig, "node_modules/keep"));
    assert_false(df_ignore_may_reinclude(ig, "node_modules/other"));
    assert_false(df_ignore_may_reinclude(ig, "elsewhere"));
    df_ignore_free(ig);

    ig = ignore("vendor\n");
    assert_false(df_ignore_may_reinclude(ig, "vendor"));
    df_ignore_free(ig);

    ig = ignore("*\n!**/*.go\n");
    assert_true(df_ignore_may_reinclude(ig, "deep/down"));
    df_ignore_free(ig);

    ig = ignore("*\n!src/*/main.c\n");
    assert_true(df_ignore_may_reinclude(ig, "src"));
    assert_true(df_ignore_may_reinclude(ig, "src/app"));
    assert_false(df_ignore_may_reinclude(ig, "src/app/deeper"));
    assert_false(df_ignore_may_reinclude(ig, "lib"));
    df_ignore_free(ig);
    assert_false(df_ignore_may_reinclude(NULL, "x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tutorial_getting_started),
        cmocka_unit_test(test_tutorial_flask),
        cmocka_unit_test(test_tutorial_hello),
        cmocka_unit_test(test_tutorial_multistage),
        cmocka_unit_test(test_continuations),
        cmocka_unit_test(test_escape_directive),
        cmocka_unit_test(test_case_insensitive),
        cmocka_unit_test(test_from),
        cmocka_unit_test(test_run),
        cmocka_unit_test(test_cmd_entrypoint_shell),
        cmocka_unit_test(test_env_label),
        cmocka_unit_test(test_arg),
        cmocka_unit_test(test_one_argument_instructions),
        cmocka_unit_test(test_volume),
        cmocka_unit_test(test_copy_add),
        cmocka_unit_test(test_healthcheck),
        cmocka_unit_test(test_onbuild),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_expand_docker_table),
        cmocka_unit_test(test_expand_modifiers),
        cmocka_unit_test(test_expand_backtick),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_config_cmd_entrypoint),
        cmocka_unit_test(test_config_env),
        cmocka_unit_test(test_config_label_maintainer),
        cmocka_unit_test(test_config_expose),
        cmocka_unit_test(test_config_workdir_user),
        cmocka_unit_test(test_config_volume_stopsignal),
        cmocka_unit_test(test_config_shell),
        cmocka_unit_test(test_config_healthcheck),
        cmocka_unit_test(test_config_onbuild_arg),
        cmocka_unit_test(test_created_by_run),
        cmocka_unit_test(test_go_formats),
        cmocka_unit_test(test_ignore_basics),
        cmocka_unit_test(test_ignore_double_star),
        cmocka_unit_test(test_ignore_classes_escapes),
        cmocka_unit_test(test_ignore_clean),
        cmocka_unit_test(test_ignore_reinclude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
