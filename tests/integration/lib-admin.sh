# tests/integration/lib-admin.sh - the service user of the administrator's
# tests (t2100-t2190), sourced after tests/lib.sh.
#
#   admin_user        # the berthd user and group, made from deploy/berthd.sysusers
#                     # with systemd-sysusers (as the docs say) when missing;
#                     # removed again at exit if this test made them
#   as_berthd CMD...  # CMD as the berthd user, its groups only (what the unit does)
#   "${AS_BERTHD[@]}" CMD... &   # the same, for a background process whose $! is CMD's
#
# $TMP is opened (0755) so the service user can reach the files under it.
admin_user() {
    chmod 0755 "$TMP"
    if ! getent passwd berthd >/dev/null; then
        if ! command -v systemd-sysusers >/dev/null; then
            echo "$T_NAME: needs systemd-sysusers (apt-get install systemd)" >&2
            exit 1
        fi
        systemd-sysusers "$TOP/deploy/berthd.sysusers" >/dev/null 2>&1
        getent passwd berthd >/dev/null || { echo "$T_NAME: systemd-sysusers made no berthd user" >&2; exit 1; }
        at_exit "userdel berthd; getent group berthd && groupdel berthd"
    fi
}
AS_BERTHD=(setpriv --reuid=berthd --regid=berthd --init-groups --)
as_berthd() { "${AS_BERTHD[@]}" "$@"; }
