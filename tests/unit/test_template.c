/*
 * test_template.c - the --format template engine: a table of template ->
 * output over one inspect-like document, as Go's text/template prints it,
 * and a table of bad templates -> docker's error message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/template.h"

static const char *doc =
    "{\"Name\":\"/web\",\"Id\":\"abc\",\"State\":{\"Status\":\"running\",\"Pid\":42,"
    "\"Running\":true,\"ExitCode\":0},\"Config\":{\"Env\":[\"A=1\",\"B=2\"],"
    "\"Labels\":{\"k\":\"v\",\"a\":\"<b>\"},\"Cmd\":null,\"Empty\":[]},"
    "\"Size\":1.5,\"Big\":1e21,\"Whole\":3.0,\"Tiny\":0.00001}";

struct ok_case {
    const char *tmpl, *want;
};

static const struct ok_case ok[] = {
    {"{{.State.Status}}", "running"},
    {"{{.State.Pid}}", "42"},
    {"{{.Config.Env}}", "[A=1 B=2]"},
    {"{{.Config.Labels}}", "map[a:<b> k:v]"},
    {"{{.Config.Cmd}}", "<nil>"},
    {"{{.Nope}}", "<no value>"},
    {"{{.Config.Nope}}", "<no value>"},
    {"{{.Size}} {{.Big}} {{.Whole}} {{.Tiny}}", "1.5 1e+21 3 1e-05"},
    {"{{json .Config.Env}}", "[\"A=1\",\"B=2\"]"},
    {"{{json .Config.Labels}}", "{\"a\":\"\\u003cb\\u003e\",\"k\":\"v\"}"},
    /* a document (capitalised keys) in its order, a map (Labels) sorted */
    {"{{.Config | json}}", "{\"Env\":[\"A=1\",\"B=2\"],"
                           "\"Labels\":{\"a\":\"\\u003cb\\u003e\",\"k\":\"v\"},"
                           "\"Cmd\":null,\"Empty\":[]}"},
    {"{{range .Config.Env}}{{.}} {{end}}", "A=1 B=2 "},
    {"{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=B=2;"},
    {"{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}},{{end}}", "a:<b>,k:v,"},
    {"{{range .Config.Empty}}x{{else}}none{{end}}", "none"},
    {"{{range .Config.Cmd}}x{{end}}", ""},
    {"{{index .Config.Labels \"k\"}}", "v"},
    {"{{index .Config.Labels \"zz\"}}", "<no value>"},
    {"{{index .Config.Env 1}}", "B=2"},
    {"{{printf \"%s-%d\" .Name 3}}", "/web-3"},
    {"{{printf \"%5s|%-4d|%x|%q\" \"ab\" 7 255 \"q\"}}", "   ab|7   |ff|\"q\""},
    {"{{printf \"%d\" \"x\"}}", "%!d(string=x)"},
    {"{{printf \"%v|%s|%v\" .Nope .Config.Cmd .Config.Env}}", "<nil>|%!s(<nil>)|[A=1 B=2]"},
    {"{{printf \"%.99999999f|%c\" 1.5 65}}", "%!(BADWIDTH)|%!c(int=65)"},
    {"{{printf \"%-6s|%6.2f\" \"ab\" 3.14159}}", "ab    |  3.14"},
    {"{{if .State.Running}}up{{else}}down{{end}}", "up"},
    {"{{if .Config.Empty}}a{{else if .State.Pid}}b{{else}}c{{end}}", "b"},
    {"{{if not .State.ExitCode}}zero{{end}}", "zero"},
    {"{{if and .State.Running (eq .State.Status \"running\")}}y{{end}}", "y"},
    {"{{or .Nope \"dflt\"}}", "dflt"},
    {"{{if eq .State.Pid 1 42}}in{{end}}", "in"},
    {"{{if lt .State.Pid 100}}small{{end}}{{if ge .Name \"/a\"}}!{{end}}", "small!"},
    {"{{with .State}}{{.Status}}{{end}}", "running"},
    {"{{with .Nope}}x{{else}}y{{end}}", "y"},
    {"{{.Name | upper}}", "/WEB"},
    {"{{lower \"AbC\"}}", "abc"},
    {"{{title \"hello big world\"}}", "Hello Big World"},
    {"{{join .Config.Env \",\"}}", "A=1,B=2"},
    {"{{split \"a:b:c\" \":\"}}", "[a b c]"},
    {"{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}}", "2 4 2"},
    {"{{println .Name 1}}", "/web 1\n"},
    {"{{print 1 2 \"x\" 3}}", "1 2x3"},
    {"{{pad .Id 1 2}}|{{truncate .Id 2}}", " abc  |ab"},
    {"a  {{- .Id -}}  \n b", "aabcb"},
    {"a {{/* comment */}}b", "a b"},
    {"a {{- /* c */ -}} b", "ab"},
    {"{{$x := .Id}}{{$x}}{{$x = \"z\"}}{{$x}}", "abcz"},
    {"{{$x := 1}}{{if 1}}{{$x = 2}}{{$y := 3}}{{$y}}{{end}}{{$x}}", "32"},
    {"{{with $v := .State}}{{$v.Status}}{{else}}{{$v}}{{end}}", "running"},
    {"{{range .Config.Env}}{{$.Id}}{{end}}", "abcabc"},
    {"{{(index .Config.Env 0)}}", "A=1"},
    {"{{(.State).Status}}", "running"},
    {"{{`raw\\n`}}", "raw\\n"},
    {"{{\"\\u00e9\\x41\\n\"}}", "\xc3\xa9" "A\n"},
    {"{{-3}} {{1.5}} {{true}} {{0x10}}", "-3 1.5 true 16"},
    {"caf\xc3\xa9 \xff{{.Id}}", "caf\xc3\xa9 \xff" "abc"},
    {"plain text", "plain text"},
    {"", ""},
};

