/*
 * config.c - the instructions that change only the image config, and the
 * history texts docker's classic builder writes for each step.
 *
 * The image document is the OCI image config ({"architecture", "os",
 * "config": {...}, "author", ...}); an instruction changes its "config"
 * object (or "author") in place. Variables are expanded where docker
 * expands them (ENV, LABEL, EXPOSE, WORKDIR, USER, VOLUME, STOPSIGNAL,
 * ARG), all against the values in effect before the instruction, and
 * never in CMD, ENTRYPOINT, SHELL, HEALTHCHECK or ONBUILD.
 *
 * History: the classic builder records a config-only step as a container
 * command, the shell followed by "#(nop) " and the instruction, and the
 * history's created_by is that command joined with spaces; so
 * `/bin/sh -c #(nop)  CMD ["echo" "hi"]` has two spaces, while WORKDIR
 * (an older form, one argument) has one: `/bin/sh -c #(nop) WORKDIR /app`.
 * The instruction is printed with Go's fmt verbs as docker does (%q for
 * CMD, ENTRYPOINT and HEALTHCHECK, %v for VOLUME and SHELL), which is why
 * Go's quoting and durations are reproduced here.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- small things ---------------------------------------------------------------- */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* An open_memstream, for texts built in pieces. */
struct text {
    FILE *f;
    char *p;
    size_t n;
};

static void text_open(struct text *t)
{
    t->p = NULL;
    t->n = 0;
    t->f = open_memstream(&t->p, &t->n);
    if (!t->f)
        abort();
}

static char *text_close(struct text *t)
{
    fclose(t->f);
    return t->p;
}

static json_t *config_of(json_t *image)
{
    json_t *c = json_object_get(image, "config");
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(image, "config", c);
    }
    return c;
}

json_t *df_shell(json_t *image)
{
    json_t *sh = json_object_get(json_object_get(image, "config"), "Shell");
    if (json_is_array(sh) && json_array_size(sh) > 0)
        return json_deep_copy(sh);
    return json_pack("[ss]", "/bin/sh", "-c");
}

/* The strings of a JSON array, joined with spaces. */
static void put_joined(FILE *f, json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (i)
            fputc(' ', f);
        fputs(json_string_value(v) ? json_string_value(v) : "", f);
    }
}

/* Go's %q of a []string: ["a" "b c"] */
static void put_q_json(FILE *f, json_t *a)
{
    fputc('[', f);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char *q = df_go_quote(json_string_value(v) ? json_string_value(v) : "");
        fprintf(f, "%s%s", i ? " " : "", q);
        free(q);
    }
    fputc(']', f);
}

/* The history text of a config-only step: "<shell> #(nop)  <what>" (two
 * arguments: "#(nop) " and the text) or, `one_arg`, "<shell> #(nop) <what>". */
static char *nop_text(json_t *image, const char *what, bool one_arg)
{
    struct text t;
    text_open(&t);
    json_t *sh = df_shell(image);
    put_joined(t.f, sh);
    json_decref(sh);
    fprintf(t.f, one_arg ? " #(nop) %s" : " #(nop)  %s", what);
    return text_close(&t);
}

