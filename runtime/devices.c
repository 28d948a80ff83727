/*
 * devices.c - which device nodes a container may open: docker's default
 * rules (runc's AllowedDevices), applied to a container's cgroup.
 *
 * A container keeps CAP_MKNOD (docker's set), and an image layer may ship
 * device nodes, so the node's existence proves nothing: the kernel's device
 * cgroup check at open(2) is what keeps a container away from the host's
 * disks and memory. Everything is denied except the few character devices
 * every program expects (null, zero, full, random, urandom, tty, ptmx and the
 * pts/ terminals; not net/tun, which runc also allows), plus mknod(2) of any
 * node (but no access to it) so that image builds that create nodes work.
 *
 * cgroup v1 says so in the devices controller's devices.deny/allow files;
 * cgroup v2 has no such files, the rules are a BPF_PROG_TYPE_CGROUP_DEVICE
 * program attached to the cgroup (as crun and runc do), written here as
 * raw instructions and loaded with bpf(2). With BPF_F_ALLOW_MULTI the
 * program of every ancestor cgroup runs too, so nothing below can widen it.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ANY (-1)

static const struct dev_rule {
    char type;               /* 'c' or 'b' */
    int major, minor;        /* ANY: every number */
    const char *access;      /* of "rwm" */
} allowed[] = {
    {'c', ANY, ANY, "m"}, {'b', ANY, ANY, "m"},
    {'c', 1, 3, "rwm"},      /* null */
    {'c', 1, 8, "rwm"},      /* random */
    {'c', 1, 7, "rwm"},      /* full */
    {'c', 5, 0, "rwm"},      /* tty */
    {'c', 1, 5, "rwm"},      /* zero */
    {'c', 1, 9, "rwm"},      /* urandom */
    {'c', 136, ANY, "rwm"},  /* pts/N */
    {'c', 5, 2, "rwm"},      /* ptmx */
};
#define NALLOWED (sizeof allowed / sizeof *allowed)

/* ---- cgroup v1 ------------------------------------------------------------------ */

static int write_rule(const char *dir, const char *file, const char *rule, struct berr *err)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, rule, strlen(rule)) != (ssize_t)strlen(rule)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return berr_set(err, BERR_IO, "cannot write '%s' to %s: %s", rule, path, strerror(e));
    }
    close(fd);
    return 0;
}

static int limit_v1(const char *dir, struct berr *err)
{
    int rc = write_rule(dir, "devices.deny", "a", err);
    for (size_t i = 0; rc == 0 && i < NALLOWED; i++) {
        const struct dev_rule *r = &allowed[i];
        char rule[64], major[16] = "*", minor[16] = "*";
        if (r->major != ANY)
            snprintf(major, sizeof major, "%d", r->major);
        if (r->minor != ANY)
            snprintf(minor, sizeof minor, "%d", r->minor);
        snprintf(rule, sizeof rule, "%c %s:%s %s", r->type, major, minor, r->access);
        rc = write_rule(dir, "devices.allow", rule, err);
    }
    return rc;
}

/* ---- cgroup v2: the program ------------------------------------------------------- */

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), \
                                               .off = (o), .imm = (i)})
#define LDX_W(d, s, o)    INSN(BPF_LDX | BPF_W | BPF_MEM, d, s, o, 0)
#define ALU_IMM(op, d, i) INSN(BPF_ALU | BPF_K | (op), d, 0, 0, i)
#define MOV_REG(d, s)     INSN(BPF_ALU | BPF_X | BPF_MOV, d, s, 0, 0)
#define JNE_IMM(d, i, o)  INSN(BPF_JMP | BPF_K | BPF_JNE, d, 0, o, i)
#define MOV_IMM(d, i)     INSN(BPF_ALU64 | BPF_K | BPF_MOV, d, 0, 0, i)
#define EXIT()            INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* The longest program: 6 loads, 8 instructions a rule, 2 to deny. */
#define PROGRAM_MAX (8 + 8 * NALLOWED)

/* The program, into `p` (PROGRAM_MAX long): r2 = device type,
 * r3 = access wanted, r4 = major, r5 = minor; each rule falls through to
 * the next unless all of its conditions hold, then 1 (allow); at the end,
 * 0 (deny). */
