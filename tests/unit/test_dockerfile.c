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

    char *bad3[] = {"CMD x", "NOPE x"};
    assert_int_not_equal(df_parse_changes(bad3, 2, &df, &err), 0);
    str_is(err.msg, "-c:2: unknown instruction: NOPE");
    char *bad4[] = {"ENV"};
    assert_int_not_equal(df_parse_changes(bad4, 1, &df, &err), 0);
    str_is(err.msg, "-c:1: ENV requires at least one argument");
    /* the kinds are the caller's to check */
    char *run[] = {"RUN touch /x"};
    assert_int_equal(df_parse_changes(run, 1, &df, &err), 0);
    assert_int_equal(df.v[0].kind, DF_RUN);
    dockerfile_free(&df);
    assert_int_equal(df_parse_changes(NULL, 0, &df, &err), 0);
    assert_int_equal(df.n, 0);
    dockerfile_free(&df);

    /* an ONBUILD trigger, parsed when a stage starts from the image */
    assert_int_equal(df_parse_fragment("RUN echo hi", 11, "Dockerfile", &df, &err), 0);
    assert_int_equal(df.n, 1);
    assert_int_equal(df.v[0].kind, DF_RUN);
    dockerfile_free(&df);
    assert_int_equal(df_parse_fragment("", 0, NULL, &df, &err), 0);
    assert_int_equal(df.n, 0);
    dockerfile_free(&df);
    assert_int_not_equal(df_parse_fragment("NOPE", 4, "Dockerfile", &df, &err), 0);
    str_is(err.msg, "Dockerfile:1: unknown instruction: NOPE");

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
    /* deep nesting is refused, not a crash */
    char deep[4000] = "";
    for (int i = 0; i < 300; i++)
        strcat(deep, "${a:-");
    for (int i = 0; i < 300; i++)
        strcat(deep, "}");
    assert_int_not_equal(df_expand(deep, '\\', lookup_env, env, &out, &err), 0);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    deep[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(deep, "${a:-");
    strcat(deep, "x");
    for (int i = 0; i < 100; i++)
        strcat(deep, "}");
    expand_is(deep, env, "x");
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

static void test_ignore_long(void **state)
{
    (void)state;
    /* a path longer than the matcher's buffers, a pattern with many tokens */
    char path[3000] = "";
    for (int i = 0; i < 200; i++)
        strcat(path, "dir/");
    strcat(path, "file.txt");
    struct df_ignore *ig = ignore("dir/**/*.txt\n");
    excluded(ig, path, true);
    df_ignore_free(ig);
    ig = ignore("**/nope/*.txt\n");
    excluded(ig, path, false);
    df_ignore_free(ig);
    char pat[600] = "";
    for (int i = 0; i < 100; i++)
        strcat(pat, "d?r/");
    strcat(pat, "*.txt\n");
    ig = ignore(pat);
    char p2[600] = "";
    for (int i = 0; i < 100; i++)
        strcat(p2, "dir/");
    strcat(p2, "f.txt");
    excluded(ig, p2, true);
    p2[1] = '/';
    excluded(ig, p2, false);
    df_ignore_free(ig);

    /* many stars do not make it slow (no backtracking) */
    ig = ignore("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b\n");
    char as[200];
    memset(as, 'a', sizeof as - 1);
    as[sizeof as - 1] = '\0';
    for (int i = 0; i < 1000; i++)
        excluded(ig, as, false);
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


/* ---- tables: many small cases ----------------------------------------------------------------- */

/* One instruction after a FROM: its kind, form, flags and arguments
 * (joined with '|'; an ARG without a default shows as "(null)"). */
static void test_parse_table(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum df_kind kind;
        bool json;
        size_t nflags;
        const char *args;
    } cases[] = {
        {"RUN echo hi", DF_RUN, false, 0, "echo hi"},
        {"RUN   echo   hi   ", DF_RUN, false, 0, "echo   hi"},
        {"RUN [\"echo\",\"hi\"]", DF_RUN, true, 0, "echo|hi"},
        {"RUN [\"echo\"]", DF_RUN, true, 0, "echo"},
        {"RUN [ ]", DF_RUN, true, 0, ""},
        {"RUN [\"a b\", \"c\\nd\"]", DF_RUN, true, 0, "a b|c\nd"},
        {"RUN ['single', 'quotes']", DF_RUN, false, 0, "['single', 'quotes']"},
        {"RUN {\"an\": \"object\"}", DF_RUN, false, 0, "{\"an\": \"object\"}"},
        {"RUN [\"unterminated\"", DF_RUN, false, 0, "[\"unterminated\""},
        {"RUN --mount=type=cache,target=/root/.cache pip install x", DF_RUN, false, 1,
         "pip install x"},
        {"RUN --network=default --security=insecure x", DF_RUN, false, 2, "x"},
        {"RUN --device=/dev/fuse --device=/dev/kvm x", DF_RUN, false, 2, "x"},
        {"RUN -- --not-a-flag", DF_RUN, false, 0, "--not-a-flag"},
        {"RUN -n x", DF_RUN, false, 0, "-n x"},
        {"RUN echo \"a   b\"", DF_RUN, false, 0, "echo \"a   b\""},
        {"CMD", DF_CMD, false, 0, ""},
        {"CMD [\"nginx\", \"-g\", \"daemon off;\"]", DF_CMD, true, 0, "nginx|-g|daemon off;"},
        {"CMD nginx -g 'daemon off;'", DF_CMD, false, 0, "nginx -g 'daemon off;'"},
        {"CMD [\"\"]", DF_CMD, true, 0, ""},
        {"ENTRYPOINT [\"docker-entrypoint.sh\"]", DF_ENTRYPOINT, true, 0, "docker-entrypoint.sh"},
        {"ENTRYPOINT exec java -jar /app.jar", DF_ENTRYPOINT, false, 0, "exec java -jar /app.jar"},
        {"ENTRYPOINT []", DF_ENTRYPOINT, true, 0, ""},
        {"SHELL [\"powershell\", \"-command\"]", DF_SHELL, true, 0, "powershell|-command"},
        {"ENV A=1", DF_ENV, false, 0, "A|1"},
        {"ENV A=1 B=2 C=3", DF_ENV, false, 0, "A|1|B|2|C|3"},
        {"ENV A=\"x y\" B='z'", DF_ENV, false, 0, "A|\"x y\"|B|'z'"},
        {"ENV A==b", DF_ENV, false, 0, "A|=b"},
        {"ENV A=b=c", DF_ENV, false, 0, "A|b=c"},
        {"ENV A b", DF_ENV, false, 0, "A|b"},
        {"ENV A b=c d", DF_ENV, false, 0, "A|b=c d"},
        {"ENV A\t  tabbed", DF_ENV, false, 0, "A|tabbed"},
        {"ENV A=\\\"x", DF_ENV, false, 0, "A|\\\"x"},
        {"ENV A=\"a \\\" b\"", DF_ENV, false, 0, "A|\"a \\\" b\""},
        {"ENV PATH=$PATH:/opt/bin", DF_ENV, false, 0, "PATH|$PATH:/opt/bin"},
        {"LABEL a=b", DF_LABEL, false, 0, "a|b"},
        {"LABEL \"a.b\"=\"c d\" e=f", DF_LABEL, false, 0, "\"a.b\"|\"c d\"|e|f"},
        {"LABEL a b c", DF_LABEL, false, 0, "a|b c"},
        {"ARG V", DF_ARG, false, 0, "V|(null)"},
        {"ARG V=1", DF_ARG, false, 0, "V|1"},
        {"ARG V=", DF_ARG, false, 0, "V|"},
        {"ARG A B C", DF_ARG, false, 0, "A|(null)|B|(null)|C|(null)"},
        {"ARG A=\"x y\" B=$A", DF_ARG, false, 0, "A|\"x y\"|B|$A"},
        {"MAINTAINER someone", DF_MAINTAINER, false, 0, "someone"},
        {"EXPOSE 80", DF_EXPOSE, false, 0, "80"},
        {"EXPOSE 80/tcp   443/tcp", DF_EXPOSE, false, 0, "80/tcp   443/tcp"},
        {"WORKDIR /", DF_WORKDIR, false, 0, "/"},
        {"WORKDIR $HOME/app", DF_WORKDIR, false, 0, "$HOME/app"},
        {"USER 1000:1000", DF_USER, false, 0, "1000:1000"},
        {"USER \"quoted user\"", DF_USER, false, 0, "\"quoted user\""},
        {"VOLUME /a", DF_VOLUME, false, 0, "/a"},
        {"VOLUME [\"/a\"]", DF_VOLUME, true, 0, "/a"},
        {"VOLUME [\"/a\", \"/b\"]", DF_VOLUME, true, 0, "/a|/b"},
        {"STOPSIGNAL 9", DF_STOPSIGNAL, false, 0, "9"},
        {"STOPSIGNAL SIGQUIT", DF_STOPSIGNAL, false, 0, "SIGQUIT"},
        {"HEALTHCHECK NONE", DF_HEALTHCHECK, false, 0, ""},
        {"HEALTHCHECK none", DF_HEALTHCHECK, false, 0, ""},
        {"HEALTHCHECK CMD curl localhost", DF_HEALTHCHECK, false, 0, "curl localhost"},
        {"HEALTHCHECK --retries=5 CMD [\"x\"]", DF_HEALTHCHECK, true, 1, "x"},
        {"HEALTHCHECK --interval=1m30s --timeout=10s CMD x", DF_HEALTHCHECK, false, 2, "x"},
        {"ONBUILD RUN x", DF_ONBUILD, false, 0, "RUN x"},
        {"COPY a b", DF_COPY, false, 0, "a b"},
        {"COPY a  b   c", DF_COPY, false, 0, "a  b   c"},
        {"COPY [\"a\", \"b\"]", DF_COPY, true, 0, "a|b"},
        {"COPY [\"a\", \"b\", \"/c/\"]", DF_COPY, true, 0, "a|b|/c/"},
        {"COPY --from=0 /a /b", DF_COPY, false, 1, "/a /b"},
        {"COPY --from=nginx:latest /etc/nginx/nginx.conf /nginx.conf", DF_COPY, false, 1,
         "/etc/nginx/nginx.conf /nginx.conf"},
        {"COPY --chown=user:group --chmod=644 a b", DF_COPY, false, 2, "a b"},
        {"COPY --link a b", DF_COPY, false, 1, "a b"},
        {"COPY --link=true a b", DF_COPY, false, 1, "a b"},
        {"COPY --link=FALSE a b", DF_COPY, false, 1, "a b"},
        {"COPY \"a b\" c", DF_COPY, false, 0, "\"a b\" c"},
        {"COPY *.txt /dir/", DF_COPY, false, 0, "*.txt /dir/"},
        {"ADD a.tar.gz /", DF_ADD, false, 0, "a.tar.gz /"},
        {"ADD https://example.com/f /f", DF_ADD, false, 0, "https://example.com/f /f"},
        {"ADD [\"a\", \"b\"]", DF_ADD, true, 0, "a|b"},
        {"ADD --chown=1 --chmod=600 --link --checksum=sha256:0 a b", DF_ADD, false, 4, "a b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text;
        assert_true(asprintf(&text, "FROM x\n%s\n", cases[i].line) > 0);
        struct dockerfile df;
        parse_ok(text, &df);
        free(text);
        if (df.n != 2)
            fail_msg("%s: %zu instructions", cases[i].line, df.n);
        struct df_instr *in = &df.v[1];
        if (in->kind != cases[i].kind)
            fail_msg("%s: kind %s", cases[i].line, df_kind_name(in->kind));
        if (in->json != cases[i].json)
            fail_msg("%s: json %d", cases[i].line, in->json);
        if (in->nflags != cases[i].nflags)
            fail_msg("%s: %zu flags", cases[i].line, in->nflags);
        char got[512] = "";
        for (size_t k = 0; k < in->nargs; k++) {
            if (k)
                strcat(got, "|");
            strcat(got, in->args[k] ? in->args[k] : "(null)");
        }
        if (strcmp(got, cases[i].args) != 0)
            fail_msg("%s: args \"%s\", wanted \"%s\"", cases[i].line, got, cases[i].args);
        assert_int_equal(in->line, 2);
        assert_int_equal(in->escape, '\\');
        dockerfile_free(&df);
    }
}

/* Bad input, each with the message docker gives for it. */
static void test_parse_error_table(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"FROM", "Dockerfile:1: FROM requires either one or three arguments"},
        {"FROM a AS", "Dockerfile:1: FROM requires either one or three arguments"},
        {"FROM a AS b AS c", "Dockerfile:1: FROM requires either one or three arguments"},
        {"FROM a AS -x", "Dockerfile:1: invalid name for build stage: \"-x\", name can't start "
                         "with a number or contain symbols"},
        {"FROM a AS b:c", "Dockerfile:1: invalid name for build stage: \"b:c\", name can't start "
                          "with a number or contain symbols"},
        {"FROM --platform=a --platform=b x", "Dockerfile:1: Duplicate flag specified: platform"},
        {"FROM --from=x y", "Dockerfile:1: Unknown flag: from"},
        {"CMD x", "Dockerfile:1: No build stage in current context"},
        {"LABEL a=b", "Dockerfile:1: No build stage in current context"},
        {"ARG A\nEXPOSE 80", "Dockerfile:2: No build stage in current context"},
        {"\n\n\nUSER x\nFROM a", "Dockerfile:4: No build stage in current context"},
        {"FROM a\nFOO", "Dockerfile:2: unknown instruction: FOO"},
        {"FROM a\nfoo bar", "Dockerfile:2: unknown instruction: FOO"},
        {"FROM a\nRUNN x", "Dockerfile:2: unknown instruction: RUNN"},
        {"FROM a\nRUN-x", "Dockerfile:2: unknown instruction: RUN-X"},
        {"FROM a\n\"RUN\" x", "Dockerfile:2: unknown instruction: \"RUN\""},
        {"FROM a\nFROM a\nFROM a\nFROM a\nFROM a\nNOPE", "Dockerfile:6: unknown instruction: NOPE"},
        {"FROM a\nRUN a \\\nb \\\nc\nNOPE", "Dockerfile:5: unknown instruction: NOPE"},
        {"FROM a\nRUN a \\\n# c\n\nb\nNOPE", "Dockerfile:6: unknown instruction: NOPE"},
        {"FROM a\nENV", "Dockerfile:2: ENV requires at least one argument"},
        {"FROM a\nENV    ", "Dockerfile:2: ENV requires at least one argument"},
        {"FROM a\nENV a", "Dockerfile:2: ENV must have two arguments"},
        {"FROM a\nENV a=1 =2", "Dockerfile:2: ENV names can not be blank"},
        {"FROM a\nENV a=1 b c=3", "Dockerfile:2: Syntax error - can't find = in \"b\". Must be "
                                  "of the form: name=value"},
        {"FROM a\nLABEL =v", "Dockerfile:2: LABEL names can not be blank"},
        {"FROM a\nARG", "Dockerfile:2: ARG requires at least one argument"},
        {"FROM a\nARG a =b", "Dockerfile:2: ARG names can not be blank"},
        {"FROM a\nMAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument"},
        {"FROM a\nWORKDIR  ", "Dockerfile:2: WORKDIR requires exactly one argument"},
        {"FROM a\nSTOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument"},
        {"FROM a\nUSER", "Dockerfile:2: USER requires exactly one argument"},
        {"FROM a\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"},
        {"FROM a\nVOLUME", "Dockerfile:2: VOLUME requires at least one argument"},
        {"FROM a\nVOLUME [\"\"]", "Dockerfile:2: VOLUME specified can not be an empty string"},
        {"FROM a\nVOLUME [1]", "Dockerfile:2: when using JSON array syntax, arrays must be "
                               "comprised of strings only"},
        {"FROM a\nCOPY [\"a\", null]", "Dockerfile:2: when using JSON array syntax, arrays must "
                                       "be comprised of strings only"},
        {"FROM a\nCMD [[\"nested\"]]", "Dockerfile:2: when using JSON array syntax, arrays must "
                                       "be comprised of strings only"},
        {"FROM a\nSHELL sh -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
        {"FROM a\nSHELL [\"sh\", 2]", "Dockerfile:2: when using JSON array syntax, arrays must "
                                      "be comprised of strings only"},
        {"FROM a\nCOPY a", "Dockerfile:2: COPY requires at least two arguments, but only one "
                           "was provided. Destination could not be determined"},
        {"FROM a\nCOPY --from=x a", "Dockerfile:2: COPY requires at least two arguments, but "
                                    "only one was provided. Destination could not be determined"},
        {"FROM a\nADD [\"a\"]", "Dockerfile:2: ADD requires at least two arguments, but only "
                                "one was provided. Destination could not be determined"},
        {"FROM a\nCOPY --chown a b", "Dockerfile:2: Missing a value on flag: chown"},
        {"FROM a\nCOPY --chmod a b", "Dockerfile:2: Missing a value on flag: chmod"},
        {"FROM a\nCOPY --chown=a --chown=b c d", "Dockerfile:2: Duplicate flag specified: chown"},
        {"FROM a\nCOPY --link --link a b", "Dockerfile:2: Duplicate flag specified: link"},
        {"FROM a\nCOPY --keep-git-dir a b", "Dockerfile:2: Unknown flag: keep-git-dir"},
        {"FROM a\nADD --parents a b", "Dockerfile:2: Unknown flag: parents"},
        {"FROM a\nCOPY --link=yes a b",
         "Dockerfile:2: Expecting boolean value for flag link, not: yes"},
        {"FROM a\nWORKDIR --x=y /", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nEXPOSE --x=y 80", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nVOLUME --x=y /v", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nLABEL --x=y a=b", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nARG --x=y a", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nONBUILD --x=y RUN a", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nSTOPSIGNAL --x=y 9", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nMAINTAINER --x=y me", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nSHELL --x=y [\"a\"]", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nENTRYPOINT --x=y a", "Dockerfile:2: Unknown flag: x"},
        {"FROM a\nRUN --mount a", "Dockerfile:2: Missing a value on flag: mount"},
        {"FROM a\nRUN --network", "Dockerfile:2: Missing a value on flag: network"},
        {"FROM a\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"},
        {"FROM a\nHEALTHCHECK --interval=1s", "Dockerfile:2: HEALTHCHECK requires at least one "
                                              "argument"},
        {"FROM a\nHEALTHCHECK NONE CMD x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"},
        {"FROM a\nHEALTHCHECK RUN x", "Dockerfile:2: Unknown type \"RUN\" in HEALTHCHECK (try "
                                      "CMD)"},
        {"FROM a\nHEALTHCHECK cmdx y", "Dockerfile:2: Unknown type \"CMDX\" in HEALTHCHECK (try "
                                       "CMD)"},
        {"FROM a\nHEALTHCHECK CMD   ", "Dockerfile:2: Missing command after HEALTHCHECK CMD"},
        {"FROM a\nHEALTHCHECK --start-period=1 CMD x",
         "Dockerfile:2: time: missing unit in duration \"1\""},
        {"FROM a\nHEALTHCHECK --start-interval=1y CMD x",
         "Dockerfile:2: time: unknown unit in duration \"1y\""},
        {"FROM a\nHEALTHCHECK --timeout=-1s CMD x",
         "Dockerfile:2: Interval \"timeout\" cannot be less than 1ms"},
        {"FROM a\nHEALTHCHECK --start-period=999us CMD x",
         "Dockerfile:2: Interval \"start-period\" cannot be less than 1ms"},
        {"FROM a\nHEALTHCHECK --retries=1.5 CMD x",
         "Dockerfile:2: strconv.ParseInt: parsing \"1.5\": invalid syntax"},
        {"FROM a\nHEALTHCHECK --retries=99999999999 CMD x",
         "Dockerfile:2: strconv.ParseInt: parsing \"99999999999\": invalid syntax"},
        {"FROM a\nHEALTHCHECK --retries CMD x", "Dockerfile:2: Missing a value on flag: retries"},
        {"FROM a\nONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"},
        {"FROM a\nONBUILD onbuild x", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` "
                                      "isn't allowed"},
        {"FROM a\nONBUILD maintainer x", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD "
                                         "trigger"},
        {"FROM a\nONBUILD ENV", "Dockerfile:2: ENV requires at least one argument"},
        {"FROM a\nONBUILD SHELL x", "Dockerfile:2: SHELL requires the arguments to be in JSON "
                                    "form"},
        {"# escape=\\\\\nFROM a", "Dockerfile:1: invalid escape token '\\\\' does not match ` or "
                                   "\\"},
        {"# escape=a\nFROM a", "Dockerfile:1: invalid escape token 'a' does not match ` or \\"},
        {"# syntax=x\n# escape=`\n# Syntax=y\nFROM a",
         "Dockerfile:3: only one syntax parser directive can be used"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        parse_err(cases[i].text, cases[i].msg);
}

/* .dockerignore: (patterns, path, excluded?) */
static void test_ignore_table(void **state)
{
    (void)state;
    static const struct {
        const char *patterns, *path;
        bool excluded;
    } cases[] = {
        {"*", "a", true},
        {"*", "a/b", true},
        {"*", ".hidden", true},
        {"*.go", "a.go", true},
        {"*.go", "a.go/x", true},
        {"*.go", "d/a.go", false},
        {"*/*.go", "d/a.go", true},
        {"*/*.go", "d/e/a.go", false},
        {"d/*", "d", false},
        {"d/*", "d/a", true},
        {"d/*", "d/a/b", true},
        {"d/?", "d/a", true},
        {"d/?", "d/ab", false},
        {"d/?", "d//", false},
        {"a?c", "a/c", false},
        {"a*c", "a/c", false},
        {"a*c", "abbc", true},
        {"a*c", "ac", true},
        {"a*c*", "acx", true},
        {"**", "x", true},
        {"**", "x/y/z", true},
        {"**/", "x", true},
        {"**/x", "x", true},
        {"**/x", "a/b/x", true},
        {"**/x", "a/b/xx", false},
        {"**/x/**", "a/x/b", true},
        {"**/x/**", "x/b", true},
        {"**/x/**", "a/x", false},
        {"a/**", "a", false},
        {"a/**", "a/b/c", true},
        {"a/**/", "a/b", true},
        {"a/**/c", "a/c", true},
        {"a/**/c", "a/b/c", true},
        {"a/**/c", "a/b/d/c", true},
        {"a/**/c", "a/bc", false},
        {"a/**/c/*.txt", "a/x/y/c/f.txt", true},
        {"a/**/c/*.txt", "a/c/f.txt", true},
        {"a/**/c/*.txt", "a/c/d/f.txt", false},         /* '*' stops at '/' */
        {"a**", "abc/d", true},
        {"a**", "xa", false},
        {"**.log", "x.log", true},
        {"**.log", "a/b/x.log", true},
        {"**.log", "a.logs", false},
        {"a/b/../c", "a/c", true},
        {"./a", "a", true},
        {"/a/", "a", true},
        {"/a", "b/a", false},
        {"a//b", "a/b", true},
        {"a/./b", "a/b", true},
        {"..", "x", false},
        {"../x", "x", false},
        {"[abc]", "b", true},
        {"[abc]", "d", false},
        {"[a-z]*", "hello", true},
        {"[a-z]*", "Hello", false},
        {"[^a-z]*", "Hello", true},
        {"[^a-z]*", "hello", false},
        {"[\\^]x", "^x", true},
        {"[a\\-z]", "-", true},
        {"[a\\-z]", "b", false},
        {"\\[x\\]", "[x]", true},
        {"x\\*", "x*", true},
        {"x\\*", "xy", false},
        {"a.b", "a.b", true},
        {"a.b", "axb", false},
        {"a+b", "a+b", true},
        {"(x)", "(x)", true},
        {"$x", "$x", true},
        {"{a,b}", "{a,b}", true},
        {"{a,b}", "a", false},
        {"a|b", "a|b", true},
        {"a b", "a b", true},
        {"  spaced  ", "spaced", true},
        {"#comment", "#comment", false},
        {"\\#hash", "#hash", true},
        {"\xc3\xa9t\xc3\xa9", "\xc3\xa9t\xc3\xa9", true},
        {"?t?", "\xc3\xa9t\xc3\xa9", true},
        {"[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", true},
        {"node_modules\n!node_modules/x", "node_modules/x", false},
        {"node_modules\n!node_modules/x", "node_modules/x/y", false},
        {"node_modules\n!node_modules/x", "node_modules/y", true},
        {"!a\na", "a", true},
        {"a\n!a", "a", false},
        {"a\n!a\na", "a", true},
        {"*.txt\n!keep.txt", "keep.txt", false},
        {"*.txt\n!keep.txt", "drop.txt", true},
        {"*.txt\n!*.txt\n*.txt", "x.txt", true},
        {"docs\n!docs/*.md\ndocs/secret.md", "docs/secret.md", true},
        {"docs\n!docs/*.md\ndocs/secret.md", "docs/readme.md", false},
        {"docs\n!docs/*.md\ndocs/secret.md", "docs/x.txt", true},
        {"**/*.pyc\n!important/**", "important/a.pyc", false},
        {"**/*.pyc\n!important/**", "other/a.pyc", true},
        {"Dockerfile", "Dockerfile", true},
        {".dockerignore", ".dockerignore", true},
        {".git", ".git/objects/aa/bb", true},
        {".*", ".env", true},
        {".*", "a/.env", false},
        {"**/.*", "a/.env", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct df_ignore *ig = ignore(cases[i].patterns);
        if (df_ignore_match(ig, cases[i].path) != cases[i].excluded)
            fail_msg("patterns \"%s\": \"%s\" %s", cases[i].patterns, cases[i].path,
                     cases[i].excluded ? "kept, wanted excluded" : "excluded, wanted kept");
        df_ignore_free(ig);
    }
}

/* Expansion: (word, expanded, words joined with ','). */
static void test_expand_table(void **state)
{
    (void)state;
    const char *env[] = {"HOME=/root", "APP=my app", "EMPTY=", "V=1.2.3", "TAB=a\tb",
                         "Q=\"quoted\"", "DOLLAR=$HOME", "STAR=*", NULL};
    static const struct {
        const char *in, *one, *words;
    } cases[] = {
        {"$HOME", "/root", "/root"},
        {"${HOME}", "/root", "/root"},
        {"${HOME}/x", "/root/x", "/root/x"},
        {"$HOME/x", "/root/x", "/root/x"},
        {"$HOMEx", "", ""},
        {"${HOME}x", "/rootx", "/rootx"},
        {"$APP", "my app", "my,app"},
        {"\"$APP\"", "my app", "my app"},
        {"'$APP'", "$APP", "$APP"},
        {"x${APP}y", "xmy appy", "xmy,appy"},
        {"$EMPTY", "", ""},
        {"\"$EMPTY\"", "", ""},
        {"a${EMPTY}b", "ab", "ab"},
        {"${EMPTY:-d}", "d", "d"},
        {"${EMPTY-d}", "", ""},
        {"${NONE:-a b}", "a b", "a,b"},
        {"${NONE:-\"a b\"}", "a b", "a,b"},
        {"\"${NONE:-a b}\"", "a b", "a b"},
        {"${V:+v$V}", "v1.2.3", "v1.2.3"},
        {"${V%.*}", "1.2", "1.2"},
        {"${V%%.*}", "1", "1"},
        {"${V#*.}", "2.3", "2.3"},
        {"${V##*.}", "3", "3"},
        {"${V#1}", ".2.3", ".2.3"},
        {"${V%3}", "1.2.", "1.2."},
        {"${V#x}", "1.2.3", "1.2.3"},
        {"${NONE#x}", "", ""},
        {"${V:#1.}", "2.3", "2.3"},
        {"${V:%.3}", "1.2", "1.2"},
        {"$TAB", "a\tb", "a,b"},
        {"$Q", "\"quoted\"", "\"quoted\""},
        {"$DOLLAR", "$HOME", "$HOME"},
        {"$STAR", "*", "*"},
        {"\\$HOME", "$HOME", "$HOME"},
        {"\\\\$HOME", "\\/root", "\\/root"},
        {"\"\\$HOME\"", "$HOME", "$HOME"},
        {"\"\\a\"", "\\a", "\\a"},
        {"\"a\\\\b\"", "a\\b", "a\\b"},
        {"'a\\b'", "a\\b", "a\\b"},
        {"a\\ b", "a b", "a b"},
        {"a\\\tb", "a\tb", "a\tb"},
        {"a\\", "a", "a"},
        {"\"\"", "", ""},
        {"''", "", ""},
        {"\"\"x", "x", "x"},
        {"x '' y", "x  y", "x,y"},
        {"a\"b c\"d", "ab cd", "ab cd"},
        {"a'b c'd", "ab cd", "ab cd"},
        {"\"it's\"", "it's", "it's"},
        {"'say \"hi\"'", "say \"hi\"", "say \"hi\""},
        {"${HOME:-x}${APP:+y}", "/rooty", "/rooty"},
        {"${1}", "", ""},
        {"$12", "", ""},
        {"${a_b_1}", "", ""},
        {"$_x", "", ""},
        {"100$", "100$", "100$"},
        {"$-", "", ""},
        {"a $ b", "a $ b", "a,$,b"},
        {"${HOME}}", "/root}", "/root}"},
        {"{HOME}", "{HOME}", "{HOME}"},
        {"  lead", "  lead", "lead"},
        {"trail  ", "trail  ", "trail"},
        {"a\nb", "a\nb", "a,b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        expand_is(cases[i].in, env, cases[i].one);
        words_are(cases[i].in, env, cases[i].words);
    }
    static const char *const bad[] = {
        "${", "${HOME", "${HOME:-x", "${}", "${:-x}", "${{x}}", "'", "\"", "a'b", "\"a\\\"",
        "${HOME:x}", "${HOME:}", "${HOME/a/b}", "${NONE?}", "${EMPTY:?}", "${NONE:?msg}",
        "${HOME!}", "${HOME:", "\"${HOME\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expand_is(bad[i], env, NULL);
}

/* Config instructions: (instruction, created_by after "/bin/sh -c #(nop)", config key,
 * its JSON after). */
static void test_config_table(void **state)
{
    (void)state;
    const char *env[] = {"HOME=/home/u", "PORT=8080", "NAME=web", "SP=a b", NULL};
    static const struct {
        const char *line, *cb, *key, *json;
    } cases[] = {
        {"CMD [\"a\"]", "  CMD [\"a\"]", "Cmd", "[\"a\"]"},
        {"CMD a", "  CMD [\"/bin/sh\" \"-c\" \"a\"]", "Cmd", "[\"/bin/sh\",\"-c\",\"a\"]"},
        {"CMD [\"a\\tb\"]", "  CMD [\"a\\tb\"]", "Cmd", "[\"a\\tb\"]"},
        {"CMD [\"\\u00e9\"]", "  CMD [\"\xc3\xa9\"]", "Cmd", "[\"\xc3\xa9\"]"},
        {"CMD [\"\\\\\"]", "  CMD [\"\\\\\"]", "Cmd", "[\"\\\\\"]"},
        {"CMD $HOME", "  CMD [\"/bin/sh\" \"-c\" \"$HOME\"]", "Cmd",
         "[\"/bin/sh\",\"-c\",\"$HOME\"]"},
        {"ENTRYPOINT [\"e\", \"-x\"]", "  ENTRYPOINT [\"e\" \"-x\"]", "Entrypoint",
         "[\"e\",\"-x\"]"},
        {"ENTRYPOINT e", "  ENTRYPOINT [\"/bin/sh\" \"-c\" \"e\"]", "Entrypoint",
         "[\"/bin/sh\",\"-c\",\"e\"]"},
        {"ENV A=1", "  ENV A=1", "Env", "[\"PATH=/usr/bin\",\"A=1\"]"},
        {"ENV PATH=/x", "  ENV PATH=/x", "Env", "[\"PATH=/x\"]"},
        {"ENV PATH /x /y", "  ENV PATH=/x /y", "Env", "[\"PATH=/x /y\"]"},
        {"ENV H=$HOME/.cache", "  ENV H=/home/u/.cache", "Env",
         "[\"PATH=/usr/bin\",\"H=/home/u/.cache\"]"},
        {"ENV S=$SP", "  ENV S=a b", "Env", "[\"PATH=/usr/bin\",\"S=a b\"]"},
        {"ENV A=1 A=2", "  ENV A=1 A=2", "Env", "[\"PATH=/usr/bin\",\"A=2\"]"},
        {"ENV ${NAME}_PORT=$PORT", "  ENV web_PORT=8080", "Env",
         "[\"PATH=/usr/bin\",\"web_PORT=8080\"]"},
        {"ENV X=\"\"", "  ENV X=", "Env", "[\"PATH=/usr/bin\",\"X=\"]"},
        {"LABEL a=b", "  LABEL a=b", "Labels", "{\"a\":\"b\"}"},
        {"LABEL a=b c=d", "  LABEL a=b c=d", "Labels", "{\"a\":\"b\",\"c\":\"d\"}"},
        {"LABEL n=$NAME", "  LABEL n=web", "Labels", "{\"n\":\"web\"}"},
        {"LABEL \"a b\"=\"c d\"", "  LABEL a b=c d", "Labels", "{\"a b\":\"c d\"}"},
        {"LABEL legacy form here", "  LABEL legacy=form here", "Labels",
         "{\"legacy\":\"form here\"}"},
        {"EXPOSE 80", "  EXPOSE 80", "ExposedPorts", "{\"80/tcp\":{}}"},
        {"EXPOSE 53/udp 53/tcp", "  EXPOSE 53/tcp 53/udp", "ExposedPorts",
         "{\"53/tcp\":{},\"53/udp\":{}}"},
        {"EXPOSE $PORT", "  EXPOSE 8080", "ExposedPorts", "{\"8080/tcp\":{}}"},
        {"EXPOSE 1-3", "  EXPOSE 1-3", "ExposedPorts", "{\"1/tcp\":{},\"2/tcp\":{},\"3/tcp\":{}}"},
        {"EXPOSE 9/", "  EXPOSE 9/", "ExposedPorts", "{\"9/tcp\":{}}"},
        {"EXPOSE 0", "  EXPOSE 0", "ExposedPorts", "{\"0/tcp\":{}}"},
        {"EXPOSE 65535/sctp", "  EXPOSE 65535/sctp", "ExposedPorts", "{\"65535/sctp\":{}}"},
        {"WORKDIR /a", " WORKDIR /a", "WorkingDir", "\"/a\""},
        {"WORKDIR a", " WORKDIR /a", "WorkingDir", "\"/a\""},
        {"WORKDIR ./a/", " WORKDIR /a", "WorkingDir", "\"/a\""},
        {"WORKDIR $HOME", " WORKDIR /home/u", "WorkingDir", "\"/home/u\""},
        {"WORKDIR /srv/$NAME", " WORKDIR /srv/web", "WorkingDir", "\"/srv/web\""},
        {"WORKDIR \"/with space\"", " WORKDIR /with space", "WorkingDir", "\"/with space\""},
        {"USER root", "  USER root", "User", "\"root\""},
        {"USER 1000", "  USER 1000", "User", "\"1000\""},
        {"USER $NAME", "  USER web", "User", "\"web\""},
        {"VOLUME /v", "  VOLUME [/v]", "Volumes", "{\"/v\":{}}"},
        {"VOLUME /v /w", "  VOLUME [/v /w]", "Volumes", "{\"/v\":{},\"/w\":{}}"},
        {"VOLUME [\"/v w\"]", "  VOLUME [/v w]", "Volumes", "{\"/v w\":{}}"},
        {"VOLUME $HOME/data", "  VOLUME [/home/u/data]", "Volumes", "{\"/home/u/data\":{}}"},
        {"STOPSIGNAL SIGUSR1", "  STOPSIGNAL SIGUSR1", "StopSignal", "\"SIGUSR1\""},
        {"STOPSIGNAL 15", "  STOPSIGNAL 15", "StopSignal", "\"15\""},
        {"STOPSIGNAL sigquit", "  STOPSIGNAL sigquit", "StopSignal", "\"sigquit\""},
        {"HEALTHCHECK NONE", "  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
         "Healthcheck", "{\"Test\":[\"NONE\"]}"},
        {"HEALTHCHECK CMD x", "  HEALTHCHECK &{[\"CMD-SHELL\" \"x\"] \"0s\" \"0s\" \"0s\" "
                              "'\\x00'}", "Healthcheck", "{\"Test\":[\"CMD-SHELL\",\"x\"]}"},
        {"HEALTHCHECK --interval=30s --timeout=30s --start-period=5s --retries=3 CMD [\"c\"]",
         "  HEALTHCHECK &{[\"CMD\" \"c\"] \"30s\" \"30s\" \"5s\" '\\x03'}", "Healthcheck",
         "{\"Interval\":30000000000,\"Retries\":3,\"StartPeriod\":5000000000,\"Test\":[\"CMD\","
         "\"c\"],\"Timeout\":30000000000}"},
        {"HEALTHCHECK --interval=1h CMD $HOME", "  HEALTHCHECK &{[\"CMD-SHELL\" \"$HOME\"] "
                                                "\"1h0m0s\" \"0s\" \"0s\" '\\x00'}",
         "Healthcheck", "{\"Interval\":3600000000000,\"Test\":[\"CMD-SHELL\",\"$HOME\"]}"},
        {"ONBUILD RUN make", "  ONBUILD RUN make", "OnBuild", "[\"RUN make\"]"},
        {"ONBUILD ENV A=$HOME", "  ONBUILD ENV A=$HOME", "OnBuild", "[\"ENV A=$HOME\"]"},
        {"SHELL [\"/bin/ash\", \"-eo\", \"pipefail\", \"-c\"]",
         "  SHELL [/bin/ash -eo pipefail -c]", "Shell",
         "[\"/bin/ash\",\"-eo\",\"pipefail\",\"-c\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *image = json_pack("{s:{s:[s]}}", "config", "Env", "PATH=/usr/bin");
        char *cb = apply(cases[i].line, image, env);
        json_t *sh = df_shell(image);
        char *want;
        assert_true(asprintf(&want, "%s %s -c #(nop)%s", json_string_value(json_array_get(sh, 0)),
                             json_array_size(sh) > 2 ? "-eo pipefail" : "", cases[i].cb) > 0);
        json_decref(sh);
        /* the default shell: "/bin/sh -c #(nop)..." */
        char *want2;
        assert_true(asprintf(&want2, "/bin/sh -c #(nop)%s", cases[i].cb) > 0);
        const char *w = strncmp(cases[i].line, "SHELL", 5) == 0 ? want : want2;
        if (strcmp(cb, w) != 0)
            fail_msg("%s: created_by \"%s\", wanted \"%s\"", cases[i].line, cb, w);
        char *got = json_dumps(cfg(image, cases[i].key),
                               JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        if (!got || strcmp(got, cases[i].json) != 0)
            fail_msg("%s: %s = %s, wanted %s", cases[i].line, cases[i].key, got, cases[i].json);
        free(got);
        free(cb);
        free(want);
        free(want2);
        json_decref(image);
    }
}

/* A whole Dockerfile of the kind people write, applied step by step as a
 * build would: the history reads as docker's. */
static void test_history_of_a_build(void **state)
{
    (void)state;
    struct dockerfile df;
    parse_ok("FROM debian:bookworm\n"
             "LABEL maintainer=\"ops@example.com\"\n"
             "ARG VERSION=1.25\n"
             "ENV NGINX_VERSION=${VERSION} \\\n"
             "    LANG=C.UTF-8\n"
             "RUN apt-get update \\\n"
             " && apt-get install -y nginx=${NGINX_VERSION}* \\\n"
             " && rm -rf /var/lib/apt/lists/*\n"
             "EXPOSE 80 443\n"
             "STOPSIGNAL SIGQUIT\n"
             "WORKDIR /usr/share/nginx\n"
             "WORKDIR html\n"
             "VOLUME [\"/var/cache/nginx\"]\n"
             "USER www-data\n"
             "HEALTHCHECK --interval=30s CMD curl -fs http://localhost/ || exit 1\n"
             "ENTRYPOINT [\"nginx\"]\n"
             "CMD [\"-g\", \"daemon off;\"]\n", &df);
    const char *want[] = {
        NULL,
        "/bin/sh -c #(nop)  LABEL maintainer=ops@example.com",
        "/bin/sh -c #(nop)  ARG VERSION=1.25",
        "/bin/sh -c #(nop)  ENV NGINX_VERSION=1.25 LANG=C.UTF-8",
        "|1 VERSION=1.25 /bin/sh -c apt-get update  && apt-get install -y "
        "nginx=${NGINX_VERSION}*  && rm -rf /var/lib/apt/lists/*",
        "/bin/sh -c #(nop)  EXPOSE 443 80",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT",
        "/bin/sh -c #(nop) WORKDIR /usr/share/nginx",
        "/bin/sh -c #(nop) WORKDIR /usr/share/nginx/html",
        "/bin/sh -c #(nop)  VOLUME [/var/cache/nginx]",
        "/bin/sh -c #(nop)  USER www-data",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"curl -fs http://localhost/ || exit "
        "1\"] \"30s\" \"0s\" \"0s\" '\\x00'}",
        "/bin/sh -c #(nop)  ENTRYPOINT [\"nginx\"]",
        "/bin/sh -c #(nop)  CMD [\"-g\" \"daemon off;\"]",
    };
    assert_int_equal(df.n, sizeof want / sizeof *want);
    json_t *image = new_image();
    json_object_set_new(json_object_get(image, "config"), "Cmd", json_pack("[s]", "bash"));
    /* the variables in effect: the config's Env, then the ARG */
    char *vars[16] = {"VERSION=1.25"};
    bool cmd_set = false;
    for (size_t i = 1; i < df.n; i++) {
        struct berr err = {0};
        char *cb = NULL;
        /* lookups see the config's Env as it is before the step, and the ARG */
        const char *env[8] = {vars[0]};
        size_t ne = 1;
        json_t *e;
        size_t k;
        json_array_foreach(cfg(image, "Env"), k, e)
            if (ne < 7)
                env[ne++] = json_string_value(e);
        env[ne] = NULL;
        if (df.v[i].kind == DF_RUN)
            assert_int_equal(df_created_by_run(image, &df.v[i], vars, 1, &cb, &err), 0);
        else
            assert_int_equal(df_apply_config_stage(&df.v[i], image, lookup_env, env, &cmd_set,
                                                   &cb, &err), 0);
        str_is(cb, want[i]);
        free(cb);
    }
    json_is(cfg(image, "Entrypoint"), "[\"nginx\"]");
    json_is(cfg(image, "Cmd"), "[\"-g\",\"daemon off;\"]");
    json_is(cfg(image, "WorkingDir"), "\"/usr/share/nginx/html\"");
    json_is(cfg(image, "ExposedPorts"), "{\"443/tcp\":{},\"80/tcp\":{}}");
    json_is(cfg(image, "Labels"), "{\"maintainer\":\"ops@example.com\"}");
    json_is(cfg(image, "Env"), "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                               "/sbin:/bin\",\"NGINX_VERSION=1.25\",\"LANG=C.UTF-8\"]");
    json_is(cfg(image, "StopSignal"), "\"SIGQUIT\"");
    json_is(cfg(image, "User"), "\"www-data\"");
    json_decref(image);
    dockerfile_free(&df);
}


/* ---- more files, more tables ------------------------------------------------------------------ */

struct want_instr {
    enum df_kind kind;
    int line;
    const char *text;
};

static void file_is(const char *text, const struct want_instr *want, size_t n)
{
    struct dockerfile df;
    parse_ok(text, &df);
    if (df.n != n)
        fail_msg("%zu instructions, wanted %zu", df.n, n);
    for (size_t i = 0; i < n; i++) {
        if (df.v[i].kind != want[i].kind || df.v[i].line != want[i].line ||
            strcmp(df.v[i].text, want[i].text) != 0)
            fail_msg("instruction %zu: %s line %d \"%s\", wanted %s line %d \"%s\"", i,
                     df_kind_name(df.v[i].kind), df.v[i].line, df.v[i].text,
                     df_kind_name(want[i].kind), want[i].line, want[i].text);
    }
    dockerfile_free(&df);
}

static void test_files_python_node(void **state)
{
    (void)state;
    /* a Python service */
    static const struct want_instr py[] = {
        {DF_FROM, 3, "FROM python:3.12-slim AS base"},
        {DF_ENV, 4, "ENV PYTHONDONTWRITEBYTECODE=1     PYTHONUNBUFFERED=1"},
        {DF_WORKDIR, 7, "WORKDIR /srv"},
        {DF_RUN, 9, "RUN set -eux;     apt-get update;     apt-get install -y --no-install-recommends "
                    "build-essential;     rm -rf /var/lib/apt/lists/*"},
        {DF_COPY, 15, "COPY requirements.txt ."},
        {DF_RUN, 16, "RUN pip install --no-cache-dir -r requirements.txt"},
        {DF_COPY, 17, "COPY . ."},
        {DF_USER, 18, "USER nobody"},
        {DF_EXPOSE, 19, "EXPOSE 8000"},
        {DF_HEALTHCHECK, 20, "HEALTHCHECK --interval=10s --timeout=2s   CMD python -c \"import "
                             "urllib.request as u; u.urlopen('http://localhost:8000/')\""},
        {DF_CMD, 22, "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]"},
    };
    file_is("# syntax=docker/dockerfile:1\n"
            "# the service image\n"
            "FROM python:3.12-slim AS base\n"
            "ENV PYTHONDONTWRITEBYTECODE=1 \\\n"
            "    PYTHONUNBUFFERED=1\n"
            "\n"
            "WORKDIR /srv\n"
            "# system packages\n"
            "RUN set -eux; \\\n"
            "    apt-get update; \\\n"
            "    # compilers for the wheels\n"
            "    apt-get install -y --no-install-recommends build-essential; \\\n"
            "    rm -rf /var/lib/apt/lists/*\n"
            "\n"
            "COPY requirements.txt .\n"
            "RUN pip install --no-cache-dir -r requirements.txt\n"
            "COPY . .\n"
            "USER nobody\n"
            "EXPOSE 8000\n"
            "HEALTHCHECK --interval=10s --timeout=2s \\\n"
            "  CMD python -c \"import urllib.request as u; u.urlopen('http://localhost:8000/')\"\n"
            "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
            py, sizeof py / sizeof *py);

    /* a Node build in two stages */
    static const struct want_instr node[] = {
        {DF_ARG, 1, "ARG NODE=20"},
        {DF_FROM, 2, "FROM node:${NODE}-alpine AS deps"},
        {DF_WORKDIR, 3, "WORKDIR /app"},
        {DF_COPY, 4, "COPY package.json package-lock.json ./"},
        {DF_RUN, 5, "RUN npm ci"},
        {DF_FROM, 7, "FROM deps AS build"},
        {DF_COPY, 8, "COPY . ."},
        {DF_RUN, 9, "RUN npm run build"},
        {DF_FROM, 11, "FROM nginx:alpine"},
        {DF_COPY, 12, "COPY --from=build /app/dist /usr/share/nginx/html"},
        {DF_LABEL, 13, "LABEL org.opencontainers.image.source=\"https://example.com/repo\""},
    };
    file_is("ARG NODE=20\n"
            "FROM node:${NODE}-alpine AS deps\n"
            "WORKDIR /app\n"
            "COPY package.json package-lock.json ./\n"
            "RUN npm ci\n"
            "\n"
            "FROM deps AS build\n"
            "COPY . .\n"
            "RUN npm run build\n"
            "\n"
            "FROM nginx:alpine\n"
            "COPY --from=build /app/dist /usr/share/nginx/html\n"
            "LABEL org.opencontainers.image.source=\"https://example.com/repo\"\n",
            node, sizeof node / sizeof *node);
}

static void test_files_windows_escape(void **state)
{
    (void)state;
    static const struct want_instr win[] = {
        {DF_FROM, 4, "FROM mcr.microsoft.com/windows/nanoserver"},
        {DF_SHELL, 5, "SHELL [\"powershell\", \"-Command\"]"},
        {DF_COPY, 6, "COPY app\\ c:\\app\\"},
        {DF_RUN, 7, "RUN New-Item -ItemType Directory c:\\data ;     Write-Host done"},
        {DF_WORKDIR, 9, "WORKDIR c:\\app"},
        {DF_ENTRYPOINT, 10, "ENTRYPOINT [\"c:\\\\app\\\\app.exe\"]"},
    };
    file_is("# escape=`\n"
            "# syntax=docker/dockerfile:1\n"
            "\n"
            "FROM mcr.microsoft.com/windows/nanoserver\n"
            "SHELL [\"powershell\", \"-Command\"]\n"
            "COPY app\\ c:\\app\\\n"
            "RUN New-Item -ItemType Directory c:\\data ; `\n"
            "    Write-Host done\n"
            "WORKDIR c:\\app\n"
            "ENTRYPOINT [\"c:\\\\app\\\\app.exe\"]\n",
            win, sizeof win / sizeof *win);

    /* expansion with the backtick: a backslash is a character like any */
    struct dockerfile df;
    parse_ok("# escape=`\nFROM a\nENV P=c:\\dir`$x\nWORKDIR c:\\w\n", &df);
    json_t *image = new_image();
    char *cb = NULL;
    struct berr err = {0};
    assert_int_equal(df_apply_config(&df.v[1], image, NULL, NULL, &cb, &err), 0);
    str_is(cb, "/bin/sh -c #(nop)  ENV P=c:\\dir$x");
    free(cb);
    dockerfile_free(&df);
    json_decref(image);
}

static void test_lines_and_texts(void **state)
{
    (void)state;
    /* CRLF, tabs, comments between instructions, trailing blanks */
    static const struct want_instr w[] = {
        {DF_FROM, 2, "FROM a"},
        {DF_RUN, 4, "RUN one   two"},
        {DF_RUN, 8, "RUN\tthree"},
        {DF_CMD, 9, "CMD four"},
    };
    file_is("\r\nFROM a\r\n# c\r\nRUN one \\\r\n  two\r\n\r\n  # indented comment\r\n"
            "\tRUN\tthree  \t\r\nCMD four", w, sizeof w / sizeof *w);

    /* a continuation that runs into the end of the file, and one whose
     * last line is a comment */
    static const struct want_instr w2[] = {
        {DF_FROM, 1, "FROM a"},
        {DF_RUN, 2, "RUN x"},
    };
    file_is("FROM a\nRUN x \\\n# the end\n", w2, 2);
    file_is("FROM a\nRUN x \\\n\n\n", w2, 2);

    /* an instruction name alone */
    static const struct want_instr w3[] = {
        {DF_FROM, 1, "FROM a"},
        {DF_CMD, 2, "CMD"},
        {DF_RUN, 3, "RUN"},
    };
    file_is("FROM a\nCMD\nRUN\n", w3, 3);

    /* many instructions: line numbers stay right */
    char big[20000] = "FROM a\n";
    for (int i = 0; i < 500; i++)
        strcat(big, i % 3 ? "RUN x \\\n  y\n" : "# c\nENV A=1\n");
    struct dockerfile df;
    parse_ok(big, &df);
    assert_int_equal(df.n, 501);
    int line = 2;
    for (size_t i = 1; i < df.n; i++) {
        int idx = (int)i - 1;
        if (idx % 3 == 0) {
            assert_int_equal(df.v[i].kind, DF_ENV);
            assert_int_equal(df.v[i].line, line + 1);
        } else {
            assert_int_equal(df.v[i].kind, DF_RUN);
            assert_int_equal(df.v[i].line, line);
        }
        line += 2;
    }
    dockerfile_free(&df);

    /* text without a final newline, NUL-free input of a given length */
    const char *t = "FROM a\nRUN b\nGARBAGE AFTER THE LENGTH";
    struct berr err = {0};
    assert_int_equal(dockerfile_parse(t, 13, "Dockerfile", &df, &err), 0);
    assert_int_equal(df.n, 2);
    dockerfile_free(&df);
}

/* Every flag name against every instruction: accepted exactly where docker
 * takes it. */
static void test_flag_matrix(void **state)
{
    (void)state;
    static const char *const flags[] = {
        "platform=x", "mount=type=cache,target=/c", "network=none", "security=insecure",
        "device=/dev/x", "from=x", "chown=1", "chmod=644", "link", "parents", "exclude=*.md",
        "keep-git-dir", "checksum=sha256:0", "interval=1s", "timeout=1s", "start-period=1s",
        "start-interval=1s", "retries=1", "bogus=1",
    };
    static const struct {
        const char *line;            /* %s: the flag */
        const char *accepts;         /* the flags it takes, by the name before '=' */
    } instrs[] = {
        {"FROM --%s img", "platform"},
        {"RUN --%s echo", "mount network security device"},
        {"COPY --%s a b", "from chown chmod link parents exclude"},
        {"ADD --%s a b", "chown chmod link keep-git-dir checksum exclude"},
        {"HEALTHCHECK --%s CMD x", "interval timeout start-period start-interval retries"},
        {"CMD --%s x", ""},
        {"ENTRYPOINT --%s x", ""},
        {"ENV --%s a=b", ""},
        {"LABEL --%s a=b", ""},
        {"WORKDIR --%s /w", ""},
        {"USER --%s u", ""},
        {"EXPOSE --%s 80", ""},
        {"VOLUME --%s /v", ""},
        {"STOPSIGNAL --%s 9", ""},
        {"SHELL --%s [\"sh\"]", ""},
        {"ONBUILD --%s RUN x", ""},
        {"ARG --%s a", ""},
        {"MAINTAINER --%s me", ""},
    };
    for (size_t i = 0; i < sizeof instrs / sizeof *instrs; i++) {
        for (size_t f = 0; f < sizeof flags / sizeof *flags; f++) {
            char name[32];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(flags[f], "="), flags[f]);
            char padded[200];
            snprintf(padded, sizeof padded, " %s ", instrs[i].accepts);
            char needle[40];
            snprintf(needle, sizeof needle, " %s ", name);
            bool want = strstr(padded, needle) != NULL;
            char line[200], *text;
            snprintf(line, sizeof line, instrs[i].line, flags[f]);
            assert_true(asprintf(&text, "%s%s\n", i == 0 ? "" : "FROM a\n", line) > 0);
            struct dockerfile df;
            struct berr err = {0};
            int rc = dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
            if ((rc == 0) != want)
                fail_msg("%s: %s (%s)", line, rc == 0 ? "accepted" : "refused", err.msg);
            if (rc == 0) {
                const struct df_instr *in = &df.v[df.n - 1];
                assert_int_equal(in->nflags, 1);
                str_is(in->flags[0].name, name);
                dockerfile_free(&df);
            } else {
                char msg[100];
                snprintf(msg, sizeof msg, "Dockerfile:%d: Unknown flag: %s", i == 0 ? 1 : 2, name);
                str_is(err.msg, msg);
            }
            free(text);
        }
    }
}

static void test_command_argv_table(void **state)
{
    (void)state;
    static const struct {
        const char *shell;           /* JSON, or NULL */
        const char *line, *argv;     /* argv joined with '|' */
    } cases[] = {
        {NULL, "RUN echo hi", "/bin/sh|-c|echo hi"},
        {NULL, "RUN [\"echo\", \"hi\"]", "echo|hi"},
        {NULL, "RUN []", ""},
        {NULL, "CMD x  y", "/bin/sh|-c|x  y"},
        {NULL, "CMD [\"x\"]", "x"},
        {NULL, "ENTRYPOINT e", "/bin/sh|-c|e"},
        {NULL, "ENTRYPOINT [\"e\", \"\"]", "e|"},
        {"[\"/bin/bash\", \"-c\"]", "RUN a && b", "/bin/bash|-c|a && b"},
        {"[\"pwsh\", \"-NoProfile\", \"-Command\"]", "CMD Get-Item", "pwsh|-NoProfile|-Command|"
                                                               "Get-Item"},
        {"[\"/bin/bash\", \"-c\"]", "RUN [\"exec\", \"form\"]", "exec|form"},
        {"[]", "RUN x", "/bin/sh|-c|x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *image = new_image();
        if (cases[i].shell)
            json_object_set_new(json_object_get(image, "config"), "Shell",
                                json_loads(cases[i].shell, 0, NULL));
        char *text;
        assert_true(asprintf(&text, "FROM a\n%s\n", cases[i].line) > 0);
        struct dockerfile df;
        parse_ok(text, &df);
        free(text);
        char **argv;
        size_t argc;
        struct berr err = {0};
        assert_int_equal(df_command_argv(image, &df.v[1], &argv, &argc, &err), 0);
        char got[300] = "";
        for (size_t k = 0; k < argc; k++) {
            if (k)
                strcat(got, "|");
            strcat(got, argv[k]);
        }
        assert_null(argv[argc]);
        if (strcmp(got, cases[i].argv) != 0)
            fail_msg("%s: argv \"%s\", wanted \"%s\"", cases[i].line, got, cases[i].argv);
        /* RUN's history text is that argv joined */
        if (df.v[1].kind == DF_RUN) {
            char *cb;
            assert_int_equal(df_created_by_run(image, &df.v[1], NULL, 0, &cb, &err), 0);
            for (char *c = got; *c; c++)
                if (*c == '|')
                    *c = ' ';
            str_is(cb, got);
            free(cb);
        }
        df_words_free(argv);
        dockerfile_free(&df);
        json_decref(image);
    }
}

static void test_ignore_more(void **state)
{
    (void)state;
    /* patterns as people write them */
    struct df_ignore *ig = ignore("# editor and VCS\n"
                                  ".git\n"
                                  ".svn/\n"
                                  "*.swp\n"
                                  "**/.DS_Store\n"
                                  "\n"
                                  "# build output\n"
                                  "/target\n"
                                  "**/__pycache__\n"
                                  "*.py[cod]\n"
                                  "!/target/release/app\n"
                                  "coverage*\n"
                                  "!coverage/keep\n");
    static const struct {
        const char *path;
        bool excluded;
    } cases[] = {
        {".git", true},           {".git/HEAD", true},        {".gitignore", false},
        {".svn/x", true},         {"a.swp", true},            {"d/a.swp", false},
        {".DS_Store", true},      {"a/b/.DS_Store", true},    {"target", true},
        {"target/debug/x", true}, {"target/release/app", false},
        {"target/release/app/sub", false},                    {"target/release/other", true},
        {"src/target", false},    {"__pycache__/m.pyc", true}, {"a/__pycache__/m", true},
        {"m.pyc", true},          {"m.pyo", true},            {"m.pyd", true},
        {"m.py", false},          {"coverage", true},         {"coverage.xml", true},
        {"coverage/keep", false}, {"coverage/other", true},   {"src/main.rs", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        excluded(ig, cases[i].path, cases[i].excluded);
    assert_true(df_ignore_may_reinclude(ig, "target"));
    assert_true(df_ignore_may_reinclude(ig, "target/release"));
    assert_false(df_ignore_may_reinclude(ig, "target/debug"));
    assert_true(df_ignore_may_reinclude(ig, "coverage"));
    assert_false(df_ignore_may_reinclude(ig, ".git"));
    df_ignore_free(ig);

    /* CRLF files, tabs around patterns, a pattern of spaces */
    ig = ignore("a\r\n\t b \t\r\n   \r\n!c\r\n");
    excluded(ig, "a", true);
    excluded(ig, "b", true);
    excluded(ig, "c", false);
    df_ignore_free(ig);

    /* what no pattern can exclude: nothing at all, "." */
    ig = ignore(".\n*\n");
    excluded(ig, ".", false);
    excluded(ig, "x", true);
    df_ignore_free(ig);

    /* a leading "/" is dropped, even after "!" */
    ig = ignore("*\n!/keep\n");
    excluded(ig, "keep", false);
    excluded(ig, "other", true);
    df_ignore_free(ig);
}


/* A base image's config is extended, not replaced; a failed instruction
 * leaves the config as it was. */
static void test_config_over_a_base(void **state)
{
    (void)state;
    json_t *image = json_loads(
        "{\"architecture\":\"amd64\",\"os\":\"linux\",\"author\":\"base author\","
        "\"config\":{\"Env\":[\"PATH=/bin\",\"LANG=C\"],\"Cmd\":[\"sh\"],"
        "\"ExposedPorts\":{\"22/tcp\":{}},\"Volumes\":{\"/base\":{}},"
        "\"Labels\":{\"base\":\"yes\"},\"WorkingDir\":\"/home\",\"OnBuild\":[\"RUN base\"],"
        "\"Healthcheck\":{\"Test\":[\"CMD\",\"old\"]}}}", 0, NULL);
    assert_non_null(image);
    const char *env[] = {"PATH=/bin", "LANG=C", NULL};
    char *cb;
    cb = apply("ENV LANG=C.UTF-8 NEW=1", image, env);
    free(cb);
    json_is(cfg(image, "Env"), "[\"PATH=/bin\",\"LANG=C.UTF-8\",\"NEW=1\"]");
    cb = apply("EXPOSE 80", image, env);
    free(cb);
    json_is(cfg(image, "ExposedPorts"), "{\"22/tcp\":{},\"80/tcp\":{}}");
    cb = apply("VOLUME /data", image, env);
    free(cb);
    json_is(cfg(image, "Volumes"), "{\"/base\":{},\"/data\":{}}");
    cb = apply("LABEL mine=1", image, env);
    free(cb);
    json_is(cfg(image, "Labels"), "{\"base\":\"yes\",\"mine\":\"1\"}");
    cb = apply("WORKDIR app", image, env);
    free(cb);
    json_is(cfg(image, "WorkingDir"), "\"/home/app\"");
    cb = apply("ONBUILD RUN mine", image, env);
    free(cb);
    json_is(cfg(image, "OnBuild"), "[\"RUN base\",\"RUN mine\"]");
    cb = apply("HEALTHCHECK CMD new", image, env);
    free(cb);
    json_is(cfg(image, "Healthcheck"), "{\"Test\":[\"CMD-SHELL\",\"new\"]}");
    cb = apply("MAINTAINER me", image, env);
    free(cb);
    json_is(json_object_get(image, "author"), "\"me\"");

    /* failures change nothing */
    char *before = json_dumps(image, JSON_COMPACT | JSON_SORT_KEYS);
    struct dockerfile df;
    parse_ok("FROM a\nEXPOSE 443 bad\nVOLUME /ok $NOPE\nSTOPSIGNAL NOPE\nWORKDIR $NOPE\n"
             "ENV A=1 B=${X:?}\nLABEL a=${X:?}\nUSER ${X:?}\nARG A=${X:?}\n", &df);
    for (size_t i = 1; i < df.n; i++) {
        struct berr err = {0};
        char *c2 = (char *)"untouched";
        if (df_apply_config(&df.v[i], image, lookup_env, env, &c2, &err) == 0)
            fail_msg("%s applied", df.v[i].text);
        assert_null(c2);
        char *after = json_dumps(image, JSON_COMPACT | JSON_SORT_KEYS);
        if (strcmp(before, after) != 0)
            fail_msg("%s changed the config:\n%s\n%s", df.v[i].text, before, after);
        free(after);
    }
    dockerfile_free(&df);
    free(before);
    json_decref(image);
}

static void test_expand_details(void **state)
{
    (void)state;
    const char *env[] = {"HOME=/root", "home=lower", "A_1=x", NULL};
    /* names are case-sensitive; digits and '_' belong to names */
    expand_is("$HOME $home $Home", env, "/root lower ");
    expand_is("$A_1-$A_1_", env, "x-");
    /* an empty result is an empty string, and no words */
    char **w;
    size_t n = 99;
    struct berr err = {0};
    assert_int_equal(df_words("$NOPE", '\\', lookup_env, env, &w, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_non_null(w);
    assert_null(w[0]);
    df_words_free(w);
    df_words_free(NULL);
    /* values are not scanned again */
    const char *env2[] = {"X=$HOME", "Y='q'", "Z=a\\ b", NULL};
    expand_is("$X", env2, "$HOME");
    expand_is("$Y", env2, "'q'");
    words_are("$Z", env2, "a\\,b");
    /* a value with a newline splits words there too */
    const char *env3[] = {"NL=a\nb", NULL};
    words_are("$NL", env3, "a,b");
    words_are("\"$NL\"", env3, "a\nb");
    /* a lookup that sees every name asked */
    expand_is("${UNSET_X:-$HOME}", env, "/root");
}

static void test_created_by_details(void **state)
{
    (void)state;
    /* SHELL first, then everything shows the new shell */
    json_t *image = new_image();
    char *cb = apply("SHELL [\"/bin/ash\", \"-c\"]", image, NULL);
    str_is(cb, "/bin/ash -c #(nop)  SHELL [/bin/ash -c]");
    free(cb);
    const char *lines[] = {"ENV A=1", "LABEL l=v", "EXPOSE 1", "USER u", "VOLUME /v",
                           "STOPSIGNAL 1", "ONBUILD RUN x", "MAINTAINER m", "ARG a"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        cb = apply(lines[i], image, NULL);
        if (strncmp(cb, "/bin/ash -c #(nop)  ", 20) != 0)
            fail_msg("%s: %s", lines[i], cb);
        free(cb);
    }
    cb = apply("WORKDIR /w", image, NULL);
    str_is(cb, "/bin/ash -c #(nop) WORKDIR /w");
    free(cb);
    json_decref(image);

    /* Go's %q in CMD for what needs escaping */
    image = new_image();
    cb = apply("CMD [\"a\\\"b\", \"tab\\there\", \"back\\\\slash\", \"\\u0001\", \"caf\\u00e9\"]",
               image, NULL);
    str_is(cb, "/bin/sh -c #(nop)  CMD [\"a\\\"b\" \"tab\\there\" \"back\\\\slash\" \"\\x01\" "
               "\"caf\xc3\xa9\"]");
    free(cb);
    json_decref(image);
}


/* Parser directives: which lines are directives, and the escape they set. */
static void test_directive_table(void **state)
{
    (void)state;
    static const struct {
        const char *head;            /* before "FROM a\nRUN x \\\n y\n" */
        char escape;
        const char *syntax;          /* NULL: none */
    } cases[] = {
        {"", '\\', NULL},
        {"# escape=`\n", '`', NULL},
        {"#escape=`\n", '`', NULL},
        {"#  escape  =  `  \n", '`', NULL},
        {"\t# escape=`\n", '`', NULL},
        {"# Escape=`\n", '`', NULL},
        {"# escape=\\\n", '\\', NULL},
        {"# syntax=a/b:1\n", '\\', "a/b:1"},
        {"# syntax = a/b:1 extra\n", '\\', "a/b:1 extra"},
        {"# syntax=a\n# escape=`\n", '`', "a"},
        {"# escape=`\n# syntax=a\n", '`', "a"},
        {"# escape=`\n\n# syntax=a\n", '`', NULL},
        {"# comment\n# escape=`\n", '\\', NULL},
        {"# escape =\n# syntax=a\n", '\\', NULL},
        {"# check=skip=all\n# escape=`\n", '\\', NULL},
        {"#!/usr/bin/env docker\n# escape=`\n", '\\', NULL},
        {"#escape=`# not a comment\n", '\\', NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text;
        bool bt = cases[i].escape == '`';
        assert_true(asprintf(&text, "%sFROM a\nRUN x %c\n y\n", cases[i].head,
                             bt ? '`' : '\\') > 0);
        struct dockerfile df;
        struct berr err = {0};
        int rc = dockerfile_parse(text, strlen(text), "Dockerfile", &df, &err);
        if (rc != 0 && strstr(cases[i].head, "escape=`#")) {
            /* "`# not a comment" is not one character: an invalid token */
            str_is(err.msg, "Dockerfile:1: invalid escape token '`# not a comment' does not "
                            "match ` or \\");
            free(text);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", cases[i].head, err.msg);
        if (df.escape != cases[i].escape)
            fail_msg("\"%s\": escape %c", cases[i].head, df.escape);
        if ((df.syntax == NULL) != (cases[i].syntax == NULL) ||
            (df.syntax && strcmp(df.syntax, cases[i].syntax) != 0))
            fail_msg("\"%s\": syntax %s", cases[i].head, df.syntax ? df.syntax : "(none)");
        assert_int_equal(df.n, 2);
        str_is(df.v[1].args[0], "x  y");
        dockerfile_free(&df);
        free(text);
    }
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
        cmocka_unit_test(test_ignore_long),
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_error_table),
        cmocka_unit_test(test_ignore_table),
        cmocka_unit_test(test_expand_table),
        cmocka_unit_test(test_config_table),
        cmocka_unit_test(test_history_of_a_build),
        cmocka_unit_test(test_files_python_node),
        cmocka_unit_test(test_files_windows_escape),
        cmocka_unit_test(test_lines_and_texts),
        cmocka_unit_test(test_flag_matrix),
        cmocka_unit_test(test_command_argv_table),
        cmocka_unit_test(test_ignore_more),
        cmocka_unit_test(test_config_over_a_base),
        cmocka_unit_test(test_expand_details),
        cmocka_unit_test(test_created_by_details),
        cmocka_unit_test(test_directive_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
