/*
 * test_runtime.c - the runtime's pure parts: docker's -p, -v, --memory,
 * --cpus and --log-opt syntaxes, good and bad, how a container's process
 * is put together from its Config (Entrypoint + Cmd, Env overrides, PATH
 * and TERM defaults, exec's own argv, env, directory and user), and image
 * configs of the wrong shape refused before anything reads them; and, as
 * root, docker's device rules on a real cgroup of each kind this host has
 * (the v1 devices controller, and a cgroup2 hierarchy, where the rules are
 * a BPF program): a process in it may open /dev/null and make any node,
 * but not open a block device or another char device it made.
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
    assert_false(p.random);
    /* no host port: a random one */
    const char *random[] = {"80", "80/tcp", ":80", "127.0.0.1::80", "::80"};
    for (size_t i = 0; i < sizeof random / sizeof *random; i++) {
        assert_int_equal(rt_port_parse(random[i], &p, &err), 0);
        assert_true(p.random);
        assert_int_equal(p.host_port, 0);
        assert_int_equal(p.ctr_port, 80);
        assert_string_equal(p.host_ip, strncmp(random[i], "127", 3) == 0 ? "127.0.0.1"
                                                                         : "0.0.0.0");
    }
    const char *bad[] = {"", ":", "0", "70000", "abc", "80:", "0:80", "80:0", "65536:80",
                         "80:65536", "a:80", "80:b", "1.2.3:80:80", "x:80:80", "80:80/udp",
                         "80:80/", "-1:80", "8080:80 ", "1.2.3.4.5::80", "1:2:3:80", "::1::80",
                         "8000-8001:80", "+80", " 80", "99999999999999999999999:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(&err, 0, sizeof err);
        if (rt_port_parse(bad[i], &p, &err) == 0)
            fail_msg("rt_port_parse took \"%s\"", bad[i]);
        assert_true(err.msg[0] != '\0');
    }
}

