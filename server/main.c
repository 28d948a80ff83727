/*
 * main.c - the berthd command: `berthd [serve] [flags]`.
 *
 * Settings come from embedded defaults, then --config FILE, then BERTH_*
 * environment variables, then the flags below, each overriding the last.
 */
#include "server.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: berthd [serve] [options]\n"
            "\n"
            "  -c, --config FILE     JSON configuration file\n"
            "  -l, --listen ADDR:PORT address to serve on (default 0.0.0.0:5000)\n"
            "  -r, --root DIR        data directory (default ./data)\n"
            "      --log-level LEVEL debug, info, warn or error\n"
            "      --log-format FMT  text or json\n"
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
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    const char *config_file = NULL, *listen = NULL, *root = NULL;
    const char *level = NULL, *format = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:l:r:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_file = optarg; break;
        case 'l': listen = optarg; break;
        case 'r': root = optarg; break;
        case 'L': level = optarg; break;
        case 'F': format = optarg; break;
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
    log_setup(cfg.log_level, cfg.log_json);
    return server_run(&cfg);
}

int main(int argc, char **argv)
{
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
