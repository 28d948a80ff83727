/*
 * main.c - the berthd command: `berthd [serve] [flags]` and
 * `berthd htpasswd FILE USER`.
 *
 * Settings come from embedded defaults, then --config FILE, then BERTH_*
 * environment variables, then the flags below, each overriding the last.
 */
#include "../auth/auth.h"
#include "server.h"

#include <openssl/crypto.h>

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berthd [serve] [options]\n"
            "       berthd htpasswd FILE USER   (password on standard input)\n"
            "\n"
            "  -c, --config FILE     JSON configuration file\n"
            "  -l, --listen ADDR:PORT address to serve on (default 0.0.0.0:5000)\n"
            "  -r, --root DIR        data directory (default ./data)\n"
            "      --log-level LEVEL debug, info, warn or error\n"
            "      --log-format FMT  text or json\n"
            "      --htpasswd FILE   require Basic auth for the users in FILE\n"
            "      --tls-cert FILE   serve HTTPS with this PEM certificate (chain)\n"
            "      --tls-key FILE    and this PEM private key\n"
            "  -h, --help            this text\n");
}

static int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, 'L'},
        {"log-format", required_argument, NULL, 'F'},
        {"htpasswd", required_argument, NULL, 'H'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *config_file = NULL, *listen = NULL, *root = NULL;
    const char *level = NULL, *format = NULL, *htpasswd = NULL;
    const char *tls_cert = NULL, *tls_key = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:l:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'l': listen = optarg; break;
        case 'r': root = optarg; break;
        case 'L': level = optarg; break;
        case 'F': format = optarg; break;
        case 'H': htpasswd = optarg; break;
        case 'C': tls_cert = optarg; break;
        case 'K': tls_key = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berthd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    struct config cfg;
    struct berr err = {0};
    if (config_load(&cfg, config_file, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err.msg);
        return 2;
    }
    if (listen)
        snprintf(cfg.listen, sizeof cfg.listen, "%s", listen);
    if (root)
        snprintf(cfg.root, sizeof cfg.root, "%s", root);
    bool ok = true;
    if (level)
        cfg.log_level = log_level_parse(level, &ok);
    if (!ok) {
        fprintf(stderr, "berthd: --log-level: '%s' is not debug, info, warn or error\n", level);
        return 2;
    }
    if (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0) {
        fprintf(stderr, "berthd: --log-format: '%s' is not text or json\n", format);
        return 2;
    }
    if (format)
        cfg.log_json = strcmp(format, "json") == 0;
    if (tls_cert)
        snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", tls_cert);
    if (tls_key)
        snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", tls_key);
    if (!cfg.tls_cert[0] != !cfg.tls_key[0]) {
        fprintf(stderr, "berthd: TLS needs both a certificate and a key\n");
        config_free(&cfg);
        return 2;
    }
    if (htpasswd) {
        if (!cfg.auth)
            cfg.auth = json_object();
        json_object_set_new(cfg.auth, "htpasswd", json_string(htpasswd));
    }
    log_setup(cfg.log_level, cfg.log_json);
    int rc = server_run(&cfg);
    config_free(&cfg);
    return rc;
}

static int cmd_htpasswd(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: berthd htpasswd FILE USER   (password on standard input)\n");
        return 2;
    }
    char password[1024];
    if (!fgets(password, sizeof password, stdin)) {
        fprintf(stderr, "berthd: no password on standard input\n");
        return 1;
    }
    password[strcspn(password, "\r\n")] = '\0';
    struct berr err = {0};
    int rc = htpasswd_set(argv[1], argv[2], password, &err);
    OPENSSL_cleanse(password, sizeof password);
    if (rc < 0) {
        fprintf(stderr, "berthd: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "htpasswd") == 0)
        return cmd_htpasswd(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        fprintf(stderr, "berthd: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return cmd_serve(argc, argv);
}
