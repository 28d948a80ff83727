/*
 * main.c - the berthd command:
 *
 *   berthd [serve] [options]          run the registry
 *   berthd gc [options]               collect garbage, while berthd serves or not
 *   berthd du [options]               bytes per repository
 *   berthd fsck [--dry-run] [options] re-hash every blob, quarantine bad ones
 *   berthd check-config --config FILE [--user USER]
 *                                     check a configuration (as USER) and exit
 *   berthd htpasswd FILE USER         add or change a user (password on stdin)
 *
 * Settings come from embedded defaults, then --config FILE, then BERTH_*
 * environment variables, then the flags, each overriding the last.
 */
#include "../auth/auth.h"
#include "../common/version.h"
#include "http.h"
#include "server.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berthd [serve] [options]\n"
            "       berthd gc [--config FILE|--root DIR] [--dry-run] [--delete-untagged] [--grace DURATION]\n"
            "       berthd du [--config FILE|--root DIR]\n"
            "       berthd fsck [--config FILE|--root DIR] [--dry-run]\n"
            "       berthd check-config --config FILE [--user USER]\n"
            "       berthd --version\n"
            "       berthd htpasswd FILE USER   (password on standard input)\n"
            "\n"
            "  -c, --config FILE      JSON configuration file\n"
            "  -l, --listen ADDR:PORT address to serve on (default 0.0.0.0:5000)\n"
            "  -r, --root DIR         data directory (default ./data)\n"
            "      --log-level LEVEL  debug, info, warn or error\n"
            "      --log-format FMT   text or json\n"
            "      --htpasswd FILE    require Basic auth for the users in FILE\n"
            "      --tls-cert FILE    serve HTTPS with this PEM certificate (chain)\n"
            "      --tls-key FILE     and this PEM private key\n"
            "      --user USER        check-config: check as this user (the service's)\n"
            "  -V, --version          the version\n"
            "  -h, --help             this text\n");
}

enum { OPT_LOG_LEVEL = 256, OPT_LOG_FORMAT, OPT_HTPASSWD, OPT_TLS_CERT, OPT_TLS_KEY,
       OPT_DRY_RUN, OPT_UNTAGGED, OPT_GRACE, OPT_USER };

struct flags {
    const char *config, *listen, *root, *level, *format, *htpasswd, *tls_cert, *tls_key;
    const char *grace, *user;
    bool dry_run, untagged;
};

static int parse_flags(int argc, char **argv, struct flags *f)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"root", required_argument, NULL, 'r'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"htpasswd", required_argument, NULL, OPT_HTPASSWD},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"delete-untagged", no_argument, NULL, OPT_UNTAGGED},
        {"grace", required_argument, NULL, OPT_GRACE},
        {"user", required_argument, NULL, OPT_USER},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:l:r:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': f->config = optarg; break;
        case 'l': f->listen = optarg; break;
        case 'r': f->root = optarg; break;
        case OPT_LOG_LEVEL: f->level = optarg; break;
        case OPT_LOG_FORMAT: f->format = optarg; break;
        case OPT_HTPASSWD: f->htpasswd = optarg; break;
        case OPT_TLS_CERT: f->tls_cert = optarg; break;
        case OPT_TLS_KEY: f->tls_key = optarg; break;
        case OPT_DRY_RUN: f->dry_run = true; break;
        case OPT_UNTAGGED: f->untagged = true; break;
        case OPT_GRACE: f->grace = optarg; break;
        case OPT_USER: f->user = optarg; break;
        case 'V': printf("berthd %s\n", BERTH_VERSION); return 1;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "berthd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* Defaults, file, environment, then flags. */
static int load_config(const struct flags *f, struct config *cfg, struct berr *err)
{
    if (config_load(cfg, f->config, err) < 0)
        return -BERR_INVALID;
    if (f->listen)
        snprintf(cfg->listen, sizeof cfg->listen, "%s", f->listen);
    if (f->root)
        snprintf(cfg->root, sizeof cfg->root, "%s", f->root);
    bool ok = true;
    if (f->level)
        cfg->log_level = log_level_parse(f->level, &ok);
    if (!ok)
        return berr_set(err, BERR_INVALID, "--log-level: '%s' is not debug, info, warn or error",
                        f->level);
    if (f->format && strcmp(f->format, "json") != 0 && strcmp(f->format, "text") != 0)
        return berr_set(err, BERR_INVALID, "--log-format: '%s' is not text or json", f->format);
    if (f->format)
        cfg->log_json = strcmp(f->format, "json") == 0;
    if (f->tls_cert)
        snprintf(cfg->tls_cert, sizeof cfg->tls_cert, "%s", f->tls_cert);
    if (f->tls_key)
        snprintf(cfg->tls_key, sizeof cfg->tls_key, "%s", f->tls_key);
    if (!cfg->tls_cert[0] != !cfg->tls_key[0])
        return berr_set(err, BERR_INVALID, "TLS needs both a certificate and a key");
    if (f->htpasswd) {
        if (!cfg->auth)
            cfg->auth = json_object();
        json_object_set_new(cfg->auth, "htpasswd", json_string(f->htpasswd));
    }
    if (f->grace && duration_parse(f->grace, &cfg->gc.grace) < 0)
        return berr_set(err, BERR_INVALID, "--grace: '%s' is not a duration (like 90s, 15m, 2h)",
                        f->grace);
    if (f->untagged)
        cfg->gc.delete_untagged = true;
    return config_validate(cfg, err);
}