static size_t program(struct bpf_insn *p)
{
    size_t n = 0;
    p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    p[n++] = ALU_IMM(BPF_AND, BPF_REG_2, 0xffff);
    p[n++] = LDX_W(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
    p[n++] = ALU_IMM(BPF_RSH, BPF_REG_3, 16);
    p[n++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
    p[n++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));
    for (size_t i = 0; i < NALLOWED; i++) {
        const struct dev_rule *r = &allowed[i];
        int access = 0;
        for (const char *a = r->access; *a; a++)
            access |= *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE
                                                                 : BPF_DEVCG_ACC_MKNOD;
        struct bpf_insn *jumps[4];
        size_t nj = 0;
        jumps[nj++] = &p[n];
        p[n++] = JNE_IMM(BPF_REG_2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR
                                                   : BPF_DEVCG_DEV_BLOCK, 0);
        /* every access asked for must be in the rule's */
        p[n++] = MOV_REG(BPF_REG_1, BPF_REG_3);
        p[n++] = ALU_IMM(BPF_AND, BPF_REG_1, ~access);
        jumps[nj++] = &p[n];
        p[n++] = JNE_IMM(BPF_REG_1, 0, 0);
        if (r->major != ANY) {
            jumps[nj++] = &p[n];
            p[n++] = JNE_IMM(BPF_REG_4, r->major, 0);
        }
        if (r->minor != ANY) {
            jumps[nj++] = &p[n];
            p[n++] = JNE_IMM(BPF_REG_5, r->minor, 0);
        }
        p[n++] = MOV_IMM(BPF_REG_0, 1);
        p[n++] = EXIT();
        for (size_t j = 0; j < nj; j++)   /* to the first instruction after the rule */
            jumps[j]->off = (short)(n - (size_t)(jumps[j] - p) - 1);
    }
    p[n++] = MOV_IMM(BPF_REG_0, 0);
    p[n++] = EXIT();
    return n;
}

static int limit_v2(const char *dir, struct berr *err)
{
    struct bpf_insn insns[PROGRAM_MAX];
    char log[4096] = "";
    union bpf_attr load = {0};
    load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insns = (uintptr_t)insns;
    load.insn_cnt = (unsigned)program(insns);
    load.license = (uintptr_t)"Apache";
    int prog = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
    if (prog < 0) {   /* again, for the verifier's word on why */
        int e = errno;
        load.log_buf = (uintptr_t)log;
        load.log_size = sizeof log;
        load.log_level = 1;
        int again = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
        if (again >= 0) {   /* a passing fault: the first error stands alone */
            close(again);
            *log = '\0';
        }
        size_t n = strlen(log);   /* the verifier's last words say why */
        return berr_set(err, BERR_IO, "cannot load the device cgroup program: %s%s%s",
                        strerror(e), n ? ": " : "", log + (n > 300 ? n - 300 : 0));
    }
    int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    union bpf_attr attach = {0};
    attach.target_fd = (unsigned)cg;
    attach.attach_bpf_fd = (unsigned)prog;
    attach.attach_type = BPF_CGROUP_DEVICE;
    attach.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = cg < 0 ? -1 : (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach);
    int e = errno;
    /* the cgroup holds the program from now on */
    close(prog);
    if (cg >= 0)
        close(cg);
    if (rc < 0)
        return berr_set(err, BERR_IO, "cannot attach the device cgroup program to %s: %s",
                        dir, strerror(e));
    return 0;
}

int cgroup_devices_limit(const char *dir, struct berr *err)
{
    struct statfs fs;
    if (statfs(dir, &fs) < 0)
        return berr_set(err, BERR_IO, "cannot restrict devices in %s: %s", dir,
                        strerror(errno));
    if (fs.f_type == CGROUP2_SUPER_MAGIC)
        return limit_v2(dir, err);
    if (fs.f_type == CGROUP_SUPER_MAGIC)
        return limit_v1(dir, err);
    return berr_set(err, BERR_IO, "cannot restrict devices in %s: not a cgroup", dir);
}