static void test_ok(void **state)
{
    (void)state;
    json_t *data = json_loads(doc, 0, NULL);
    assert_non_null(data);
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        struct tmpl *t;
        struct berr err = {0};
        char *out = NULL;
        if (tmpl_parse(ok[i].tmpl, &t, &err) < 0)
            fail_msg("%s: parse: %s", ok[i].tmpl, err.msg);
        if (tmpl_exec(t, data, &out, &err) < 0)
            fail_msg("%s: exec: %s", ok[i].tmpl, err.msg);
        if (strcmp(out, ok[i].want) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", ok[i].tmpl, out, ok[i].want);
        free(out);
        tmpl_free(t);
    }
    json_decref(data);
}

static const struct ok_case bad_parse[] = {
    {"{{", "template: :1: unclosed action"},
    {"{{.Foo", "template: :1: unclosed action"},
    {"{{end}}", "template: :1: unexpected {{end}}"},
    {"{{else}}", "template: :1: unexpected {{else}}"},
    {"{{if}}{{end}}", "template: :1: missing value for if"},
    {"{{nosuch}}", "template: :1: function \"nosuch\" not defined"},
    {"{{if .A}}x", "template: :1: unexpected EOF"},
    {"a\n{{range .A}}", "template: :2: unexpected EOF"},
    {"{{template \"x\"}}", "template: :1: {{template}} is not supported"},
    {"{{define \"x\"}}a{{end}}", "template: :1: {{define}} is not supported"},
    {"{{block \"x\" .}}a{{end}}", "template: :1: {{block}} is not supported"},
    {"{{\"abc}}", "template: :1: unterminated quoted string"},
    {"{{`abc}}", "template: :1: unterminated raw quoted string"},
    {"{{/* x }}", "template: :1: unclosed comment"},
    {"{{.A | }}", "template: :1: missing value for command"},
    {"{{}}", "template: :1: missing value for command"},
    {"{{@}}", "template: :1: unrecognized character in action: U+0040 '@'"},
    {"{{\xff}}", "template: :1: unrecognized character in action: byte 0xff"},
    {"{{nil}}", "template: :1: nil is not a command"},
    {"{{1x}}", "template: :1: bad number syntax: \"1x\""},
    {"{{$nope}}", "template: :1: undefined variable \"$nope\""},
    {"{{$y = 1}}", "template: :1: undefined variable \"$y\""},
    {"{{with $x := 1}}{{$x}}{{end}}{{$x}}", "template: :1: undefined variable \"$x\""},
    {"{{range $i, $e := .}}{{end}}{{$e}}", "template: :1: undefined variable \"$e\""},
    {"{{if 1}}{{$v := 2}}{{end}}{{$v}}", "template: :1: undefined variable \"$v\""},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_parse / sizeof *bad_parse; i++) {
        struct tmpl *t = NULL;
        struct berr err = {0};
        if (tmpl_parse(bad_parse[i].tmpl, &t, &err) == 0)
            fail_msg("%s: parsed", bad_parse[i].tmpl);
        assert_null(t);
        if (strcmp(err.msg, bad_parse[i].want) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", bad_parse[i].tmpl, err.msg,
                     bad_parse[i].want);
    }
}