void df_duration_string(int64_t d, char out[32])
{
    /* Go's time.Duration.String */
    char buf[32];
    int w = (int)sizeof buf;
    uint64_t u = d < 0 ? (uint64_t)(-(d + 1)) + 1 : (uint64_t)d;
    bool neg = d < 0;
    if (u < 1000000000ULL) {
        int prec = 0;
        buf[--w] = 's';
        w--;
        if (u == 0) {
            strcpy(out, "0s");
            return;
        } else if (u < 1000ULL) {
            prec = 0;
            buf[w] = 'n';
        } else if (u < 1000000ULL) {
            prec = 3;
            /* µ, two bytes */
            buf[w] = (char)0xb5;
            buf[--w] = (char)0xc2;
        } else {
            prec = 6;
            buf[w] = 'm';
        }
        /* fraction */
        bool print = false;
        for (int i = 0; i < prec; i++) {
            int digit = (int)(u % 10);
            print = print || digit != 0;
            if (print)
                buf[--w] = (char)('0' + digit);
            u /= 10;
        }
        if (print)
            buf[--w] = '.';
        if (u == 0)
            buf[--w] = '0';
        while (u > 0) {
            buf[--w] = (char)('0' + u % 10);
            u /= 10;
        }
    } else {
        buf[--w] = 's';
        bool print = false;
        for (int i = 0; i < 9; i++) {
            int digit = (int)(u % 10);
            print = print || digit != 0;
            if (print)
                buf[--w] = (char)('0' + digit);
            u /= 10;
        }
        if (print)
            buf[--w] = '.';
        uint64_t s = u % 60;
        if (s == 0)
            buf[--w] = '0';
        while (s > 0) {
            buf[--w] = (char)('0' + s % 10);
            s /= 10;
        }
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            uint64_t m = u % 60;
            if (m == 0)
                buf[--w] = '0';
            while (m > 0) {
                buf[--w] = (char)('0' + m % 10);
                m /= 10;
            }
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                while (u > 0) {
                    buf[--w] = (char)('0' + u % 10);
                    u /= 10;
                }
            }
        }
    }
    if (neg)
        buf[--w] = '-';
    memcpy(out, buf + w, sizeof buf - (size_t)w);
    out[sizeof buf - (size_t)w] = '\0';
}

/* ---- expansion helpers -------------------------------------------------------------- */

struct env {
    df_lookup_fn lookup;
    void *arg;
    char esc;
    struct berr *err;
};

static int expand(const struct env *e, const char *in, char **out)
{
    return df_expand(in, e->esc, e->lookup, e->arg, out, e->err);
}

/* ---- the instructions ------------------------------------------------------------------ */

static void env_set(json_t *cfg, const char *k, const char *v)
{
    json_t *env = json_object_get(cfg, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(cfg, "Env", env);
    }
    char *kv = xasprintf("%s=%s", k, v);
    size_t kl = strlen(k), i;
    json_t *e;
    json_array_foreach(env, i, e) {
        const char *s = json_string_value(e);
        if (s && strncmp(s, k, kl) == 0 && (s[kl] == '=' || s[kl] == '\0')) {
            json_array_set_new(env, i, json_string(kv));
            free(kv);
            return;
        }
    }
    json_array_append_new(env, json_string(kv));
    free(kv);
}

/* ENV and LABEL: key/value pairs, each expanded; "ENV a=1 b=2" */
static int apply_pairs(const struct df_instr *in, json_t *image, const struct env *e,
                       char **created_by)
{
    json_t *cfg = config_of(image);
    size_t n = in->nargs / 2;
    char **kv = calloc(n * 2 + 1, sizeof *kv);
    if (!kv)
        abort();
    int rc = 0;
    for (size_t i = 0; i < n * 2 && rc == 0; i++)
        rc = expand(e, in->args[i], &kv[i]);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!*kv[2 * i])
            rc = berr_set(e->err, BERR_INVALID, "%s names can not be blank",
                          df_kind_name(in->kind));
    if (rc == 0) {
        struct text t;
        text_open(&t);
        fputs(df_kind_name(in->kind), t.f);
        json_t *labels = NULL;
        if (in->kind == DF_LABEL) {
            labels = json_object_get(cfg, "Labels");
            if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(cfg, "Labels", labels);
            }
        }
        for (size_t i = 0; i < n; i++) {
            fprintf(t.f, " %s=%s", kv[2 * i], kv[2 * i + 1]);
            if (labels)
                json_object_set_new(labels, kv[2 * i], json_string(kv[2 * i + 1]));
            else
                env_set(cfg, kv[2 * i], kv[2 * i + 1]);
        }
        char *what = text_close(&t);
        *created_by = nop_text(image, what, false);
        free(what);
    }
    for (size_t i = 0; i < n * 2; i++)
        free(kv[i]);
    free(kv);
    return rc;
}

