/*
 * test_compose.c - loading compose files: YAML typing, anchors and merge
 * keys, duplicate keys and alias bombs refused; ${VAR} interpolation in
 * every form and its errors; .env and env_file; every short syntax in its
 * canonical long form; merges of several files; project names; each error
 * with its "FILE: KEY.PATH: reason" message; depends_on order and cycles;
 * durations; the YAML written back read as the same model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../compose/internal.h"

static char dir[64];

/* ---- helpers ----------------------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/test-compose.XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    assert_int_equal(chdir("/"), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static char *no_env[] = {"HOME=/home/u", NULL};

/* Load files (NULL-terminated; none: the default names) with env. */
static int load_files(const char *const *files, char **env, const char *project, json_t **p,
                      struct berr *err)
{
    size_t n = 0;
    while (files && files[n])
        n++;
    struct compose_opts o = {.files = (char **)files, .nfiles = n, .project = project,
                             .environ = env ? env : no_env};
    return compose_load(&o, p, err);
}

static json_t *load_ok_env(const char *yaml, char **env)
{
    struct berr err = {0};
    json_t *p = NULL;
    unlink("compose.yaml");
    write_file("compose.yaml", yaml);
    if (load_files(NULL, env, NULL, &p, &err) != 0)
        fail_msg("load failed: %s\n--- input:\n%s", err.msg, yaml);
    return p;
}

static json_t *load_ok(const char *yaml)
{
    return load_ok_env(yaml, NULL);
}

static void load_err_env(const char *yaml, char **env, const char *want)
{
    struct berr err = {0};
    json_t *p = NULL;
    write_file("compose.yaml", yaml);
    if (load_files(NULL, env, NULL, &p, &err) == 0) {
        json_decref(p);
        fail_msg("loaded:\n%s\n(wanted the error \"%s\")", yaml, want);
    }
    if (strcmp(err.msg, want) != 0)
        fail_msg("error \"%s\",\nwanted \"%s\"", err.msg, want);
}

static void load_err(const char *yaml, const char *want)
{
    load_err_env(yaml, NULL, want);
}

/* The node at a dotted path ("services.web.ports[0]"). */
static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf; v && *p;) {
        if (*p == '[') {
            v = json_array_get(v, strtoul(p + 1, &p, 10));
            p++;
            if (*p == '.')
                p++;
            continue;
        }
        size_t n = strcspn(p, ".[");
        char save = p[n];
        p[n] = '\0';
        v = json_object_get(v, p);
        p[n] = save;
        p += n;
        if (*p == '.')
            p++;
    }
    return v;
}

static void is_json(json_t *p, const char *path, const char *want)
{
    json_error_t je;
    json_t *w = json_loads(want, JSON_DECODE_ANY, &je);
    if (!w)
        fail_msg("bad JSON in the test: %s", want);
    json_t *got = at(p, path);
    if (!json_equal(got, w)) {
        char *g = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : strdup("(absent)");
        json_decref(w);
        fail_msg("%s = %s,\nwanted %s", path, g, want);
    }
    json_decref(w);
}

static void absent(json_t *p, const char *path)
{
    if (at(p, path))
        fail_msg("%s is present", path);
}

static json_t *yaml_ok(const char *text)
{
    struct berr err = {0};
    json_t *v = NULL;
    if (cy_parse(text, strlen(text), "f.yaml", &v, &err) != 0)
        fail_msg("parse failed: %s\n%s", err.msg, text);
    return v;
}

static void yaml_err(const char *text, const char *want)
{
    struct berr err = {0};
    json_t *v = NULL;
    if (cy_parse(text, strlen(text), "f.yaml", &v, &err) == 0) {
        json_decref(v);
        fail_msg("parsed:\n%s\n(wanted \"%s\")", text, want);
    }
    if (!strstr(err.msg, want))
        fail_msg("error \"%s\", wanted it to contain \"%s\"", err.msg, want);
}

/* ---- YAML --------------------------------------------------------------------- */

static void test_yaml_scalars(void **state)
{
    (void)state;
    json_t *v = yaml_ok("a: 1\nb: \"1\"\nc: true\nd: 'false'\ne: null\nf: ~\ng:\nh: 1.5\n"
                        "i: 0x1F\nj: 0o17\nk: yes\nl: -3\nm: 1e3\nn: 80:80\no: !!str 12\n"
                        "p: 99999999999999999999\nq: .5\nr: 1_000\ns: True\n");
    is_json(v, "a", "1");
    is_json(v, "b", "\"1\"");
    is_json(v, "c", "true");
    is_json(v, "d", "\"false\"");
    is_json(v, "e", "null");
    is_json(v, "f", "null");
    is_json(v, "g", "null");
    is_json(v, "h", "1.5");
    is_json(v, "i", "31");
    is_json(v, "j", "15");
    is_json(v, "k", "\"yes\"");
    is_json(v, "l", "-3");
    is_json(v, "m", "1000.0");
    is_json(v, "n", "\"80:80\"");
    is_json(v, "o", "\"12\"");
    is_json(v, "p", "1e20");
    is_json(v, "q", "0.5");
    is_json(v, "r", "\"1_000\"");
    is_json(v, "s", "true");
    json_decref(v);
}

static void test_yaml_anchors_and_merge_keys(void **state)
{
    (void)state;
    json_t *v = yaml_ok("base: &b {x: 1, y: 2}\nlist: &l [1, 2]\n"
                        "c: {<<: *b, y: 3}\n"
                        "d:\n  y: 4\n  <<: *b\n"
                        "e: {<<: [{x: 10}, {x: 20, z: 30}]}\n"
                        "f: *l\n");
    is_json(v, "c", "{\"x\":1,\"y\":3}");
    is_json(v, "d", "{\"x\":1,\"y\":4}");
    is_json(v, "e", "{\"x\":10,\"z\":30}");
    is_json(v, "f", "[1,2]");
    /* the copy is a copy: changing one does not change the other */
    json_object_set_new(at(v, "c"), "x", json_integer(9));
    is_json(v, "base.x", "1");
    json_decref(v);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    yaml_err("a: 1\na: 2\n", "f.yaml: duplicate key \"a\" (line 2)");
    yaml_err("s:\n  web:\n    image: x\n    image: y\n", "f.yaml: s.web: duplicate key \"image\" (line 4)");
    yaml_err("a: *nope\n", "unknown alias *nope");
    yaml_err("a: \"x\\0y\"\n", "f.yaml: a: a NUL character in a scalar (line 1)");
    yaml_err("a: \"\\xff\"\nb: \xff\n", "f.yaml: byte 13: invalid leading UTF-8 octet");
    yaml_err("a: [1, 2\n", "f.yaml: line 2 column 1");
    yaml_err("a: 1\n---\nb: 2\n", "more than one YAML document");
    yaml_err("a: !custom x\n", "unsupported YAML tag !custom");
    yaml_err("a: {<<: 1}\n", "a << merge takes a mapping or a list of mappings");
    yaml_err("? [a, b]\n: 1\n", "a mapping key must be a scalar");
    /* nesting past the bound */
    char deep[400] = "";
    for (int i = 0; i < 80; i++)
        strcat(deep, "[");
    yaml_err(deep, "nested deeper than");
    json_t *v = NULL;
    struct berr err = {0};
    assert_int_equal(cy_parse("", 0, "f.yaml", &v, &err), 0);
    assert_null(v);
}

