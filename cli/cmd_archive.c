/*
 * cmd_archive.c - berth save [-o FILE] IMAGE..., berth load [-i FILE] (standard
 * output and input without them, as docker's),
 * berth import ROOTFS.tar REF.
 */
#include "builtin.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_save(struct cli *g, int argc, char **argv)
{
    const char *file = NULL;
    int c;
    while ((c = getopt(argc, argv, "o:")) != -1) {
        if (c == 'o')
            file = optarg;
        else
            return 2;
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: berth save [-o FILE] IMAGE...\n");
        return 2;
    }
    /* without -o, standard output, as docker's */
    if (!file)
        file = "-";
    if (strcmp(file, "-") == 0 && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "berth save: cowardly refusing to save to a terminal. "
                        "Use the -o flag or redirect\n");
        return 1;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = berth_save(s, (const char *const *)argv + optind, (size_t)(argc - optind), file, &err);
    berth_store_close(s);
    return rc == 0 ? 0 : cli_fail("save", &err);
}

static int print_loaded(void *arg, const char *name)
{
    (void)arg;
    struct berth_ref ref;
    struct berr err = {0};
    char familiar[600];
    if (strncmp(name, "sha256:", 7) == 0 || berth_ref_parse(name, &ref, &err) < 0) {
        printf("Loaded image ID: %s\n", name);
        return 0;
    }
    berth_ref_familiar(&ref, familiar, sizeof familiar);
    printf("Loaded image: %s:%s\n", familiar, ref.tag);
    return 0;
}

int cmd_load(struct cli *g, int argc, char **argv)
{
    const char *file = NULL;
    int c;
    while ((c = getopt(argc, argv, "i:")) != -1) {
        if (c == 'i')
            file = optarg;
        else
            return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "usage: berth load [-i FILE]\n");
        return 2;
    }
    /* without -i, standard input, as docker's */
    if (!file)
        file = "-";
    if (strcmp(file, "-") == 0 && isatty(STDIN_FILENO)) {
        fprintf(stderr, "berth load: requested load from stdin, but stdin is empty\n");
        return 1;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    int rc = berth_load(s, file, print_loaded, NULL, &err);
    berth_store_close(s);
    return rc == 0 ? 0 : cli_fail("load", &err);
}

int cmd_import(struct cli *g, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: berth import ROOTFS.tar REF\n");
        return 2;
    }
    struct berth_store *s;
    if (cli_store(g, &s) != 0)
        return 1;
    struct berr err = {0};
    char id[DIGEST_MAX];
    int rc = berth_import(s, argv[1], argv[2], id, &err);
    berth_store_close(s);
    if (rc < 0)
        return cli_fail("import", &err);
    printf("%s\n", id);   /* as docker import: the image's ID */
    return 0;
}
