/*
 * test_runtime.c - the runtime's pure parts: docker's -p, -v, --memory and
 * --cpus syntaxes, good and bad, and how a container's process is put
 * together from its Config (Entrypoint + Cmd, Env overrides, PATH and
 * TERM defaults, exec's own argv, env, directory and user); and, as root,
 * docker's device rules on a real cgroup of each kind this host has (the v1
 * devices controller, and a cgroup2 hierarchy, where the rules are a BPF
 * program): a process in it may open /dev/null and make any node, but not
 * open a block device or another char device it made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/internal.h"

static void test_port_parse(void **state)
{
    (void)state;
    struct rt_port p;
    struct berr err = {0};
    assert_int_equal(rt_port_parse("8080:80", &p, &err), 0);
    assert_string_equal(p.host_ip, "0.0.0.0");
    assert_int_equal(p.host_port, 8080);
    assert_int_equal(p.ctr_port, 80);
    assert_int_equal(rt_port_parse("127.0.0.1:5000:5001/tcp", &p, &err), 0);
    assert_string_equal(p.host_ip, "127.0.0.1");
    assert_int_equal(p.host_port, 5000);
    assert_int_equal(p.ctr_port, 5001);
    const char *bad[] = {"80", "", ":", "0:80", "80:0", "65536:80", "80:65536", "a:80",
                         "80:b", "1.2.3:80:80", "x:80:80", "80:80/udp", "80:80/", "-1:80",
                         "8080:80 "};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        if (rt_port_parse(bad[i], &p, &err) == 0)
            fail_msg("rt_port_parse took \"%s\"", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
}

static void test_volume_parse(void **state)
{
    (void)state;
    struct rt_volume v;
    struct berr err = {0};
    assert_int_equal(rt_volume_parse("/srv/data:/data", &v, &err), 0);
    assert_string_equal(v.host, "/srv/data");
    assert_string_equal(v.ctr, "/data");
    assert_false(v.ro);
    free(v.host);
    free(v.ctr);
    assert_int_equal(rt_volume_parse("/a:/b:ro", &v, &err), 0);
    assert_true(v.ro);
    free(v.host);
    free(v.ctr);
    assert_int_equal(rt_volume_parse("/a:/b:rw", &v, &err), 0);
    assert_false(v.ro);
    free(v.host);
    free(v.ctr);
    const char *bad[] = {"", "/a", "/a:", ":/b", "rel:/b", "/a:rel", "/a:/", "/a:/b:bogus",
                         "/a:/b:ro:x", "named:/data"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        if (rt_volume_parse(bad[i], &v, &err) == 0)
            fail_msg("rt_volume_parse took \"%s\"", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
}

static void test_size_and_cpus(void **state)
{
    (void)state;
    int64_t n;
    struct berr err = {0};
    assert_int_equal(rt_size_parse("64m", &n, &err), 0);
    assert_int_equal(n, 64 << 20);
    assert_int_equal(rt_size_parse("1G", &n, &err), 0);
    assert_int_equal(n, 1 << 30);
    assert_int_equal(rt_size_parse("8192k", &n, &err), 0);
    assert_int_equal(n, 8 << 20);
    assert_int_equal(rt_size_parse("10mb", &n, &err), 0);
    assert_int_equal(n, 10 << 20);
    assert_int_equal(rt_size_parse("7340032", &n, &err), 0);
    assert_int_equal(n, 7340032);
    const char *bad[] = {"", "m", "12x", "-5m", "1m", "4096", "1e30g", "64 m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (rt_size_parse(bad[i], &n, &err) == 0)
            fail_msg("rt_size_parse took \"%s\"", bad[i]);
    assert_int_equal(rt_cpus_parse("0.5", &n, &err), 0);
    assert_int_equal(n, 50000);
    assert_int_equal(rt_cpus_parse("1", &n, &err), 0);
    assert_int_equal(n, 100000);
    const char *bad_cpus[] = {"", "0", "0.001", "-1", "abc", "100000"};
    for (size_t i = 0; i < sizeof bad_cpus / sizeof *bad_cpus; i++)
        if (rt_cpus_parse(bad_cpus[i], &n, &err) == 0)
            fail_msg("rt_cpus_parse took \"%s\"", bad_cpus[i]);
}

static size_t count(char **v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

static void test_process_from_config(void **state)
{
    (void)state;
    json_t *config = json_loads(
        "{\"Entrypoint\": [\"/bin/tini\", \"--\"], \"Cmd\": [\"sh\", \"-c\", \"x\"],"
        " \"Env\": [\"A=1\", \"B=2\"], \"WorkingDir\": \"/app\", \"User\": \"app\","
        " \"Tty\": true}", 0, NULL);
    struct rt_process p;
    struct berr err = {0};
    assert_int_equal(rt_process_from(config, NULL, &p, &err), 0);
    assert_int_equal(count(p.argv), 5);
    assert_string_equal(p.argv[0], "/bin/tini");
    assert_string_equal(p.argv[4], "x");
    assert_string_equal(p.env[0], "A=1");
    assert_string_equal(p.env[1], "B=2");
    /* no PATH in the image: docker's default; a tty gets a TERM */
    assert_non_null(strstr(p.env[2], "PATH=/usr/local/sbin"));
    assert_string_equal(p.env[3], "TERM=xterm");
    assert_null(p.env[4]);
    assert_string_equal(p.cwd, "/app");
    assert_string_equal(p.user, "app");
    assert_true(p.tty);
    rt_process_free(&p);

    /* exec: its own argv; its env over the container's; its dir and user */
    char *argv[] = {"env", NULL}, *env[] = {"B=3", "C=4"};
    struct rt_exec_opts x = {.argv = argv, .env = env, .nenv = 2, .workdir = "/tmp",
                             .user = "0"};
    assert_int_equal(rt_process_from(config, &x, &p, &err), 0);
    assert_int_equal(count(p.argv), 1);
    assert_string_equal(p.argv[0], "env");
    assert_string_equal(p.env[1], "B=3");
    assert_string_equal(p.env[2], "C=4");
    assert_string_equal(p.cwd, "/tmp");
    assert_string_equal(p.user, "0");
    assert_false(p.tty);
    rt_process_free(&p);
    json_decref(config);

    /* nothing to run */
    config = json_loads("{\"Env\": [\"PATH=/bin\"]}", 0, NULL);
    assert_int_not_equal(rt_process_from(config, NULL, &p, &err), 0);
    assert_string_equal(err.msg, "no command specified");
    json_decref(config);

    /* the defaults: "/" and root */
    config = json_loads("{\"Cmd\": [\"true\"], \"Env\": [\"PATH=/bin\"]}", 0, NULL);
    assert_int_equal(rt_process_from(config, NULL, &p, &err), 0);
    assert_string_equal(p.cwd, "/");
    assert_string_equal(p.user, "");
    assert_string_equal(p.env[0], "PATH=/bin");
    assert_null(p.env[1]);
    rt_process_free(&p);
    json_decref(config);
}