static void test_ports_json(void **state)
{
    (void)state;
    struct rt_port ports[4];
    struct berr err = {0};
    size_t n = 2;
    assert_int_equal(rt_port_parse("127.0.0.1:8080:80", &ports[0], &err), 0);
    assert_int_equal(rt_port_parse("90", &ports[1], &err), 0);
    ports[1].host_port = 40000;   /* as ports_listen chose it */
    json_t *exposed = json_pack("{s:{},s:{},s:{}}", "80/tcp", "53/udp", "6000/tcp");
    assert_int_equal(ports_publish_all(ports, &n, 4, exposed, &err), 0);
    assert_int_equal(n, 3);   /* 6000 only: 80 is published, 53 is udp */
    assert_int_equal(ports[2].ctr_port, 6000);
    assert_true(ports[2].random && ports[2].publish_all);
    ports[2].host_port = 40001;
    json_t *b = ports_json(ports, n, true), *s = ports_json(ports, n, false);
    char *bt = json_dumps(b, JSON_SORT_KEYS | JSON_COMPACT), *st = json_dumps(s, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(bt, "{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}],"
                            "\"90/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"\"}]}");
    assert_string_equal(st, "{\"6000/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"40001\"}],"
                            "\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}],"
                            "\"90/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"40000\"}]}");
    free(bt);
    free(st);
    json_decref(b);
    json_decref(s);
    /* no room: refused */
    json_object_set_new(exposed, "7000/tcp", json_object());
    json_object_set_new(exposed, "7001/tcp", json_object());
    assert_true(ports_publish_all(ports, &n, 4, exposed, &err) < 0);
    json_decref(exposed);
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
    /* a name is a named volume's (host is the name until it is made); :z
     * and :Z are taken, with ro or rw */
    assert_int_equal(rt_volume_parse("named:/data:Z,ro", &v, &err), 0);
    assert_string_equal(v.host, "named");
    assert_true(v.ro);
    free(v.host);
    free(v.ctr);
    assert_int_equal(rt_volume_parse("/a:/b:z", &v, &err), 0);
    assert_false(v.ro);
    free(v.host);
    free(v.ctr);
    const char *bad[] = {"", "/a", "/a:", ":/b", "r/el:/b", "../x:/b", "n:/b", "/a:rel", "/a:/",
                         "/a:/b:bogus", "/a:/b:ro:x", "/a:/b:ro,rw", "/a:/b:z,Z", "/a:/b:"};
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
    /* docker's order: its PATH (the image has none) and, on a tty, TERM,
     * then the image's variables */
    assert_non_null(strstr(p.env[0], "PATH=/usr/local/sbin"));
    assert_string_equal(p.env[1], "TERM=xterm");
    assert_string_equal(p.env[2], "A=1");
    assert_string_equal(p.env[3], "B=2");
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
    assert_string_equal(p.env[2], "B=3");
    assert_string_equal(p.env[3], "C=4");
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

static void test_log_opt_parse(void **state)
{
    (void)state;
    static const struct {
        const char *opt;
        int64_t size;
        int files;
    } good[] = {
        {"max-size=10k", 10000, 0}, {"max-size=10m", 10000000, 0},
        {"max-size=1g", 1000000000, 0}, {"max-size=1.5m", 1500000, 0},
        {"max-size=64KB", 64000, 0}, {"max-size=64kib", 64000, 0},
        {"max-size=100b", 100, 0}, {"max-size=2048", 2048, 0}, {"max-size=10 m", 10000000, 0},
        {"max-file=1", 0, 1}, {"max-file=3", 0, 3}, {"max-file=10000", 0, 10000},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        struct rt_run_opts o = {0};
        struct berr err = {0};
        if (rt_log_opt_parse(good[i].opt, &o, &err) != 0)
            fail_msg("rt_log_opt_parse refused \"%s\": %s", good[i].opt, err.msg);
        assert_int_equal(o.log_max_size, good[i].size);
        assert_int_equal(o.log_max_file, good[i].files);
    }
    const char *bad[] = {"max-size=abc", "max-size=0", "max-size=-1", "max-size=10x",
                         "max-size=", "max-size= 10k", "max-size=k", "max-size=0.1b",
                         "max-size=10kk", "max-size=99999999999p", "max-file=0", "max-file=x",
                         "max-file=-2", "max-file=1.5", "max-file=", "max-file=10001",
                         "max-file= 3", "max-size", "max-file", "compress=true", "bogus=1",
                         "=1", "", "MAX-SIZE=1m"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct rt_run_opts o = {0};
        struct berr err = {0};
        if (rt_log_opt_parse(bad[i], &o, &err) == 0)
            fail_msg("rt_log_opt_parse took \"%s\"", bad[i]);
        assert_non_null(strstr(err.msg, "log opt"));
        assert_null(strchr(err.msg, '\n'));
    }
}

/* Every shape of a malformed image config is refused with one line that
 * names the field; a good one, and null fields, pass. */
static void test_image_config_check(void **state)
{
    (void)state;
    static const char good[] =
        "{\"architecture\": \"amd64\", \"os\": \"linux\", \"created\": \"2024-01-01T00:00:00Z\","
        " \"config\": {\"Env\": [\"PATH=/bin\"], \"Entrypoint\": [\"/bin/sh\"],"
        " \"Cmd\": [\"-c\", \"true\"], \"User\": \"app\", \"WorkingDir\": \"/app\","
        " \"ExposedPorts\": {\"80/tcp\": {}}, \"Volumes\": {\"/data\": {}},"
        " \"Labels\": {\"a\": \"b\"}, \"StopSignal\": \"SIGINT\", \"ArgsEscaped\": true,"
        " \"Shell\": [\"/bin/sh\", \"-c\"], \"OnBuild\": null,"
        " \"Healthcheck\": {\"Test\": [\"CMD\", \"true\"], \"Interval\": 5000000000}},"
        " \"rootfs\": {\"type\": \"layers\", \"diff_ids\": [\"sha256:" 
        "0000000000000000000000000000000000000000000000000000000000000000\"]},"
        " \"history\": [{\"created\": \"2024-01-01T00:00:00Z\", \"created_by\": \"x\","
        " \"empty_layer\": false}]}";
    struct berr err = {0};
    json_t *image = json_loads(good, 0, NULL);
    assert_non_null(image);
    if (rt_image_config_check(image, &err) != 0)
        fail_msg("the good config was refused: %s", err.msg);
    /* null is absent, as for docker's decoder; so is no config at all */
    static const char *const nullable[] = {"Env", "Entrypoint", "Cmd", "User", "WorkingDir",
                                           "ExposedPorts", "Volumes", "Labels", "StopSignal",
                                           "Healthcheck", "Shell"};
    json_t *cfg = json_object_get(image, "config");
    for (size_t i = 0; i < sizeof nullable / sizeof *nullable; i++)
        json_object_set_new(cfg, nullable[i], json_null());
    assert_int_equal(rt_image_config_check(image, &err), 0);
    json_object_del(image, "config");
    assert_int_equal(rt_image_config_check(image, &err), 0);
    /* nor are the optional top-level fields needed */
    static const char *const optional[] = {"created", "architecture", "os", "history"};
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++)
        json_object_del(image, optional[i]);
    json_object_del(json_object_get(image, "rootfs"), "type");
    if (rt_image_config_check(image, &err) != 0)
        fail_msg("a config without its optional fields was refused: %s", err.msg);
    json_decref(image);

    static const struct {
        const char *path;    /* "config.Env", "rootfs.diff_ids", "created", "config" */
        const char *value;   /* JSON */
    } bad[] = {
        {"config.Env", "[null]"}, {"config.Env", "[5]"}, {"config.Env", "[\"A=1\", {}]"},
        {"config.Env", "\"PATH=/bin\""}, {"config.Env", "{}"},
        {"config.Entrypoint", "[1]"}, {"config.Entrypoint", "\"sh\""},
        {"config.Entrypoint", "[null]"}, {"config.Cmd", "{}"}, {"config.Cmd", "[[\"sh\"]]"},
        {"config.Cmd", "true"}, {"config.User", "5"}, {"config.User", "[\"root\"]"},
        {"config.WorkingDir", "[]"}, {"config.WorkingDir", "0"},
        {"config.ExposedPorts", "[\"80/tcp\"]"}, {"config.ExposedPorts", "{\"80/tcp\": 5}"},
        {"config.ExposedPorts", "\"80\""}, {"config.Volumes", "\"/data\""},
        {"config.Volumes", "{\"/data\": \"x\"}"}, {"config.Volumes", "[\"/data\"]"},
        {"config.Labels", "{\"a\": 1}"}, {"config.Labels", "[\"a=b\"]"},
        {"config.Labels", "{\"a\": null}"}, {"config.StopSignal", "15"},
        {"config.ArgsEscaped", "\"yes\""}, {"config.Shell", "\"sh\""}, {"config.OnBuild", "[1]"},
        {"config.StopTimeout", "\"10\""}, {"config.Healthcheck", "\"CMD true\""},
        {"config.Healthcheck", "{\"Test\": [1]}"}, {"config.Healthcheck", "{\"Retries\": \"3\"}"},
        {"config", "\"x\""}, {"config", "[1]"}, {"config", "5"},
        {"rootfs", "null"}, {"rootfs", "[]"}, {"rootfs.type", "1"}, {"rootfs.diff_ids", "null"},
        {"rootfs.diff_ids", "[1]"}, {"rootfs.diff_ids", "\"sha256:00\""},
        {"history", "{}"}, {"history", "[5]"}, {"history", "[{\"created\": 1}]"},
        {"history", "[{\"empty_layer\": \"no\"}]"}, {"created", "5"}, {"os", "[\"linux\"]"},
        {"architecture", "{}"}, {"author", "1"}, {"variant", "[]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        image = json_loads(good, 0, NULL);
        json_t *value = json_loads(bad[i].value, JSON_DECODE_ANY, NULL);
        assert_non_null(value);
        char path[64];
        snprintf(path, sizeof path, "%s", bad[i].path);
        char *dot = strchr(path, '.');
        json_t *parent = image;
        if (dot) {
            *dot = '\0';
            parent = json_object_get(image, path);
        }
        json_object_set_new(parent, dot ? dot + 1 : path, value);
        memset(&err, 0, sizeof err);
        if (rt_image_config_check(image, &err) == 0)
            fail_msg("rt_image_config_check took %s = %s", bad[i].path, bad[i].value);
        if (!strstr(err.msg, bad[i].path) || strncmp(err.msg, "invalid image config: ", 22))
            fail_msg("%s = %s: the message does not name the field: %s", bad[i].path,
                     bad[i].value, err.msg);
        assert_null(strchr(err.msg, '\n'));
        json_decref(image);
    }
    /* not an object at all */
    json_t *array = json_array();
    assert_int_not_equal(rt_image_config_check(array, &err), 0);
    json_decref(array);
    assert_int_not_equal(rt_image_config_check(NULL, &err), 0);
}

/* The state's Config is checked again: no NULL in argv or env, ever. */
static void test_process_from_bad_config(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"Cmd\": [\"true\"], \"Env\": [null]}",
        "{\"Cmd\": [\"true\"], \"Env\": [5]}",
        "{\"Entrypoint\": [1], \"Cmd\": [\"true\"]}",
        "{\"Cmd\": [\"echo\", null]}",
        "{\"Cmd\": {}}",
        "{\"Cmd\": \"true\"}",
        "{\"Cmd\": [\"true\"], \"User\": 5}",
        "{\"Cmd\": [\"true\"], \"WorkingDir\": []}",
        "{\"Cmd\": [\"true\"], \"Tty\": \"yes\"}",
        "[\"true\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *config = json_loads(bad[i], 0, NULL);
        assert_non_null(config);
        struct rt_process p;
        struct berr err = {0};
        if (rt_process_from(config, NULL, &p, &err) == 0)
            fail_msg("rt_process_from took %s", bad[i]);
        assert_true(err.msg[0] != '\0');
        json_decref(config);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_parse),
        cmocka_unit_test(test_ports_json),
        cmocka_unit_test(test_volume_parse),
        cmocka_unit_test(test_size_and_cpus),
        cmocka_unit_test(test_process_from_config),
        cmocka_unit_test(test_device_rules),
        cmocka_unit_test(test_log_opt_parse),
        cmocka_unit_test(test_image_config_check),
        cmocka_unit_test(test_process_from_bad_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