static const struct ok_case bad_exec[] = {
    {"{{.Nope.Deeper}}", "nil pointer evaluating interface {}.Deeper"},
    {"{{.Name.X}}", "can't evaluate field X in type string"},
    {"{{index .Config.Env 9}}", "index out of range: 9"},
    {"{{len 3}}", "len of type int"},
    {"{{range .Name}}{{end}}", "range can't iterate over /web"},
    {"{{.Name 1}}", "can't give argument to non-function"},
    {"{{lt .Name 1}}", "incompatible types for comparison"},
    {"{{upper 1}}", "expected string"},
    {"{{join .Name \",\"}}", "expected []string"},
};

static void test_exec_errors(void **state)
{
    (void)state;
    json_t *data = json_loads(doc, 0, NULL);
    for (size_t i = 0; i < sizeof bad_exec / sizeof *bad_exec; i++) {
        struct tmpl *t;
        struct berr err = {0};
        char *out = (char *)"x";
        if (tmpl_parse(bad_exec[i].tmpl, &t, &err) < 0)
            fail_msg("%s: parse: %s", bad_exec[i].tmpl, err.msg);
        if (tmpl_exec(t, data, &out, &err) == 0)
            fail_msg("%s: ran: %s", bad_exec[i].tmpl, out);
        assert_null(out);
        if (!strstr(err.msg, bad_exec[i].want) || strncmp(err.msg, "template: :1: ", 14) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", bad_exec[i].tmpl, err.msg, bad_exec[i].want);
        tmpl_free(t);
    }
    json_decref(data);
}

/* Hostile templates: deep nesting, huge output, long input: an error or
 * an answer, never a crash. */
static void test_limits(void **state)
{
    (void)state;
    struct berr err = {0};
    struct tmpl *t;
    size_t n = 5000;
    char *deep = malloc(n * 20 + 1);
    deep[0] = 0;
    for (size_t i = 0; i < n; i++)
        strcat(deep, "{{if 1}}");
    assert_int_not_equal(tmpl_parse(deep, &t, &err), 0);
    assert_string_equal(err.msg, "template: :1: nesting too deep");
    memset(&err, 0, sizeof err);
    deep[0] = 0;
    strcat(deep, "{{");
    for (size_t i = 0; i < n; i++)
        strcat(deep, "(");
    strcat(deep, "}}");
    assert_int_not_equal(tmpl_parse(deep, &t, &err), 0);
    assert_string_equal(err.msg, "template: :1: nesting too deep");
    free(deep);

    /* 50 levels is fine */
    char ok50[2000] = "";
    for (int i = 0; i < 50; i++)
        strcat(ok50, "{{with .}}");
    strcat(ok50, "x");
    for (int i = 0; i < 50; i++)
        strcat(ok50, "{{end}}");
    memset(&err, 0, sizeof err);
    assert_int_equal(tmpl_parse(ok50, &t, &err), 0);
    char *out;
    json_t *one = json_integer(1);
    assert_int_equal(tmpl_exec(t, one, &out, &err), 0);
    assert_string_equal(out, "x");
    free(out);
    tmpl_free(t);

    /* nested ranges over 1000 items each: stopped at the output limit */
    json_t *big = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(big, json_string("0123456789"));
    assert_int_equal(tmpl_parse("{{range .}}{{range $}}{{range $}}{{.}}{{end}}{{end}}{{end}}",
                                &t, &err), 0);
    assert_int_not_equal(tmpl_exec(t, big, &out, &err), 0);
    if (!strstr(err.msg, "output larger than"))
        fail_msg("%s", err.msg);
    tmpl_free(t);
    json_decref(big);
    json_decref(one);
}

/* Random splices of template pieces: an answer or an error, never a crash
 * (run under ASan with SANITIZE=1). */
static void test_random(void **state)
{
    (void)state;
    static const char *pieces[] = {
        "{{", "}}", "{{-", " -}}", ".State", ".Config.Env", "if", "else", "end", "range",
        "with", " ", "|", "(", ")", "\"", "`", "$", "$x", ":=", "=", ",", "printf", "json",
        "index", "len", "1", "-2", "3.5", "\"%s%d\"", "/*", "*/", "\xff", "\\", "eq",
        "and", "nil", "true", "x", "\n", "upper", "split", "join", ".", "template",
    };
    json_t *data = json_loads(doc, 0, NULL);
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        char text[512] = "";
        int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 12;
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            strcat(text, pieces[(seed >> 16) % (sizeof pieces / sizeof *pieces)]);
        }
        struct tmpl *t;
        struct berr err = {0};
        char *out;
        if (tmpl_parse(text, &t, &err) < 0) {
            assert_int_equal(strncmp(err.msg, "template: :", 11), 0);
            continue;
        }
        if (tmpl_exec(t, data, &out, &err) == 0)
            free(out);
        tmpl_free(t);
    }
    json_decref(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_exec_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
