/*
 * ports.c - a service's `ports`: the short syntax
 * "[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]" (ranges "8000-8001:80-81"
 * expand to one entry per port, as compose does) and the long syntax, both
 * into {target, published, host_ip, protocol, mode}. Defaults (tcp,
 * ingress) are added after the files are merged.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool port_range(const char *s, size_t len, long *lo, long *hi)
{
    char buf[16];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    for (char *p = buf; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    if (dash)
        for (char *p = dash + 1; *p; p++)
            if (!isdigit((unsigned char)*p))
                return false;
    if (!buf[0] || (dash && !dash[1]))
        return false;
    *lo = strtol(buf, NULL, 10);
    *hi = dash ? strtol(dash + 1, NULL, 10) : *lo;
    return *lo >= 1 && *hi <= 65535 && *lo <= *hi;
}

static bool ip_ok(const char *ip)
{
    unsigned char a[16];
    return inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1;
}

static json_t *port_entry(long target, const char *published, const char *ip, const char *proto)
{
    json_t *e = json_pack("{s:I}", "target", (json_int_t)target);
    if (published && *published)
        json_object_set_new(e, "published", json_string(published));
    if (ip && *ip)
        json_object_set_new(e, "host_ip", json_string(ip));
    if (proto)
        json_object_set_new(e, "protocol", json_string(proto));
    return e;
}

static int port_short(struct cctx *c, const char *spec, json_t *res)
{
    char s[128], ip[64] = "", pub[32] = "";
    const char *proto = NULL;
    if (strlen(spec) >= sizeof s)
        goto bad;
    strcpy(s, spec);
    char *slash = strrchr(s, '/');
    if (slash) {
        *slash = '\0';
        proto = slash + 1;
        if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
            return cc_fail(c, "invalid protocol \"%.20s\" in \"%.60s\" (tcp or udp)", proto, spec);
    }
    char *colon = strrchr(s, ':');
    const char *target = colon ? colon + 1 : s;
    if (colon) {
        *colon = '\0';
        char *c2 = strrchr(s, ':');
        const char *p = c2 ? c2 + 1 : s;
        if (strlen(p) >= sizeof pub)
            goto bad;
        strcpy(pub, p);
        if (c2) {
            *c2 = '\0';
            char *h = s;
            size_t hl = strlen(h);
            if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
                h[hl - 1] = '\0', h++;
            if (strlen(h) >= sizeof ip || !ip_ok(h))
                return cc_fail(c, "invalid host IP \"%.40s\" in \"%.60s\"", h, spec);
            strcpy(ip, h);
        }
    }
    long tlo, thi, plo = 0, phi = 0;
    if (!port_range(target, strlen(target), &tlo, &thi))
        return cc_fail(c, "invalid port \"%.60s\"", spec);
    if (pub[0] && !port_range(pub, strlen(pub), &plo, &phi))
        return cc_fail(c, "invalid published port \"%.60s\"", spec);
    if (tlo != thi && pub[0] && phi - plo != thi - tlo)
        return cc_fail(c, "port ranges of different sizes in \"%.60s\"", spec);
    for (long t = tlo; t <= thi; t++) {
        char one[16];
        const char *published = pub;
        if (pub[0] && tlo != thi) {
            snprintf(one, sizeof one, "%ld", plo + (t - tlo));
            published = one;
        }
        json_array_append_new(res, port_entry(t, published, ip, proto));
    }
    return 0;
bad:
    return cc_fail(c, "invalid port \"%.60s\"", spec);
}

static int port_long(struct cctx *c, json_t *v, json_t *res)
{
    static const char *const known[] = {"target", "published", "host_ip", "protocol", "mode",
                                        "name", "app_protocol"};
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok && strncmp(key, "x-", 2) != 0) {
            size_t keep = cc_key(c, key);
            int rc = cc_fail(c, "unknown key");
            cc_pop(c, keep);
            return rc;
        }
    }
    json_t *e = json_object();
    long long target;
    int rc = 0;
    size_t keep;
    json_t *t = json_object_get(v, "target");
    if (!t) {
        json_decref(e);
        return cc_fail(c, "target is required");
    }
    keep = cc_key(c, "target");
    rc = sh_int(c, t, 1, 65535, &target);
    cc_pop(c, keep);
    if (rc < 0)
        goto out;
    json_object_set_new(e, "target", json_integer(target));
    if ((val = json_object_get(v, "published")) && !json_is_null(val)) {
        json_t *s;
        long lo, hi;
        keep = cc_key(c, "published");
        if ((rc = sh_scalar_str(c, val, &s)) == 0) {
            if (!port_range(json_string_value(s), json_string_length(s), &lo, &hi))
                rc = cc_fail(c, "invalid port \"%.40s\"", json_string_value(s));
            json_object_set_new(e, "published", s);
        }
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
    }
    if ((val = json_object_get(v, "host_ip"))) {
        const char *ip;
        keep = cc_key(c, "host_ip");
        if ((rc = sh_string(c, val, &ip)) == 0 && !ip_ok(ip))
            rc = cc_fail(c, "invalid IP address \"%.40s\"", ip);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set(e, "host_ip", val);
    }
    if ((val = json_object_get(v, "protocol"))) {
        const char *p;
        keep = cc_key(c, "protocol");
        if ((rc = sh_string(c, val, &p)) == 0 && strcmp(p, "tcp") && strcmp(p, "udp"))
            rc = cc_fail(c, "invalid protocol \"%.20s\" (tcp or udp)", p);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set(e, "protocol", val);
    }
    if ((val = json_object_get(v, "mode"))) {
        const char *m;
        keep = cc_key(c, "mode");
        if ((rc = sh_string(c, val, &m)) == 0 && strcmp(m, "ingress") && strcmp(m, "host"))
            rc = cc_fail(c, "invalid mode \"%.20s\" (ingress or host)", m);
        cc_pop(c, keep);
        if (rc < 0)
            goto out;
        json_object_set(e, "mode", val);
    }
    json_array_append(res, e);
out:
    json_decref(e);
    return rc;
}

int sh_ports(struct cctx *c, json_t *v, json_t **out)
{
    size_t i;
    json_t *item;
    if (!json_is_array(v))
        return cc_fail(c, "must be a list");
    json_t *res = json_array();
    int rc = 0;
    json_array_foreach(v, i, item) {
        size_t keep = cc_idx(c, i);
        if (json_is_integer(item)) {
            long long t;
            if ((rc = sh_int(c, item, 1, 65535, &t)) == 0)
                json_array_append_new(res, port_entry((long)t, NULL, NULL, NULL));
        } else if (json_is_string(item))
            rc = port_short(c, json_string_value(item), res);
        else if (json_is_object(item))
            rc = port_long(c, item, res);
        else {
            char shown[64];
            cc_show(item, shown, sizeof shown);
            rc = cc_fail(c, "invalid port %s", shown);
        }
        if (rc == 0 && json_array_size(res) > COMPOSE_LIST_MAX)
            rc = cc_fail(c, "more than %d ports", COMPOSE_LIST_MAX);
        cc_pop(c, keep);
        if (rc < 0) {
            json_decref(res);
            return rc;
        }
    }
    *out = res;
    return 0;
}