/* ARG: nothing in the config; the text, expanded ("ARG a=1 b"). */
static int apply_arg(const struct df_instr *in, json_t *image, const struct env *e,
                     char **created_by)
{
    struct text t;
    text_open(&t);
    fputs("ARG ", t.f);
    int rc = 0;
    for (size_t i = 0; i + 1 < in->nargs && rc == 0; i += 2) {
        char *k = NULL, *v = NULL;
        rc = expand(e, in->args[i], &k);
        if (rc == 0 && in->args[i + 1])
            rc = expand(e, in->args[i + 1], &v);
        if (rc == 0)
            fprintf(t.f, "%s%s%s%s", i ? " " : "", k, v ? "=" : "", v ? v : "");
        free(k);
        free(v);
    }
    char *what = text_close(&t);
    if (rc == 0)
        *created_by = nop_text(image, what, false);
    free(what);
    return rc;
}

/* The argv of CMD/ENTRYPOINT/RUN: exec form as is, shell form in the shell. */
static json_t *command_json(json_t *image, const struct df_instr *in)
{
    json_t *a;
    if (in->nargs == 0)
        return json_array();
    if (in->json) {
        a = json_array();
        for (size_t i = 0; i < in->nargs; i++)
            json_array_append_new(a, json_string(in->args[i]));
        return a;
    }
    a = df_shell(image);
    json_array_append_new(a, json_string(in->args[0]));
    return a;
}

static int apply_cmd(const struct df_instr *in, json_t *image, bool *cmd_set, char **created_by)
{
    json_t *cfg = config_of(image);
    json_t *cmd = command_json(image, in);
    struct text t;
    text_open(&t);
    fprintf(t.f, "%s ", in->kind == DF_CMD ? "CMD" : "ENTRYPOINT");
    put_q_json(t.f, cmd);
    char *what = text_close(&t);
    if (in->kind == DF_CMD) {
        json_object_set_new(cfg, "Cmd", cmd);
        if (cmd_set && in->nargs)
            *cmd_set = true;
    } else {
        json_object_set_new(cfg, "Entrypoint", cmd);
        /* a new entrypoint drops the CMD it would otherwise get from the
         * base image, unless this stage has set one */
        if (!cmd_set || !*cmd_set)
            json_object_del(cfg, "Cmd");
    }
    *created_by = nop_text(image, what, false);
    free(what);
    return 0;
}

/* Port specs as docker's nat.ParsePortSpec: [ip:[hostport]:]port[-end][/proto] */
static int add_port(json_t *ports, const char *raw, struct berr *err)
{
    const char *cp = strrchr(raw, ':');
    cp = cp ? cp + 1 : raw;
    char *spec = strdup(cp);
    if (!spec)
        abort();
    char proto[16] = "tcp";
    char *slash = strchr(spec, '/');
    int rc = 0;
    if (slash) {
        *slash = '\0';
        if (slash[1]) {
            char *s2 = strchr(slash + 1, '/');
            if (s2)
                *s2 = '\0';
            snprintf(proto, sizeof proto, "%s", slash + 1);
        }
    }
    for (char *c = proto; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (!*spec) {
        rc = berr_set(err, BERR_INVALID, "No port specified: %s<empty>", raw);
        goto out;
    }
    unsigned long lo, hi;
    char *end;
    char *dash = strchr(spec, '-');
    if (dash)
        *dash = '\0';
    lo = strtoul(spec, &end, 10);
    bool bad = !*spec || *end || lo > 65535 || !isdigit((unsigned char)*spec);
    hi = lo;
    if (!bad && dash) {
        hi = strtoul(dash + 1, &end, 10);
        bad = !dash[1] || *end || hi > 65535 || !isdigit((unsigned char)dash[1]) || hi < lo;
        *dash = '-';
    }
    if (bad) {
        if (dash)
            *dash = '-';
        rc = berr_set(err, BERR_INVALID, "Invalid containerPort: %s", spec);
        goto out;
    }
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 && strcmp(proto, "sctp") != 0) {
        rc = berr_set(err, BERR_INVALID, "Invalid proto: %s", proto);
        goto out;
    }
    for (unsigned long p = lo; p <= hi; p++) {
        char key[32];
        snprintf(key, sizeof key, "%lu/%s", p, proto);
        json_object_set_new(ports, key, json_object());
    }
out:
    free(spec);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}


