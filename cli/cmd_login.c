/*
 * cmd_login.c - berth login [-u USER] [-p PASS | --password-stdin] REGISTRY,
 * berth logout REGISTRY. Credentials go to ~/.config/berth/auth.json (0600).
 */
#include "builtin.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static bool read_line(const char *prompt, bool echo, char *out, size_t len)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO);
    if (tty) {
        fprintf(stderr, "%s", prompt);
        if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= (tcflag_t)~ECHO;
            tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
        }
    }
    bool ok = fgets(out, (int)len, stdin) != NULL;
    if (tty && !echo) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok;
}

int cmd_login(struct cli *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"username", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"password-stdin", no_argument, NULL, 's'},
        {0},
    };
    char user[256] = "", pass[512] = "";
    bool from_stdin = false;
    int c;
    while ((c = getopt_long(argc, argv, "u:p:", opts, NULL)) != -1) {
        if (c == 'u')
            snprintf(user, sizeof user, "%s", optarg);
        else if (c == 'p')
            snprintf(pass, sizeof pass, "%s", optarg);
        else if (c == 's')
            from_stdin = true;
        else
            return 2;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: berth login [-u USER] [--password-stdin] REGISTRY\n");
        return 2;
    }
    const char *registry = argv[optind];
    if (!user[0] && !read_line("Username: ", true, user, sizeof user)) {
        fprintf(stderr, "berth login: a username is required\n");
        return 1;
    }
    if (!pass[0] && !read_line(from_stdin ? "" : "Password: ", false, pass, sizeof pass)) {
        fprintf(stderr, "berth login: a password is required\n");
        return 1;
    }
    struct berth_client *cl;
    if (cli_client(g, &cl) != 0)
        return 1;
    struct berr err = {0};
    int rc = berth_login(cl, registry, user, pass, &err);
    OPENSSL_cleanse(pass, sizeof pass);
    berth_client_free(cl);
    if (rc < 0)
        return cli_fail("login", &err);
    printf("Login Succeeded\n");
    return 0;
}

int cmd_logout(struct cli *g, int argc, char **argv)
{
    (void)g;
    if (argc != 2) {
        fprintf(stderr, "usage: berth logout REGISTRY\n");
        return 2;
    }
    struct berr err = {0};
    if (berth_logout(argv[1], &err) < 0)
        return cli_fail("logout", &err);
    printf("Removing login credentials for %s\n", argv[1]);
    return 0;
}