/* For SIGHUP: the same flags, the file and environment read again. */
static int reload_config(void *arg, struct config *out, struct berr *err)
{
    return load_config(arg, out, err);
}

/* check-config --user: become the service user before anything is read,
 * so every file is opened with exactly the rights berthd will have. */
static int become_user(const char *name)
{
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        fprintf(stderr, "berthd: --user: no user '%s'\n", name);
        return -1;
    }
    if (pw->pw_uid == geteuid())
        return 0;
    if (initgroups(name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
        fprintf(stderr, "berthd: --user %s: %s (run check-config as root to check as another user)\n",
                name, strerror(errno));
        return -1;
    }
    return 0;
}

static int check_readable(const char *what, const char *file)
{
    FILE *fp = fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "berthd: %s: cannot read %s: %s\n", what, file, strerror(errno));
        return -1;
    }
    fclose(fp);
    return 0;
}

/* berthd check-config: everything serve would refuse at start-up, without
 * creating or changing anything. */
static int check_config(const struct config *cfg, const char *user)
{
    struct berr err = {0};
    if (auth_check_config(cfg->auth, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err.msg);
        return 2;
    }
    struct proxy *proxy = NULL;
    if (proxy_open(cfg->proxy, &proxy, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err.msg);
        return 2;
    }
    proxy_close(proxy);
    if ((cfg->tls_cert[0] && check_readable("tls.cert", cfg->tls_cert) < 0) ||
        (cfg->tls_key[0] && check_readable("tls.key", cfg->tls_key) < 0))
        return 2;
    /* The data directory. One that does not exist yet is made at the
     * start (by systemd's StateDirectory=, or by berthd where it may). */
    struct stat st;
    if (stat(cfg->root, &st) == 0 && access(cfg->root, R_OK | W_OK | X_OK) != 0) {
        fprintf(stderr, "berthd: root: %s is not a directory berthd may write to: %s\n",
                cfg->root, strerror(errno));
        return 2;
    }
    if (!user && geteuid() == 0)
        fprintf(stderr, "berthd: checked as root; add --user berthd to check what the service "
                        "user can read\n");
    printf("configuration ok\n");
    return 0;
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
    const char *cmd = "serve";
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("berthd %s\n", BERTH_VERSION);
        return 0;
    }
    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        argc--, argv++;
    }
    if (strcmp(cmd, "htpasswd") == 0)
        return cmd_htpasswd(argc, argv);
    if (strcmp(cmd, "serve") != 0 && strcmp(cmd, "gc") != 0 && strcmp(cmd, "du") != 0 &&
        strcmp(cmd, "fsck") != 0 && strcmp(cmd, "check-config") != 0) {
        fprintf(stderr, "berthd: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    struct flags f = {0};
    int rc = parse_flags(argc, argv, &f);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (f.user && strcmp(cmd, "check-config") != 0) {
        fprintf(stderr, "berthd: --user is for check-config (the unit sets serve's user)\n");
        return 2;
    }
    if (f.user && become_user(f.user) < 0)
        return 2;
    struct config cfg;
    struct berr err = {0};
    if (load_config(&f, &cfg, &err) < 0) {
        fprintf(stderr, "berthd: %s\n", err.msg);
        config_free(&cfg);
        return 2;
    }
    log_setup(cfg.log_level, cfg.log_json);
    if (strcmp(cmd, "gc") == 0)
        rc = cmd_gc(&cfg, f.dry_run);
    else if (strcmp(cmd, "du") == 0)
        rc = cmd_du(&cfg);
    else if (strcmp(cmd, "fsck") == 0)
        rc = cmd_fsck(&cfg, f.dry_run);
    else if (strcmp(cmd, "check-config") == 0)
        rc = check_config(&cfg, f.user);
    else
        rc = server_run(&cfg, reload_config, &f);
    config_free(&cfg);
    return rc;
}