/* What a process in the cgroup `dir` may do, as bits: 1 /dev/null opens,
 * 2 mknod of a block node works, 4 that node does not open (EPERM),
 * 8 a char node 1:11 made here does not open for writing (EPERM),
 * 16 a char node 1:3 made here opens. */
static int probe_in(const char *dir)
{
    char procs[512], node[64];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
    pid_t pid = fork();
    if (pid == 0) {
        char v[32];
        int fd = open(procs, O_WRONLY), bits = 0;
        snprintf(v, sizeof v, "%d", (int)getpid());
        if (fd < 0 || write(fd, v, strlen(v)) < 0)
            _exit(100);
        close(fd);
        if ((fd = open("/dev/null", O_RDWR)) >= 0)
            bits |= 1, close(fd);
        snprintf(node, sizeof node, "/tmp/berth-unit-blk-%d", (int)getpid());
        if (mknod(node, S_IFBLK | 0600, makedev(7, 0)) == 0)
            bits |= 2;
        if ((fd = open(node, O_RDONLY)) < 0 && errno == EPERM)
            bits |= 4;
        if (fd >= 0)
            close(fd);
        unlink(node);
        if (mknod(node, S_IFCHR | 0600, makedev(1, 11)) == 0 &&
            (fd = open(node, O_WRONLY)) < 0 && errno == EPERM)
            bits |= 8;
        unlink(node);
        if (mknod(node, S_IFCHR | 0600, makedev(1, 3)) == 0 &&
            (fd = open(node, O_WRONLY)) >= 0)
            bits |= 16, close(fd);
        unlink(node);
        _exit(bits);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}

static void check_rules(const char *root, long magic)
{
    struct statfs fs;
    char dir[256];
    struct berr err = {0};
    if (statfs(root, &fs) < 0 || fs.f_type != magic)
        return;
    snprintf(dir, sizeof dir, "%s/berth-unit-%d", root, (int)getpid());
    assert_int_equal(mkdir(dir, 0755), 0);
    int rc = cgroup_devices_limit(dir, &err);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", dir, err.msg);
    int bits = rc == 0 ? probe_in(dir) : -1;
    int removed = rmdir(dir);   /* before any assertion can leave it behind */
    assert_int_equal(rc, 0);
    assert_int_equal(bits, 1 | 2 | 4 | 8 | 16);
    assert_int_equal(removed, 0);
    /* not a cgroup: refused */
    assert_int_not_equal(cgroup_devices_limit("/tmp", &err), 0);
}

static void test_device_rules(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    check_rules("/sys/fs/cgroup/devices", CGROUP_SUPER_MAGIC);
    check_rules("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
    check_rules("/sys/fs/cgroup/unified", CGROUP2_SUPER_MAGIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_parse),
        cmocka_unit_test(test_volume_parse),
        cmocka_unit_test(test_size_and_cpus),
        cmocka_unit_test(test_process_from_config),
        cmocka_unit_test(test_device_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