/* Append the white-space separated fields of `s`, unexpanded, to *v. */
static void split_fields(const char *s, char ***v, size_t *n)
{
    while (*s) {
        while (*s && isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        const char *b = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        *v = realloc(*v, (*n + 1) * sizeof **v);
        if (!*v || !((*v)[(*n)++] = strndup(b, (size_t)(s - b))))
            abort();
    }
}
static int apply_expose(const struct df_instr *in, json_t *image, const struct env *e,
                        char **created_by)
{
    /* docker sorts the words as written, then expands each into words */
    char **raw = NULL, **words = NULL;
    size_t nraw = 0, nw = 0;
    split_fields(in->args[0], &raw, &nraw);
    qsort(raw, nraw, sizeof *raw, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nraw && rc == 0; i++) {
        char **w;
        size_t n;
        rc = df_words(raw[i], e->esc, e->lookup, e->arg, &w, &n, e->err);
        if (rc < 0)
            break;
        words = realloc(words, (nw + n + 1) * sizeof *words);
        if (!words)
            abort();
        for (size_t k = 0; k < n; k++)
            words[nw++] = w[k];
        free(w);
    }
    json_t *cfg = config_of(image);
    json_t *ports = json_object_get(cfg, "ExposedPorts");
    json_t *np = json_is_object(ports) ? json_deep_copy(ports) : json_object();
    for (size_t i = 0; i < nw && rc == 0; i++)
        rc = add_port(np, words[i], e->err);
    if (rc == 0) {
        json_object_set_new(cfg, "ExposedPorts", np);
        struct text t;
        text_open(&t);
        fputs("EXPOSE", t.f);
        for (size_t i = 0; i < nw; i++)
            fprintf(t.f, " %s", words[i]);
        char *what = text_close(&t);
        *created_by = nop_text(image, what, false);
        free(what);
    } else {
        json_decref(np);
    }
    for (size_t i = 0; i < nraw; i++)
        free(raw[i]);
    free(raw);
    for (size_t i = 0; i < nw; i++)
        free(words[i]);
    free(words);
    return rc;
}

/* Go's path.Join("/", cur, req) for a relative WORKDIR: cleaned. */
static char *join_clean(const char *cur, const char *req)
{
    char *joined = xasprintf("/%s/%s", cur ? cur : "", req);
    size_t n = strlen(joined);
    char **seg = calloc(n + 1, sizeof *seg);
    if (!seg)
        abort();
    size_t ns = 0;
    for (char *tok = strtok(joined, "/"); tok; tok = strtok(NULL, "/")) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (ns)
                ns--;
            continue;
        }
        seg[ns++] = tok;
    }
    struct text t;
    text_open(&t);
    if (!ns)
        fputc('/', t.f);
    for (size_t i = 0; i < ns; i++)
        fprintf(t.f, "/%s", seg[i]);
    char *r = text_close(&t);
    free(seg);
    free(joined);
    return r;
}

