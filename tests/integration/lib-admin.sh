# tests/integration/lib-admin.sh - the service user of the administrator's
# tests (t2100-t2190), sourced after tests/lib.sh.
#
#   admin_user        # the berthd user and group, made from deploy/berthd.sysusers
#                     # with systemd-sysusers (as the docs say) when missing;
#                     # removed again at exit if this test made them
#   as_berthd CMD...  # CMD as the berthd user, its groups only (what the unit does)
#   "${AS_BERTHD[@]}" CMD... &   # the same, for a background process whose $! is CMD's
#   doc_block FILE HEADING [N]   # the Nth (default 1st) ```sh block under
#                                # "## HEADING" of docs/FILE
#   doc_run FILE HEADING [N]     # that block (`doc_run -`: the block on stdin), with
#                                # /etc/berthd, /var/lib/berthd and the installed docs
#                                # moved to $ETC, $DATA and deploy/, run by bash -e in
#                                # $TMP/admin with $TMP/bin first in PATH; output in
#                                # $TMP/doc.out
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

doc_block() {
    awk -v h="## $2" -v want="${3:-1}" '
        $0 == h { inside = 1; next }
        inside && /^## / { exit }
        inside && /^ *```sh$/ { n++; if (n == want) { on = 1; next } }
        on && /^ *```$/ { exit }
        on { sub(/^  /, ""); print }' "$TOP/docs/$1"
}
doc_run() {
    if [ "$1" = - ]; then cat; else doc_block "$@"; fi |
        sed -e "s|/etc/berthd|$ETC|g" -e "s|/var/lib/berthd|$DATA|g" \
            -e "s|/usr/local/share/doc/berth/|$TOP/deploy/|g" >"$TMP/doc.sh"
    check; [ -s "$TMP/doc.sh" ] || { fail "docs/$1: no shell block under '## $2'"; return 1; }
    mkdir -p "$TMP/admin"
    (cd "$TMP/admin" && PATH=$TMP/bin:$PATH bash -e "$TMP/doc.sh") >"$TMP/doc.out" 2>&1
}