static void test_yaml_billion_laughs(void **state)
{
    (void)state;
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    yaml_err(bomb, "nodes (aliases expanded)");
    /* through merge keys too */
    yaml_err("a: &a {k0: [x,x,x,x,x,x,x,x,x,x], k1: [x,x,x,x,x,x,x,x,x,x]}\n"
             "b: &b {<<: *a, j: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}\n"
             "c: &c {<<: *b, j2: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}\n"
             "d: &d {<<: *c, j3: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}\n"
             "e: &e {<<: *d, j4: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}\n"
             "f: &f {<<: *e, j5: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}\n",
             "nodes (aliases expanded)");
    /* a big file refused before it is parsed */
    size_t n = COMPOSE_FILE_MAX + 1;
    char *big = malloc(n);
    memset(big, '#', n);
    json_t *v = NULL;
    struct berr err = {0};
    assert_int_equal(cy_parse(big, n, "f.yaml", &v, &err), -BERR_TOOBIG);
    free(big);
}

/* ---- interpolation ----------------------------------------------------------- */

static void interp_is(const char *in, const char *want)
{
    json_t *vars = json_pack("{s:s,s:s,s:s}", "SET", "val", "EMPTY", "", "X_1", "x");
    char *out = NULL, *why = NULL;
    if (interp_string(in, vars, &out, &why) != 0)
        fail_msg("interp(%s): %s", in, why);
    if (strcmp(out, want) != 0)
        fail_msg("interp(%s) = \"%s\", wanted \"%s\"", in, out, want);
    free(out);
    json_decref(vars);
}

static void interp_err(const char *in, const char *want)
{
    json_t *vars = json_pack("{s:s,s:s}", "SET", "val", "EMPTY", "");
    char *out = NULL, *why = NULL;
    if (interp_string(in, vars, &out, &why) == 0)
        fail_msg("interp(%s) = \"%s\", wanted an error", in, out);
    if (!why || strcmp(why, want) != 0)
        fail_msg("interp(%s): \"%s\", wanted \"%s\"", in, why, want);
    free(why);
    json_decref(vars);
}

static void test_interp_forms(void **state)
{
    (void)state;
    interp_is("plain", "plain");
    interp_is("$SET", "val");
    interp_is("${SET}", "val");
    interp_is("a${SET}b$X_1.c", "avalbx.c");
    interp_is("${UNSET}", "");
    interp_is("$UNSET-x", "-x");
    interp_is("${UNSET:-d}", "d");
    interp_is("${EMPTY:-d}", "d");
    interp_is("${EMPTY-d}", "");
    interp_is("${UNSET-d}", "d");
    interp_is("${SET:-d}", "val");
    interp_is("${SET:+alt}", "alt");
    interp_is("${EMPTY:+alt}", "");
    interp_is("${EMPTY+alt}", "alt");
    interp_is("${UNSET+alt}", "");
    interp_is("${SET:?msg}", "val");
    interp_is("${EMPTY?msg}", "");
    interp_is("$$SET", "$SET");
    interp_is("$${SET}", "${SET}");
    interp_is("a $$ b", "a $ b");
    interp_is("${UNSET:-${SET}}", "val");
    interp_is("${UNSET:-a${UNSET2:-b}c}", "abc");
    interp_is("${UNSET:-{x}}", "{x}");
    interp_is("${UNSET:-}", "");
    /* the default of a set variable is not looked at, errors in it included */
    interp_is("${SET:-${NOPE:?no}}", "val");
}

static void test_interp_errors(void **state)
{
    (void)state;
    interp_err("${UNSET:?set it}", "required variable UNSET is missing a value: set it");
    interp_err("${EMPTY:?}", "required variable EMPTY is missing a value");
    interp_err("${UNSET?x ${SET}}", "required variable UNSET is missing a value: x val");
    interp_err("${SET", "invalid interpolation format in \"${SET\"");
    interp_err("${SET:-x", "unterminated ${ in \"${SET:-x\"");
    interp_err("${}", "invalid interpolation format in \"${}\"");
    interp_err("${1A}", "invalid interpolation format in \"${1A}\"");
    interp_err("${SET:x}", "invalid interpolation format in \"${SET:x}\"");
    interp_err("$", "invalid interpolation format in \"$\" (a literal $ is written $$)");
    interp_err("cost $5", "invalid interpolation format in \"cost $5\" (a literal $ is written $$)");
}

static void test_interp_limits(void **state)
{
    (void)state;
    char *big = malloc(600001);
    memset(big, 'x', 600000);
    big[600000] = '\0';
    json_t *vars = json_pack("{s:s}", "BIG", big);
    free(big);
    char *out = NULL, *why = NULL;
    assert_int_equal(interp_string("${BIG}", vars, &out, &why), 0);
    assert_int_equal(strlen(out), 600000);
    free(out);
    assert_int_equal(interp_string("${BIG}$BIG", vars, &out, &why), -1);
    assert_string_equal(why, "the value of \"${BIG}$BIG\" is longer than 1 MiB once interpolated");
    free(why);
    json_decref(vars);
    /* a long .env whose lines refer to each other reads in linear time */
    size_t cap = 40000 * 32, n = 0;
    char *text = malloc(cap);
    json_t *env = json_object(), *res = json_object();
    struct berr err = {0};
    n = (size_t)snprintf(text, cap, "K0=x\n");
    for (int i = 1; i < 40000; i++)
        n += (size_t)snprintf(text + n, cap - n, "K%d=$K%d\n", i, i - 1);
    assert_int_equal(dotenv_parse(text, n, ".env", env, res, &err), 0);
    is_json(res, "K39999", "\"x\"");
    free(text);
    json_decref(env);
    json_decref(res);
}

static void test_interp_in_files(void **state)
{
    (void)state;
    char *env[] = {"TAG=1.2", "PORT=8080", "RO=true", NULL};
    json_t *p = load_ok_env("services:\n  web:\n    image: \"app:${TAG}\"\n"
                            "    ports: [\"${PORT}:80\"]\n"
                            "    tty: ${RO}\n"
                            "    labels: {\"${TAG}\": x}\n", env);
    is_json(p, "services.web.image", "\"app:1.2\"");
    is_json(p, "services.web.ports[0].published", "\"8080\"");
    is_json(p, "services.web.tty", "true");
    /* keys are not interpolated */
    is_json(p, "services.web.labels", "{\"${TAG}\":\"x\"}");
    json_decref(p);
    load_err_env("services:\n  web:\n    image: ${IMG:?which image?}\n", env,
                 "compose.yaml: services.web.image: required variable IMG is missing a value: which image?");
    load_err_env("services:\n  web:\n    image: x\n    command: [\"a\", \"${oops\"]\n", env,
                 "compose.yaml: services.web.command[1]: invalid interpolation format in \"${oops\"");
}

/* ---- .env and env_file -------------------------------------------------------- */