static int apply_workdir(const struct df_instr *in, json_t *image, const struct env *e,
                         char **created_by)
{
    char *dir;
    int rc = expand(e, in->args[0], &dir);
    if (rc < 0)
        return rc;
    if (!*dir) {
        free(dir);
        return berr_set(e->err, BERR_INVALID, "cannot normalize nothing");
    }
    json_t *cfg = config_of(image);
    if (dir[0] != '/') {
        char *j = join_clean(json_string_value(json_object_get(cfg, "WorkingDir")), dir);
        free(dir);
        dir = j;
    }
    json_object_set_new(cfg, "WorkingDir", json_string(dir));
    char *what = xasprintf("WORKDIR %s", dir);
    *created_by = nop_text(image, what, true);
    free(what);
    free(dir);
    return 0;
}

static int apply_volume(const struct df_instr *in, json_t *image, const struct env *e,
                        char **created_by)
{
    char **raw = NULL;
    size_t nraw = 0;
    if (in->json) {
        raw = calloc(in->nargs + 1, sizeof *raw);
        if (!raw)
            abort();
        for (size_t i = 0; i < in->nargs; i++)
            if (!(raw[nraw++] = strdup(in->args[i])))
                abort();
    } else {
        split_fields(in->args[0], &raw, &nraw);
    }
    char **vols = calloc(nraw + 1, sizeof *vols);
    if (!vols)
        abort();
    int rc = 0;
    for (size_t i = 0; i < nraw && rc == 0; i++) {
        rc = expand(e, raw[i], &vols[i]);
        if (rc == 0) {
            /* TrimSpace */
            char *v = vols[i];
            size_t l = strlen(v), b = 0;
            while (b < l && isspace((unsigned char)v[b]))
                b++;
            while (l > b && isspace((unsigned char)v[l - 1]))
                l--;
            memmove(v, v + b, l - b);
            v[l - b] = '\0';
            if (!*v)
                rc = berr_set(e->err, BERR_INVALID, "VOLUME specified can not be an empty string");
        }
    }
    if (rc == 0) {
        json_t *cfg = config_of(image);
        json_t *vo = json_object_get(cfg, "Volumes");
        if (!json_is_object(vo)) {
            vo = json_object();
            json_object_set_new(cfg, "Volumes", vo);
        }
        struct text t;
        text_open(&t);
        fputs("VOLUME [", t.f);
        for (size_t i = 0; i < nraw; i++) {
            json_object_set_new(vo, vols[i], json_object());
            fprintf(t.f, "%s%s", i ? " " : "", vols[i]);
        }
        fputc(']', t.f);
        char *what = text_close(&t);
        *created_by = nop_text(image, what, false);
        free(what);
    }
    for (size_t i = 0; i < nraw; i++) {
        free(raw[i]);
        free(vols[i]);
    }
    free(raw);
    free(vols);
    return rc;
}

static const char *const signal_names[] = {
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
    "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
    "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    "RTMIN", "RTMAX", NULL,
};

/* docker's signal.ParseSignal on Linux */
bool df_signal_valid(const char *s)
{
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end)
        return n > 0 && n <= 64;
    char up[32];
    size_t l = strlen(s);
    if (l >= sizeof up)
        return false;
    for (size_t i = 0; i <= l; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    const char *name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
    for (const char *const *p = signal_names; *p; p++)
        if (strcmp(name, *p) == 0)
            return true;
    if (strncmp(name, "RTMIN+", 6) == 0 || strncmp(name, "RTMAX-", 6) == 0) {
        n = strtol(name + 6, &end, 10);
        return !*end && name[6] >= '1' && name[6] <= '9' && n >= 1 && n <= 15 &&
               (name[4] == 'N' || n <= 14);
    }
    return false;
}

