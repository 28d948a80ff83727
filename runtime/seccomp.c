/*
 * seccomp.c - the default seccomp filter, after docker's default profile.
 * docker's profile is an allow-list; the system calls it leaves out are
 * the ones below, which reach into the kernel as a whole (modules, keys,
 * clocks, reboot, bpf, mounts, new namespaces) rather than into the
 * container. They fail with EPERM, as they do under docker, so a program
 * that probes for them carries on. clone3 answers ENOSYS so that libc falls
 * back to clone, whose namespace flags can be inspected. io_uring is left
 * out as docker's current profile leaves it out (moby 25): its ring runs
 * operations in kernel workers that seccomp never sees, and it has been a
 * steady source of kernel privilege escalations.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const refused[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
    "get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount",
    "mount_setattr", "move_mount", "move_pages", "name_to_handle_at", "nfsservctl",
    "open_by_handle_at", "open_tree", "perf_event_open", "pivot_root",
    "query_module", "quotactl", "quotactl_fd", "reboot",
    "request_key", "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon",
    "syslog", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib", "userfaultfd",
    "ustat", "vm86", "vm86old",
};

static const unsigned long ns_flags[] = {
    CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
    CLONE_NEWCGROUP,
};

int seccomp_load_default(char *msg, size_t len)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    int rc = ctx ? 0 : -ENOMEM;
    /* loaded with CAP_SYS_ADMIN; no_new_privs is the caller's choice */
    if (rc == 0)
        rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
    for (size_t i = 0; rc == 0 && i < sizeof refused / sizeof *refused; i++) {
        int nr = seccomp_syscall_resolve_name(refused[i]);
        if (nr != __NR_SCMP_ERROR)   /* not every call exists on every arch */
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    for (size_t i = 0; rc == 0 && i < sizeof ns_flags / sizeof *ns_flags; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* personality: only the values docker's profile allows (0, UNAME26
     * 0x20000, 32-bit time 0x8, both, and the query 0xffffffff); the
     * others turn off address randomisation or make data executable.
     * libseccomp takes one comparison per argument and rule, so what is
     * refused is a union of bit patterns: any bit other than 0x20008 set
     * with bit 0 clear, or bit 0 set with another bit clear (which leaves
     * out the query), or anything past 32 bits. */
    for (int b = 1; rc == 0 && b < 32; b++) {
        uint64_t bit = 1ULL << b;
        if (!(bit & 0x20008))
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, bit | 1, bit));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, bit | 1, 1));
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_GT, 0xffffffffULL));
    if (rc == 0)
        rc = seccomp_load(ctx);
    if (ctx)
        seccomp_release(ctx);
    if (rc < 0)
        snprintf(msg, len, "loading the seccomp filter: %s", strerror(-rc));
    return rc < 0 ? -1 : 0;
}