static void test_dotenv(void **state)
{
    (void)state;
    json_t *vars = json_pack("{s:s}", "OUTER", "o");
    json_t *out = json_object();
    struct berr err = {0};
    const char *text = "# a comment\n\nA=1\nexport B = two words # comment\n"
                       "C=\"quoted\\nnewline ${A}\"\nD='single ${A}'\nE=${A}${OUTER}\n"
                       "F=\"multi\nline\"\nG=a#b\nOUTER\nH=\nI=\"\\$A\"\n";
    if (dotenv_parse(text, strlen(text), ".env", vars, out, &err) != 0)
        fail_msg("dotenv: %s", err.msg);
    is_json(out, "A", "\"1\"");
    is_json(out, "B", "\"two words\"");
    is_json(out, "C", "\"quoted\\nnewline 1\"");
    is_json(out, "D", "\"single ${A}\"");
    is_json(out, "E", "\"1o\"");
    is_json(out, "F", "\"multi\\nline\"");
    is_json(out, "G", "\"a#b\"");
    is_json(out, "OUTER", "\"o\"");
    is_json(out, "H", "\"\"");
    is_json(out, "I", "\"$A\"");
    json_decref(out);
    out = json_object();
    assert_int_equal(dotenv_parse("\xEF\xBB\xBF" "BOM=1\r\nCRLF=2\r\n", 18, ".env", vars, out, &err), 0);
    is_json(out, "", "{\"BOM\":\"1\",\"CRLF\":\"2\"}");
    json_decref(out);
    static const struct { const char *text, *want; } bad[] = {
        {"1A=x\n", ".env: line 1: invalid variable name \"1A=x\""},
        {"A=1\nB C=2\n", ".env: line 2: invalid variable name \"B C=2\""},
        {"A=\"open\n", ".env: line 1: unterminated quote"},
        {"A='x' y\n", ".env: line 1: text after the closing quote"},
        {"A=${B:?need B}\n", ".env: line 1: required variable B is missing a value: need B"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        out = json_object();
        if (dotenv_parse(bad[i].text, strlen(bad[i].text), ".env", vars, out, &err) == 0)
            fail_msg("dotenv accepted %s", bad[i].text);
        if (strcmp(err.msg, bad[i].want) != 0)
            fail_msg("dotenv(%s): \"%s\", wanted \"%s\"", bad[i].text, err.msg, bad[i].want);
        json_decref(out);
    }
    json_decref(vars);
}

static void test_dotenv_in_project(void **state)
{
    (void)state;
    write_file(".env", "TAG=fromfile\nONLY=dotenv\nCOMPOSE_PROJECT_NAME=envproj\n");
    char *env[] = {"TAG=fromenv", NULL};
    json_t *p = load_ok_env("services:\n  web:\n    image: app:${TAG}\n    environment: [ONLY]\n", env);
    /* the environment wins over .env; .env feeds bare keys and the name */
    is_json(p, "services.web.image", "\"app:fromenv\"");
    is_json(p, "services.web.environment.ONLY", "\"dotenv\"");
    is_json(p, "name", "\"envproj\"");
    json_decref(p);
    write_file(".env", "BAD LINE\n");
    load_err("services: {web: {image: x}}\n", ".env: line 1: invalid variable name \"BAD LINE\"");
    unlink(".env");
}

static void test_env_file(void **state)
{
    (void)state;
    write_file("a.env", "A=from_a\nB=from_a\n");
    write_file("b.env", "B=from_b\nC=from_b\n");
    json_t *p = load_ok("services:\n  web:\n    image: x\n    env_file: [a.env, b.env]\n"
                        "    environment: {C: from_environment}\n");
    is_json(p, "services.web.environment",
            "{\"A\":\"from_a\",\"B\":\"from_b\",\"C\":\"from_environment\"}");
    absent(p, "services.web.env_file");
    json_decref(p);
    p = load_ok("services:\n  web:\n    image: x\n    env_file: a.env\n");
    is_json(p, "services.web.environment", "{\"A\":\"from_a\",\"B\":\"from_a\"}");
    json_decref(p);
    p = load_ok("services:\n  web:\n    image: x\n    env_file: [{path: none.env, required: false}]\n");
    json_decref(p);
    load_err("services:\n  web:\n    image: x\n    env_file: [none.env]\n",
             "compose.yaml: services.web.env_file[0]: cannot read none.env: No such file or directory");
    load_err("services:\n  web:\n    image: x\n    env_file: [{required: false}]\n",
             "compose.yaml: services.web.env_file[0]: path is required");
    unlink("a.env");
    unlink("b.env");
}

/* ---- short syntaxes, normalised ------------------------------------------------ */

static void test_ports(void **state)
{
    (void)state;
    json_t *p = load_ok("services:\n  web:\n    image: x\n    ports:\n"
                        "      - 3000\n"
                        "      - \"8000:80\"\n"
                        "      - \"127.0.0.1:8001:81/udp\"\n"
                        "      - \"127.0.0.1::82\"\n"
                        "      - \"9090-9091:8080-8081\"\n"
                        "      - \"[::1]:6001:6001\"\n"
                        "      - \"7000-7010:83\"\n"
                        "      - {target: 84, published: 8084, host_ip: 0.0.0.0, protocol: udp, mode: host}\n"
                        "      - {target: \"85\", published: \"8085\"}\n");
    is_json(p, "services.web.ports",
            "[{\"target\":3000,\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":80,\"published\":\"8000\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":81,\"published\":\"8001\",\"host_ip\":\"127.0.0.1\",\"protocol\":\"udp\",\"mode\":\"ingress\"},"
            "{\"target\":82,\"host_ip\":\"127.0.0.1\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":8080,\"published\":\"9090\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":8081,\"published\":\"9091\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":6001,\"published\":\"6001\",\"host_ip\":\"::1\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":83,\"published\":\"7000-7010\",\"protocol\":\"tcp\",\"mode\":\"ingress\"},"
            "{\"target\":84,\"published\":\"8084\",\"host_ip\":\"0.0.0.0\",\"protocol\":\"udp\",\"mode\":\"host\"},"
            "{\"target\":85,\"published\":\"8085\",\"protocol\":\"tcp\",\"mode\":\"ingress\"}]");
    json_decref(p);
    static const struct { const char *port, *want; } bad[] = {
        {"\"x\"", ": invalid port \"x\""},
        {"\"0\"", ": invalid port \"0\""},
        {"65536", ": 65536 is out of range (1 to 65535)"},
        {"99999999999999999999", ": invalid port 1e+20"},
        {"\"70000:80\"", ": invalid published port \"70000:80\""},
        {"\"80:80/sctp\"", ": invalid protocol \"sctp\" in \"80:80/sctp\" (tcp or udp)"},
        {"\"1.2.3:80:80\"", ": invalid host IP \"1.2.3\" in \"1.2.3:80:80\""},
        {"\"8000-8001:80-82\"", ": port ranges of different sizes in \"8000-8001:80-82\""},
        {"\"90-80\"", ": invalid port \"90-80\""},
        {"\"-80\"", ": invalid port \"-80\""},
        {"{published: 80}", ": target is required"},
        {"{target: 80, bogus: 1}", ".bogus: unknown key"},
        {"{target: 80, mode: magic}", ".mode: invalid mode \"magic\" (ingress or host)"},
        {"{target: 80, published: x}", ".published: invalid port \"x\""},
        {"[80]", ": invalid port a list"},
        {"true", ": invalid port true"},
        {"{target: -1}", ".target: -1 is out of range (1 to 65535)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char yaml[256], want[256];
        snprintf(yaml, sizeof yaml, "services:\n  web:\n    image: x\n    ports: [%s]\n", bad[i].port);
        snprintf(want, sizeof want, "compose.yaml: services.web.ports[0]%s", bad[i].want);
        load_err(yaml, want);
    }
    load_err("services:\n  web:\n    image: x\n    ports: \"80:80\"\n",
             "compose.yaml: services.web.ports: must be a list");
}

static void test_volumes(void **state)
{
    (void)state;
    json_t *p = load_ok("services:\n  web:\n    image: x\n    volumes:\n"
                        "      - ./data:/data\n"
                        "      - /abs/path:/abs:ro\n"
                        "      - named:/named:rw\n"
                        "      - /anon\n"
                        "      - ~/cfg:/cfg:ro,z\n"
                        "      - ../up/./x/:/up\n"
                        "      - {type: tmpfs, target: /tmp}\n"
                        "      - {type: volume, target: /v2}\n"
                        "      - {type: bind, source: rel, target: /rel, read_only: true}\n"
                        "volumes:\n  named: {}\n");
    char want[2048];
    char *parent = strdup(dir);
    *strrchr(parent, '/') = '\0';
    snprintf(want, sizeof want,
             "[{\"type\":\"bind\",\"source\":\"%s/data\",\"target\":\"/data\",\"read_only\":false},"
             "{\"type\":\"bind\",\"source\":\"/abs/path\",\"target\":\"/abs\",\"read_only\":true},"
             "{\"type\":\"volume\",\"source\":\"named\",\"target\":\"/named\",\"read_only\":false},"
             "{\"type\":\"volume\",\"target\":\"/anon\",\"read_only\":false},"
             "{\"type\":\"bind\",\"source\":\"/home/u/cfg\",\"target\":\"/cfg\",\"read_only\":true},"
             "{\"type\":\"bind\",\"source\":\"%s/up/x\",\"target\":\"/up\",\"read_only\":false},"
             "{\"type\":\"tmpfs\",\"target\":\"/tmp\",\"read_only\":false},"
             "{\"type\":\"volume\",\"target\":\"/v2\",\"read_only\":false},"
             "{\"type\":\"bind\",\"source\":\"%s/rel\",\"target\":\"/rel\",\"read_only\":true}]",
             dir, parent, dir);
    free(parent);
    is_json(p, "services.web.volumes", want);
    is_json(p, "volumes.named.external", "false");
    json_decref(p);
}

static void test_volumes_errors(void **state)
{
    (void)state;
    static const struct { const char *vol, *want; } bad[] = {
        {"\"\"", "[0]: invalid volume \"\""},
        {"a:b:c:d", "[0]: invalid volume \"a:b:c:d\" (SOURCE:TARGET[:MODE])"},
        {"./x:rel", "[0]: the target \"rel\" must be an absolute path"},
        {"./x:/y:rx", "[0]: invalid mode \"rx\" in \"./x:/y:rx\" (ro, rw, z, Z)"},
        {"\"bad name!:/y\"", "[0]: invalid volume name \"bad name!\""},
        {"{type: bind, target: /y}", "[0].source: is required for a bind mount"},
        {"{source: x, target: /y}", "[0].type: is required (bind, volume or tmpfs)"},
        {"{type: npipe, target: /y}", "[0].type: invalid type \"npipe\" (bind, volume or tmpfs)"},
        {"{type: tmpfs, source: x, target: /y}", "[0].source: a tmpfs mount has no source"},
        {"{type: volume, source: v}", "[0].target: is required"},
        {"{type: bind, source: /x, target: /y, bind: {propagation: shared}}", "[0].bind: not supported by berth"},
        {"{type: bind, source: /x, target: /y, nope: 1}", "[0].nope: unknown key"},
        {"/a, /a", "[1]: duplicate mount target \"/a\""},
        {"1", "[0]: must be a string or a mapping"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char yaml[256], want[256];
        snprintf(yaml, sizeof yaml, "services:\n  web:\n    image: x\n    volumes: [%s]\n", bad[i].vol);
        snprintf(want, sizeof want, "compose.yaml: services.web.volumes%s", bad[i].want);
        load_err(yaml, want);
    }
    load_err("services:\n  web:\n    image: x\n    volumes: [data:/d]\n",
             "compose.yaml: services.web.volumes: volume \"data\" is not declared under the top-level volumes");
}

static void test_environment_and_labels(void **state)
{
    (void)state;
    char *env[] = {"FROM_ENV=e", NULL};
    json_t *p = load_ok_env("services:\n"
                            "  a:\n    image: x\n    environment: [A=1, B=, C=x=y, FROM_ENV, NOWHERE]\n"
                            "    labels: [l1=v, l2]\n"
                            "  b:\n    image: x\n    environment: {N: 1, F: 1.5, T: true, NUL: null, FROM_ENV: }\n"
                            "    labels: {k: 2}\n", env);
    is_json(p, "services.a.environment",
            "{\"A\":\"1\",\"B\":\"\",\"C\":\"x=y\",\"FROM_ENV\":\"e\",\"NOWHERE\":null}");
    is_json(p, "services.a.labels", "{\"l1\":\"v\",\"l2\":\"\"}");
    is_json(p, "services.b.environment",
            "{\"N\":\"1\",\"F\":\"1.5\",\"T\":\"true\",\"NUL\":null,\"FROM_ENV\":\"e\"}");
    is_json(p, "services.b.labels", "{\"k\":\"2\"}");
    json_decref(p);
    load_err("services:\n  a:\n    image: x\n    environment: [\"=x\"]\n",
             "compose.yaml: services.a.environment[0]: invalid entry \"=x\" (want NAME=VALUE)");
    load_err("services:\n  a:\n    image: x\n    environment: {A: [1]}\n",
             "compose.yaml: services.a.environment.A: must be a string, a number or a boolean, not a list");
    load_err("services:\n  a:\n    image: x\n    environment: 5\n",
             "compose.yaml: services.a.environment: must be a mapping or a list of NAME=VALUE, not a number");
}

static void test_build_command_and_more(void **state)
{
    (void)state;
    mkdir("ctx", 0755);
    char *env[] = {"ARG_FROM_ENV=ae", NULL};
    json_t *p = load_ok_env(
        "services:\n"
        "  a:\n    build: .\n    command: echo \"a b\" 'c d' e\\ f\n    entrypoint: [\"/bin/sh\", \"-c\"]\n"
        "  b:\n    build: {context: ctx, dockerfile: Other, target: dev, args: [X=1, ARG_FROM_ENV]}\n"
        "    image: b:latest\n    command: [sleep, 10]\n"
        "    healthcheck: {test: [CMD, curl, -f, http://x], interval: 30s, timeout: 1500ms,"
        " start_period: 1h, retries: 3}\n"
        "    restart: on-failure:5\n    stop_grace_period: 90s\n    stop_signal: SIGINT\n"
        "    working_dir: /app\n    user: \"1000:1000\"\n    hostname: bee\n    container_name: my-b\n"
        "    tty: true\n    stdin_open: \"false\"\n    expose: [3000, \"4000/udp\", \"5000-5001\"]\n"
        "    deploy: {resources: {limits: {memory: 1.5g, cpus: 2}}}\n"
        "  c:\n    image: c\n    user: 1000\n    healthcheck: {test: [NONE]}\n    restart: unless-stopped\n"
        "    deploy: {resources: {limits: {memory: 1048576, cpus: \"0.25\"}}}\n"
        "  d:\n    image: d\n    healthcheck: {disable: true}\n    command: \"\"\n", env);
    char want[512];
    snprintf(want, sizeof want, "{\"context\":\"%s\",\"dockerfile\":\"Dockerfile\"}", dir);
    is_json(p, "services.a.build", want);
    is_json(p, "services.a.command", "[\"echo\",\"a b\",\"c d\",\"e f\"]");
    is_json(p, "services.a.entrypoint", "[\"/bin/sh\",\"-c\"]");
    snprintf(want, sizeof want, "{\"context\":\"%s/ctx\",\"dockerfile\":\"Other\",\"target\":\"dev\","
             "\"args\":{\"X\":\"1\",\"ARG_FROM_ENV\":\"ae\"}}", dir);
    is_json(p, "services.b.build", want);
    is_json(p, "services.b.command", "[\"sleep\",\"10\"]");
    is_json(p, "services.b.healthcheck",
            "{\"test\":[\"CMD\",\"curl\",\"-f\",\"http://x\"],\"interval\":\"30s\","
            "\"timeout\":\"1.5s\",\"start_period\":\"1h0m0s\",\"retries\":3}");
    is_json(p, "services.b.restart", "\"on-failure:5\"");
    is_json(p, "services.b.stop_grace_period", "\"1m30s\"");
    is_json(p, "services.b.user", "\"1000:1000\"");
    is_json(p, "services.b.tty", "true");
    is_json(p, "services.b.stdin_open", "false");
    is_json(p, "services.b.expose", "[\"3000\",\"4000/udp\",\"5000-5001\"]");
    is_json(p, "services.b.deploy", "{\"resources\":{\"limits\":{\"memory\":1610612736,\"cpus\":2.0}}}");
    is_json(p, "services.c.healthcheck", "{\"test\":[\"NONE\"]}");
    is_json(p, "services.c.user", "\"1000\"");
    is_json(p, "services.c.deploy.resources.limits", "{\"memory\":1048576,\"cpus\":0.25}");
    is_json(p, "services.d.healthcheck", "{\"disable\":true}");
    is_json(p, "services.d.command", "[]");
    is_json(p, "services.a.networks", "{\"default\":null}");
    json_decref(p);
    rmdir("ctx");
}

static void test_depends_on_and_networks(void **state)
{
    (void)state;
    json_t *p = load_ok("services:\n"
                        "  web:\n    image: x\n    depends_on: [db, cache]\n    networks: [front, back]\n"
                        "  db:\n    image: x\n    networks: {back: {aliases: [database, pg], priority: \"7\"}}\n"
                        "  cache:\n    image: x\n    depends_on: {db: {condition: service_healthy, restart: true}}\n"
                        "networks:\n  front:\n  back: {labels: [a=b]}\n  ext: {external: true}\n"
                        "  named: {name: custom, driver: bridge}\n");
    is_json(p, "services.web.depends_on",
            "{\"db\":{\"condition\":\"service_started\",\"required\":true,\"restart\":false},"
            "\"cache\":{\"condition\":\"service_started\",\"required\":true,\"restart\":false}}");
    is_json(p, "services.cache.depends_on",
            "{\"db\":{\"condition\":\"service_healthy\",\"restart\":true,\"required\":true}}");
    is_json(p, "services.web.networks", "{\"front\":null,\"back\":null}");
    is_json(p, "services.db.networks", "{\"back\":{\"aliases\":[\"database\",\"pg\"],\"priority\":7}}");
    is_json(p, "services.cache.networks", "{\"default\":null}");
    char want[256];
    const char *proj = strrchr(dir, '/') + 1;
    char lower[64];
    project_name_from_dir(proj, lower, sizeof lower);
    snprintf(want, sizeof want, "{\"name\":\"%s_front\",\"external\":false}", lower);
    is_json(p, "networks.front", want);
    is_json(p, "networks.ext", "{\"name\":\"ext\",\"external\":true}");
    is_json(p, "networks.named", "{\"name\":\"custom\",\"external\":false}");
    snprintf(want, sizeof want, "{\"name\":\"%s_default\",\"external\":false}", lower);
    is_json(p, "networks.default", want);
    json_t *order = NULL;
    struct berr err = {0};
    assert_int_equal(compose_order(p, NULL, 0, false, &order, &err), 0);
    is_json(order, "", "[\"db\",\"cache\",\"web\"]");
    json_decref(order);
    char *want1[] = {"cache"};
    assert_int_equal(compose_order(p, want1, 1, false, &order, &err), 0);
    is_json(order, "", "[\"db\",\"cache\"]");
    json_decref(order);
    assert_int_equal(compose_order(p, want1, 1, true, &order, &err), 0);
    is_json(order, "", "[\"cache\"]");
    json_decref(order);
    char *nope[] = {"nope"};
    json_t *opt = load_ok("services:\n  web:\n    image: x\n    depends_on:\n"
                          "      gone: {required: false}\n      db: {}\n  db: {image: y}\n");
    is_json(opt, "services.web.depends_on",
            "{\"db\":{\"condition\":\"service_started\",\"required\":true,\"restart\":false}}");
    json_decref(opt);
    assert_int_not_equal(compose_order(p, nope, 1, false, &order, &err), 0);
    assert_string_equal(err.msg, "no such service: nope");
    json_decref(p);
}

static void test_model_errors(void **state)
{
    (void)state;
    static const struct { const char *yaml, *want; } bad[] = {
        {"services: {web: {image: x, imagee: y}}", "services.web.imagee: unknown key"},
        {"services: {web: {image: x, privileged: true}}", "services.web.privileged: not supported by berth"},
        {"services: {web: {}}", "services.web: neither an image nor a build is given"},
        {"services: {web: {image: x, depends_on: [db]}}", "services.web.depends_on: service \"db\" is not defined"},
        {"services: {web: {image: x, depends_on: [web]}}", "services.web.depends_on: dependency cycle: web -> web"},
        {"services: {a: {image: x, depends_on: [b]}, b: {image: x, depends_on: {c: {}}}, c: {image: x, depends_on: [a]}}",
         "services.a.depends_on: dependency cycle: a -> b -> c -> a"},
        {"services: {web: {image: x, depends_on: [a, a]}, a: {image: y}}", "services.web.depends_on[1]: \"a\" is listed twice"},
        {"services: {web: {image: x, depends_on: {a: {condition: started}}}, a: {image: y}}",
         "services.web.depends_on.a.condition: invalid condition \"started\" (service_started, service_healthy, service_completed_successfully)"},
        {"services: {web: {image: x, networks: [front]}}", "services.web.networks: network \"front\" is not declared under the top-level networks"},
        {"services: {web: {image: x, networks: {n: {ipv4_address: 1.2.3.4}}}}\nnetworks: {n: }", "services.web.networks.n.ipv4_address: not supported by berth"},
        {"services: {web: {image: x, networks: {n: {priority: high}}}}\nnetworks: {n: }", "services.web.networks.n.priority: must be an integer, not \"high\""},
        {"services: {web: {image: x, networks: {n: {priority: 9999999999}}}}\nnetworks: {n: }", "services.web.networks.n.priority: 9999999999 is out of range (-2147483648 to 2147483647)"},
        {"services: {web: {image: x, tty: maybe}}", "services.web.tty: must be a boolean, not \"maybe\""},
        {"services: {web: {image: 5}}", "services.web.image: must be a string, not a number"},
        {"services: {web: {image: \"a b\"}}", "services.web.image: invalid image reference \"a b\""},
        {"services: {web: {image: x, restart: sometimes}}", "services.web.restart: invalid restart policy \"sometimes\" (no, always, on-failure[:N], unless-stopped)"},
        {"services: {web: {image: x, restart: false}}", "services.web.restart: must be a string, not a boolean"},
        {"services: {web: {image: x, restart: \"on-failure:x\"}}", "services.web.restart: invalid restart policy \"on-failure:x\" (no, always, on-failure[:N], unless-stopped)"},
        {"services: {web: {image: x, healthcheck: {interval: 10}}}", "services.web.healthcheck.interval: must be a string, not a number"},
        {"services: {web: {image: x, healthcheck: {interval: 10x}}}", "services.web.healthcheck.interval: invalid duration \"10x\" (a unit: ns, us, ms, s, m, h)"},
        {"services: {web: {image: x, healthcheck: {test: [RUN, x]}}}", "services.web.healthcheck.test: must start with \"CMD\", \"CMD-SHELL\" or \"NONE\""},
        {"services: {web: {image: x, healthcheck: {test: [CMD]}}}", "services.web.healthcheck.test: CMD without a command"},
        {"services: {web: {image: x, healthcheck: {retries: -1}}}", "services.web.healthcheck.retries: -1 is out of range (0 to 1000000)"},
        {"services: {web: {image: x, healthcheck: {start_interval: 1s}}}", "services.web.healthcheck.start_interval: not supported by berth"},
        {"services: {web: {image: x, deploy: {resources: {limits: {memory: 99999999999999P}}}}}", "services.web.deploy.resources.limits.memory: \"99999999999999P\" is out of range"},
        {"services: {web: {image: x, deploy: {resources: {limits: {memory: 12q}}}}}", "services.web.deploy.resources.limits.memory: invalid size \"12q\" (want bytes, or a number with b, k, m, g)"},
        {"services: {web: {image: x, deploy: {resources: {limits: {cpus: -1}}}}}", "services.web.deploy.resources.limits.cpus: invalid number of CPUs -1"},
        {"services: {web: {image: x, deploy: {replicas: 2}}}", "services.web.deploy.replicas: not supported by berth"},
        {"services: {web: {image: x, command: \"echo 'open\"}}", "services.web.command: unterminated quote in \"echo 'open\""},
        {"services: {web: {image: x, command: {a: b}}}", "services.web.command: must be a string or a list of strings, not a mapping"},
        {"services: {web: {image: x, container_name: \"bad/name\"}}", "services.web.container_name: invalid container name \"bad/name\" ([a-zA-Z0-9][a-zA-Z0-9_.-]*)"},
        {"services: {a: {image: x, container_name: c}, b: {image: x, container_name: c}}", "services.b.container_name: \"c\" is already used by another service"},
        {"services: {web: {image: x, expose: [abc]}}", "services.web.expose[0]: invalid port \"abc\""},
        {"services: {web: {image: x, build: {context: ., cache_from: [a]}}}", "services.web.build.cache_from: not supported by berth"},
        {"services: {web: {build: nodir}}", "services.web.build.context: \"DIR/nodir\" is not a directory"},
        {"services: {\"bad name\": {image: x}}", "services.bad name: invalid service name (letters, digits, \".\", \"_\", \"-\")"},
        {"services: {web: [image, x]}", "services.web: must be a mapping"},
        {"services: [web]", "services: must be a mapping"},
        {"services: {web: {image: x}}\nnetworks: {n: {driver: overlay}}", "networks.n.driver: driver \"overlay\" is not supported by berth (only \"bridge\")"},
        {"services: {web: {image: x}}\nvolumes: {v: {driver_opts: {a: b}}}", "volumes.v.driver_opts: not supported by berth"},
        {"services: {web: {image: x}}\nvolumes: {v: {nope: 1}}", "volumes.v.nope: unknown key"},
        {"services: {web: {image: x}}\nsecrets: {s: {file: x}}", "secrets: not supported by berth"},
        {"services: {web: {image: x}}\nfoo: bar", "foo: unknown key"},
        {"- a\n- b\n", "the top level must be a mapping"},
        {"name: Bad\nservices: {web: {image: x}}", "name: invalid project name \"Bad\" (lower case letters, digits, \"_\", \"-\"; a letter or digit first)"},
        {"", "empty compose file"},
        {"services: {web: {image: x, image: y}}", "services.web: duplicate key \"image\" (line 1)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char want[512], w2[400];
        const char *d = strstr(bad[i].want, "DIR");
        if (d)
            snprintf(w2, sizeof w2, "%.*s%s%s", (int)(d - bad[i].want), bad[i].want, dir, d + 3);
        else
            snprintf(w2, sizeof w2, "%s", bad[i].want);
        snprintf(want, sizeof want, "compose.yaml: %s", w2);
        load_err(bad[i].yaml, want);
    }
}

static void test_old_limits(void **state)
{
    (void)state;
    json_t *p = load_ok("services:\n  a: {image: x, mem_limit: 64m, cpus: 1.5}\n"
                        "  b: {image: x, mem_limit: 1g, deploy: {resources: {limits: {memory: 2g}}}}\n");
    is_json(p, "services.a.deploy", "{\"resources\":{\"limits\":{\"cpus\":1.5,\"memory\":67108864}}}");
    is_json(p, "services.b.deploy.resources.limits.memory", "2147483648");
    absent(p, "services.a.mem_limit");
    json_decref(p);
    load_err("services: {a: {image: x, mem_limit: lots}}",
             "compose.yaml: services.a.mem_limit: invalid size \"lots\" (want bytes, or a number with b, k, m, g)");
    load_err("services: {a: {image: x, cpus: none}}", "compose.yaml: services.a.cpus: invalid number of CPUs \"none\"");
    load_err("services: {a: {image: x, expose: [\"80/sctp\"]}}", "compose.yaml: services.a.expose[0]: invalid port \"80/sctp\"");
    load_err("services: {a: {image: x, expose: [\"80-70\"]}}", "compose.yaml: services.a.expose[0]: invalid port \"80-70\"");
    load_err("services: {a: {image: x, expose: [\"80-90x\"]}}", "compose.yaml: services.a.expose[0]: invalid port \"80-90x\"");
}

static void test_limits(void **state)
{
    (void)state;
    load_err("services: {web: {image: x, ports: [\"1-5000\"]}}\n",
             "compose.yaml: services.web.ports[0]: more than 4096 ports");
    size_t cap = 1100 * 40, n = 0;
    char *text = malloc(cap);
    n += (size_t)snprintf(text, cap, "services:\n");
    for (int i = 0; i < 1001; i++)
        n += (size_t)snprintf(text + n, cap - n, "  s%d: {image: x}\n", i);
    load_err(text, "compose.yaml: services: more than 1000 services");
    /* a chain of 1000 is fine */
    n = (size_t)snprintf(text, cap, "services:\n  s0: {image: x}\n");
    for (int i = 1; i < 1000; i++)
        n += (size_t)snprintf(text + n, cap - n, "  s%d: {image: x, depends_on: [s%d]}\n", i, i - 1);
    json_t *p = load_ok(text);
    json_t *order = NULL;
    struct berr err = {0};
    assert_int_equal(compose_order(p, NULL, 0, false, &order, &err), 0);
    is_json(order, "[999]", "\"s999\"");
    json_decref(order);
    json_decref(p);
    free(text);
}

static void test_version_and_extensions(void **state)
{
    (void)state;
    json_t *p = load_ok("version: \"3.8\"\nx-common: &c {image: busybox}\n"
                        "services:\n  web:\n    <<: *c\n    x-note: hi\n    ports: [{target: 80, x-y: 1}]\n");
    absent(p, "version");
    absent(p, "x-common");
    absent(p, "services.web.x-note");
    is_json(p, "services.web.image", "\"busybox\"");
    is_json(p, "volumes", "{}");
    json_decref(p);
}

/* ---- several files, names ------------------------------------------------------ */

static void test_merge(void **state)
{
    (void)state;
    write_file("base.yaml",
               "services:\n  web:\n    image: web:1\n    command: [a, b]\n"
               "    environment: {A: \"1\", B: \"1\"}\n    ports: [\"8000:80\", \"9000:90\"]\n"
               "    volumes: [\"/x:/data\", \"/logs:/logs\"]\n    expose: [\"1\"]\n"
               "    labels: [a=1]\n    build: {context: ., args: {X: \"1\", Y: \"1\"}}\n"
               "    healthcheck: {test: [CMD, a], interval: 10s}\n    depends_on: [db]\n"
               "  db:\n    image: db\n");
    write_file("over.yaml",
               "services:\n  web:\n    image: web:2\n    command: c\n"
               "    environment: [B=2, C=2]\n    ports: [\"8000:80\", \"8001:81\", \"9000:90/udp\"]\n"
               "    volumes: [\"/y:/data:ro\"]\n    expose: [\"1\", \"2\"]\n"
               "    labels: {b: \"2\"}\n    build: {args: {Y: \"2\"}, dockerfile: D}\n"
               "    healthcheck: {test: [CMD, b]}\n    depends_on: {cache: {condition: service_healthy}}\n"
               "  cache:\n    image: redis\n");
    const char *files[] = {"base.yaml", "over.yaml", NULL};
    json_t *p = NULL;
    struct berr err = {0};
    if (load_files(files, NULL, "merged", &p, &err) != 0)
        fail_msg("%s", err.msg);
    is_json(p, "name", "\"merged\"");
    is_json(p, "services.web.image", "\"web:2\"");
    is_json(p, "services.web.command", "[\"c\"]");
    is_json(p, "services.web.environment", "{\"A\":\"1\",\"B\":\"2\",\"C\":\"2\"}");
    is_json(p, "services.web.ports[0].published", "\"8000\"");
    is_json(p, "services.web.ports[1].published", "\"9000\"");
    is_json(p, "services.web.ports[2].published", "\"8001\"");
    is_json(p, "services.web.ports[3].protocol", "\"udp\"");
    absent(p, "services.web.ports[4]");
    is_json(p, "services.web.volumes",
            "[{\"type\":\"bind\",\"source\":\"/y\",\"target\":\"/data\",\"read_only\":true},"
            "{\"type\":\"bind\",\"source\":\"/logs\",\"target\":\"/logs\",\"read_only\":false}]");
    is_json(p, "services.web.expose", "[\"1\",\"2\"]");
    is_json(p, "services.web.labels", "{\"a\":\"1\",\"b\":\"2\"}");
    is_json(p, "services.web.build.args", "{\"X\":\"1\",\"Y\":\"2\"}");
    is_json(p, "services.web.build.dockerfile", "\"D\"");
    is_json(p, "services.web.healthcheck", "{\"test\":[\"CMD\",\"b\"],\"interval\":\"10s\"}");
    is_json(p, "services.web.depends_on.db.condition", "\"service_started\"");
    is_json(p, "services.web.depends_on.cache.condition", "\"service_healthy\"");
    is_json(p, "services.cache.image", "\"redis\"");
    json_decref(p);
    /* an error names the file that holds it */
    write_file("over.yaml", "services:\n  web:\n    depends_on: [nothere]\n");
    assert_int_not_equal(load_files(files, NULL, "m", &p, &err), 0);
    assert_string_equal(err.msg, "over.yaml: services.web.depends_on: service \"nothere\" is not defined");
    write_file("over.yaml", "services:\n  web:\n    ports: [\"x\"]\n");
    assert_int_not_equal(load_files(files, NULL, "m", &p, &err), 0);
    assert_string_equal(err.msg, "over.yaml: services.web.ports[0]: invalid port \"x\"");
    write_file("over.yaml", "services:\n  extra:\n    command: x\n");
    assert_int_not_equal(load_files(files, NULL, "m", &p, &err), 0);
    assert_string_equal(err.msg, "over.yaml: services.extra: neither an image nor a build is given");
    const char *missing[] = {"base.yaml", "nofile.yaml", NULL};
    assert_int_not_equal(load_files(missing, NULL, "m", &p, &err), 0);
    assert_string_equal(err.msg, "nofile.yaml: No such file or directory");
    unlink("base.yaml");
    unlink("over.yaml");
}

static void test_reset_and_override(void **state)
{
    (void)state;
    write_file("base.yaml", "services:\n  app:\n    image: app\n    ports: [\"8080:80\"]\n"
                            "    environment: {FOO: bar, KEEP: k}\n    command: [a]\n"
                            "    volumes: [\"/a:/a\", \"/b:/b\"]\n");
    write_file("over.yaml", "services:\n  app:\n    ports: !reset []\n"
                            "    environment:\n      FOO: !reset null\n"
                            "    volumes: !override [\"/c:/c\"]\n    command: !reset null\n");
    const char *files[] = {"base.yaml", "over.yaml", NULL};
    json_t *p = NULL;
    struct berr err = {0};
    if (load_files(files, NULL, "r", &p, &err) != 0)
        fail_msg("%s", err.msg);
    absent(p, "services.app.ports");
    absent(p, "services.app.command");
    is_json(p, "services.app.environment", "{\"KEEP\":\"k\"}");
    is_json(p, "services.app.volumes",
            "[{\"type\":\"bind\",\"source\":\"/c\",\"target\":\"/c\",\"read_only\":false}]");
    json_decref(p);
    /* other tags are still refused */
    write_file("over.yaml", "services:\n  app:\n    ports: !merge []\n");
    assert_int_not_equal(load_files(files, NULL, "r", &p, &err), 0);
    assert_string_equal(err.msg, "over.yaml: services.app.ports: unsupported YAML tag !merge (line 3)");
    unlink("base.yaml");
    unlink("over.yaml");
}

static void test_default_files_and_names(void **state)
{
    (void)state;
    json_t *p = NULL;
    struct berr err = {0};
    unlink("compose.yaml");
    assert_int_not_equal(load_files(NULL, NULL, NULL, &p, &err), 0);
    assert_non_null(strstr(err.msg, "no configuration file provided"));
    write_file("docker-compose.yaml", "services: {d4: {image: x}}\n");
    write_file("docker-compose.yml", "services: {d3: {image: x}}\n");
    p = load_ok("services: {d1: {image: x}}\n");   /* compose.yaml wins */
    absent(p, "services.d3");
    is_json(p, "services.d1.image", "\"x\"");
    json_decref(p);
    unlink("compose.yaml");
    write_file("compose.yml", "services: {d2: {image: x}}\n");
    write_file("compose.override.yml", "services: {d2: {image: over}}\n");
    assert_int_equal(load_files(NULL, NULL, NULL, &p, &err), 0);
    is_json(p, "services.d2.image", "\"over\"");
    json_decref(p);
    unlink("compose.yml");
    unlink("compose.override.yml");
    assert_int_equal(load_files(NULL, NULL, NULL, &p, &err), 0);
    is_json(p, "services", "{\"d3\":{\"image\":\"x\",\"networks\":{\"default\":null}}}");
    json_decref(p);
    unlink("docker-compose.yml");
    /* found from a subdirectory */
    mkdir("sub", 0755);
    assert_int_equal(chdir("sub"), 0);
    assert_int_equal(load_files(NULL, NULL, NULL, &p, &err), 0);
    is_json(p, "services.d4.image", "\"x\"");
    json_decref(p);
    assert_int_equal(chdir(".."), 0);
    rmdir("sub");
    unlink("docker-compose.yaml");
    /* names: -p, then COMPOSE_PROJECT_NAME, then name:, then the directory */
    write_file("compose.yaml", "name: fromfile\nservices: {web: {image: x}}\n");
    char *env[] = {"COMPOSE_PROJECT_NAME=fromenv", NULL};
    assert_int_equal(load_files(NULL, env, "fromcli", &p, &err), 0);
    is_json(p, "name", "\"fromcli\"");
    json_decref(p);
    assert_int_equal(load_files(NULL, env, NULL, &p, &err), 0);
    is_json(p, "name", "\"fromenv\"");
    json_decref(p);
    assert_int_equal(load_files(NULL, NULL, NULL, &p, &err), 0);
    is_json(p, "name", "\"fromfile\"");
    json_decref(p);
    assert_int_not_equal(load_files(NULL, NULL, "Bad Name", &p, &err), 0);
    assert_string_equal(err.msg, "invalid project name \"Bad Name\": lower case letters, digits, "
                                 "\"_\" and \"-\", starting with a letter or a digit");
    char out[64];
    project_name_from_dir("/x/My.Project_1-b", out, sizeof out);
    assert_string_equal(out, "myproject_1-b");
    project_name_from_dir("/x/__A", out, sizeof out);
    assert_string_equal(out, "a");
    project_name_from_dir("/x/...", out, sizeof out);
    assert_string_equal(out, "");
    unlink("compose.yaml");
}

/* ---- durations, round trip ------------------------------------------------------ */

static void test_duration(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ns; } ok[] = {
        {"0", 0}, {"10s", 10000000000LL}, {"1m30s", 90000000000LL}, {"500ms", 500000000},
        {"2h", 7200000000000LL}, {"1.5s", 1500000000}, {"1h2m3s4ms", 3723004000000LL},
        {"10us", 10000}, {"7ns", 7},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int64_t ns = -1;
        struct berr err = {0};
        if (compose_duration(ok[i].s, &ns, &err) != 0)
            fail_msg("duration(%s): %s", ok[i].s, err.msg);
        assert_int_equal(ns, ok[i].ns);
    }
    static const char *const bad[] = {"", "10", "s", "1x", "-1s", "1s2", "99999999999h", "1 s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ns;
        struct berr err = {0};
        if (compose_duration(bad[i], &ns, &err) == 0)
            fail_msg("duration(%s) accepted", bad[i]);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    mkdir("ctx", 0755);
    json_t *p = load_ok("services:\n"
                        "  web:\n    build: ctx\n    ports: [\"8000:80\", \"127.0.0.1::81/udp\"]\n"
                        "    environment: [A=1, B=no, C=\"\", D=1.0, E=null, F=true, G=\"1:30\"]\n"
                        "    restart: \"no\"\n    command: [\"a: b\", \"#c\", \"- d\", \"'e'\"]\n"
                        "    volumes: [./x:/x:ro, data:/data]\n    depends_on: [db]\n"
                        "    healthcheck: {test: \"curl -f x || exit 1\", interval: 90s}\n"
                        "    deploy: {resources: {limits: {memory: 1g, cpus: 0.5}}}\n"
                        "    labels: {\"yes\": \"on\", \"1\": \"0x10\", \"k: v\": \"\\n\", \"m\": \"a\\nb\\n\","
                        " \"sp\": \" lead\", \"c\": \"x:\", \"f\": \"[a]\", \"g\": \"{b}\", \"h\": \"&a\","
                        " \"i\": \"*b\", \"j\": \"!t\", \"k\": \"%p\", \"l\": \"@x\", \"n\": \"`x\","
                        " \"o\": \"1e3\", \"p\": \"~\", \"q\": \".5\", \"r\": \"é ü 字\", \"s\": \"\\t\\u0001\"}\n"
                        "  db:\n    image: \"postgres:16\"\n    networks: {back: {aliases: [pg]}}\n"
                        "networks: {back: {}}\nvolumes: {data: {external: true}}\n");
    FILE *f = fopen("out.yaml", "w");
    struct berr err = {0};
    assert_int_equal(compose_write_yaml(p, f, &err), 0);
    fclose(f);
    const char *files[] = {"out.yaml", NULL};
    json_t *again = NULL;
    if (load_files(files, NULL, NULL, &again, &err) != 0)
        fail_msg("reload: %s", err.msg);
    if (!json_equal(p, again)) {
        char *a = json_dumps(p, JSON_COMPACT), *b = json_dumps(again, JSON_COMPACT);
        fail_msg("round trip differs:\n%s\n%s", a, b);
    }
    json_decref(again);
    json_decref(p);
    unlink("out.yaml");
    rmdir("ctx");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yaml_scalars),
        cmocka_unit_test(test_yaml_anchors_and_merge_keys),
        cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_yaml_billion_laughs),
        cmocka_unit_test(test_interp_forms),
        cmocka_unit_test(test_interp_errors),
        cmocka_unit_test(test_interp_limits),
        cmocka_unit_test(test_interp_in_files),
        cmocka_unit_test(test_dotenv),
        cmocka_unit_test(test_dotenv_in_project),
        cmocka_unit_test(test_env_file),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_volumes_errors),
        cmocka_unit_test(test_environment_and_labels),
        cmocka_unit_test(test_build_command_and_more),
        cmocka_unit_test(test_depends_on_and_networks),
        cmocka_unit_test(test_model_errors),
        cmocka_unit_test(test_old_limits),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_version_and_extensions),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_reset_and_override),
        cmocka_unit_test(test_default_files_and_names),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