static int apply_simple(const struct df_instr *in, json_t *image, const struct env *e,
                        char **created_by)
{
    json_t *cfg = config_of(image);
    char *v;
    if (in->kind == DF_MAINTAINER) {
        v = strdup(in->args[0]);
        if (!v)
            abort();
    } else {
        int rc = expand(e, in->args[0], &v);
        if (rc < 0)
            return rc;
    }
    switch (in->kind) {
    case DF_USER:
        json_object_set_new(cfg, "User", json_string(v));
        break;
    case DF_STOPSIGNAL:
        if (!df_signal_valid(v)) {
            int rc = berr_set(e->err, BERR_INVALID, "Invalid signal: %s", v);
            free(v);
            return rc;
        }
        json_object_set_new(cfg, "StopSignal", json_string(v));
        break;
    case DF_MAINTAINER:
        json_object_set_new(image, "author", json_string(v));
        break;
    default:
        break;
    }
    char *what = xasprintf("%s %s", df_kind_name(in->kind), v);
    *created_by = nop_text(image, what, false);
    free(what);
    free(v);
    return 0;
}

static int apply_shell(const struct df_instr *in, json_t *image, char **created_by)
{
    json_t *cfg = config_of(image);
    json_t *a = json_array();
    for (size_t i = 0; i < in->nargs; i++)
        json_array_append_new(a, json_string(in->args[i]));
    json_object_set_new(cfg, "Shell", a);
    struct text t;
    text_open(&t);
    fputs("SHELL [", t.f);
    put_joined(t.f, a);
    fputc(']', t.f);
    char *what = text_close(&t);
    *created_by = nop_text(image, what, false);
    free(what);
    return 0;
}

static int64_t flag_duration(const struct df_instr *in, const char *name)
{
    const char *v = df_flag(in, name);
    int64_t ns = 0;
    if (v && *v && df_parse_duration(v, &ns) < 0)
        ns = 0;
    return ns;
}

static int apply_healthcheck(const struct df_instr *in, json_t *image, char **created_by)
{
    json_t *cfg = config_of(image);
    json_t *hc = json_object();
    json_t *test = json_array();
    int64_t d[4] = {0, 0, 0, 0};
    long long retries = 0;
    if (in->nargs == 0) {
        json_array_append_new(test, json_string("NONE"));
    } else {
        json_array_append_new(test, json_string(in->json ? "CMD" : "CMD-SHELL"));
        for (size_t i = 0; i < in->nargs; i++)
            json_array_append_new(test, json_string(in->args[i]));
        const char *names[] = {"interval", "timeout", "start-period", "start-interval"};
        for (int i = 0; i < 4; i++)
            d[i] = flag_duration(in, names[i]);
        const char *r = df_flag(in, "retries");
        retries = r && *r ? strtoll(r, NULL, 10) : 0;
    }
    json_object_set_new(hc, "Test", test);
    const char *keys[] = {"Interval", "Timeout", "StartPeriod", "StartInterval"};
    for (int i = 0; i < 4; i++)
        if (d[i])
            json_object_set_new(hc, keys[i], json_integer(d[i]));
    if (retries)
        json_object_set_new(hc, "Retries", json_integer(retries));
    json_object_set_new(cfg, "Healthcheck", hc);

    /* fmt's %q of docker 20.10's *container.HealthConfig:
     * &{["CMD-SHELL" "curl x"] "30s" "3s" "0s" '\x03'} */
    struct text t;
    text_open(&t);
    fputs("HEALTHCHECK &{", t.f);
    put_q_json(t.f, test);
    for (int i = 0; i < 3; i++) {
        char ds[32];
        df_duration_string(d[i], ds);
        fprintf(t.f, " \"%s\"", ds);
    }
    char *rq = df_go_quote_rune(retries);
    fprintf(t.f, " %s}", rq);
    free(rq);
    char *what = text_close(&t);
    *created_by = nop_text(image, what, false);
    free(what);
    return 0;
}

static int apply_onbuild(const struct df_instr *in, json_t *image, char **created_by)
{
    json_t *cfg = config_of(image);
    json_t *ob = json_object_get(cfg, "OnBuild");
    if (!json_is_array(ob)) {
        ob = json_array();
        json_object_set_new(cfg, "OnBuild", ob);
    }
    const char *expr = in->sub ? in->sub->text : "";
    json_array_append_new(ob, json_string(expr));
    char *what = xasprintf("ONBUILD %s", expr);
    *created_by = nop_text(image, what, false);
    free(what);
    return 0;
}

int df_apply_config_stage(const struct df_instr *in, json_t *image, df_lookup_fn lookup,
                          void *arg, bool *cmd_set, char **created_by, struct berr *err)
{
    struct env e = {.lookup = lookup, .arg = arg, .esc = in->escape ? in->escape : '\\',
                    .err = err};
    char *cb = NULL;
    int rc;
    if (created_by)
        *created_by = NULL;
    switch (in->kind) {
    case DF_CMD:
    case DF_ENTRYPOINT:
        rc = apply_cmd(in, image, cmd_set, &cb);
        break;
    case DF_ENV:
    case DF_LABEL:
        rc = apply_pairs(in, image, &e, &cb);
        break;
    case DF_ARG:
        rc = apply_arg(in, image, &e, &cb);
        break;
    case DF_EXPOSE:
        rc = apply_expose(in, image, &e, &cb);
        break;
    case DF_WORKDIR:
        rc = apply_workdir(in, image, &e, &cb);
        break;
    case DF_VOLUME:
        rc = apply_volume(in, image, &e, &cb);
        break;
    case DF_USER:
    case DF_STOPSIGNAL:
    case DF_MAINTAINER:
        rc = apply_simple(in, image, &e, &cb);
        break;
    case DF_SHELL:
        rc = apply_shell(in, image, &cb);
        break;
    case DF_HEALTHCHECK:
        rc = apply_healthcheck(in, image, &cb);
        break;
    case DF_ONBUILD:
        rc = apply_onbuild(in, image, &cb);
        break;
    default:
        return berr_set(err, BERR_INVALID, "%s does not only change the config",
                        df_kind_name(in->kind));
    }
    if (rc < 0) {
        free(cb);
        return rc;
    }
    if (created_by)
        *created_by = cb;
    else
        free(cb);
    return 0;
}

int df_apply_config(const struct df_instr *in, json_t *image, df_lookup_fn lookup, void *arg,
                    char **created_by, struct berr *err)
{
    return df_apply_config_stage(in, image, lookup, arg, NULL, created_by, err);
}

/* ---- RUN --------------------------------------------------------------------------------- */

int df_command_argv(json_t *image, const struct df_instr *in, char ***argv, size_t *argc,
                    struct berr *err)
{
    if (in->kind != DF_RUN && in->kind != DF_CMD && in->kind != DF_ENTRYPOINT)
        return berr_set(err, BERR_INVALID, "%s has no command", df_kind_name(in->kind));
    json_t *a = command_json(image, in);
    size_t n = json_array_size(a);
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!(v[i] = strdup(json_string_value(json_array_get(a, i)))))
            abort();
    json_decref(a);
    *argv = v;
    if (argc)
        *argc = n;
    return 0;
}

int df_created_by_run(json_t *image, const struct df_instr *in, char *const *build_args,
                      size_t nbuild_args, char **created_by, struct berr *err)
{
    char **argv;
    size_t argc;
    int rc = df_command_argv(image, in, &argv, &argc, err);
    if (rc < 0)
        return rc;
    struct text t;
    text_open(&t);
    if (nbuild_args) {
        char **sorted = malloc(nbuild_args * sizeof *sorted);
        if (!sorted)
            abort();
        memcpy(sorted, build_args, nbuild_args * sizeof *sorted);
        qsort(sorted, nbuild_args, sizeof *sorted, cmp_str);
        fprintf(t.f, "|%zu", nbuild_args);
        for (size_t i = 0; i < nbuild_args; i++)
            fprintf(t.f, " %s", sorted[i]);
        free(sorted);
        if (argc)
            fputc(' ', t.f);
    }
    for (size_t i = 0; i < argc; i++)
        fprintf(t.f, "%s%s", i ? " " : "", argv[i]);
    df_words_free(argv);
    *created_by = text_close(&t);
    return 0;
}
