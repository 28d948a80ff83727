#!/bin/bash
# t3050-format: --format with docker's Go templates, as a user of berth
# inspect -f, ps --format, images --format and history --format sees it:
#   - inspect -f on a container and on an image: fields, slices as [a b],
#     maps as map[k:v], json, range, index, printf, if/else, pipes to
#     upper, {{- -}} trimming, <no value> for a missing key, one line per
#     object;
#   - ps / images / history --format with and without the table prefix
#     (docker's header names, aligned columns), \t in the format;
#   - errors: a bad template (docker's "template parsing error: ..." and
#     exit 64 for inspect, "failed to parse template" and exit 1 for the
#     lists), {{template}}/{{define}} refused, an execution error, a deep
#     nesting, non-UTF-8: one line, non-zero exit, nothing lost.
# The store ($BERTH_ROOT) lives in $TMP; the EXIT trap removes the
# container made here.
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib-runtime.sh"

R=$TMP/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp "$BUSYBOX" "$R/bin/busybox"
for c in sh echo sleep true; do ln -s busybox "$R/bin/$c"; done
tar -C "$R" --numeric-owner -cf "$TMP/rootfs.tar" .
bx import "$TMP/rootfs.tar" fmt/bb:1
ok "berth import of the rootfs" || finish

bx run -d --name fmtc -e A=1 -e B=2 -l k=v -l x=y fmt/bb:1 sleep 300
ok "run -d fmtc" || finish
CID=$OUT

# ---- inspect -f ---------------------------------------------------------------------
fmt_is() { # WHAT WANT ARGS...: berth ARGS exits 0 and prints WANT
    local what=$1 want=$2
    shift 2
    bx "$@"
    ok "$what" && expect_eq "$OUT" "$want" "$what:"
}
fmt_is "inspect -f .State.Status" running inspect -f '{{.State.Status}}' fmtc
fmt_is "inspect --format .Name" /fmtc inspect --format '{{.Name}}' fmtc
fmt_is "inspect -f .Id" "$CID" inspect -f '{{.Id}}' fmtc
fmt_is "inspect -f a label" v inspect -f '{{index .Config.Labels "k"}}' fmtc
fmt_is "inspect -f labels as a map" "map[k:v x:y]" inspect -f '{{.Config.Labels}}' fmtc
fmt_is "inspect -f json labels" '{"k":"v","x":"y"}' inspect -f '{{json .Config.Labels}}' fmtc
fmt_is "inspect -f range over labels" 'k=v;x=y;' \
    inspect -f '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}' fmtc
bx inspect -f '{{.Config.Env}}' fmtc
ok "inspect -f .Config.Env" && expect_match "$OUT" '^\[.*A=1 B=2.*\]$' "env as a Go slice:"
bx inspect -f '{{range .Config.Env}}{{.}} {{end}}' fmtc
ok "inspect -f range .Config.Env" && expect_match "$OUT" '(^| )A=1 B=2 ' "range over env:"
fmt_is "inspect -f printf" "/fmtc-3" inspect -f '{{printf "%s-%d" .Name 3}}' fmtc
fmt_is "inspect -f printf in a pipe" "/FMTC-3" inspect -f '{{printf "%s-%d" (.Name | printf "%.10s") 3 | upper}}' fmtc
fmt_is "inspect -f if/else" up inspect -f '{{if .State.Running}}up{{else}}down{{end}}' fmtc
fmt_is "inspect -f upper pipe" RUNNING inspect -f '{{.State.Status | upper}}' fmtc
fmt_is "inspect -f trimming" "a:running:b" inspect -f 'a:  {{- .State.Status -}}  :b' fmtc
fmt_is "inspect -f missing key" "<no value>" inspect -f '{{.NoSuchKey}}' fmtc
bx inspect -f '{{.State.Pid}}' fmtc
ok "inspect -f .State.Pid" && expect_match "$OUT" '^[0-9]+$' "a number prints as an integer:"
fmt_is "inspect -f on an image" "fmt/bb:1" inspect -f '{{index .RepoTags 0}}' fmt/bb:1
fmt_is "inspect -f json .Config.Cmd on an image" "null" inspect -f '{{json .Config.Cmd}}' fmt/bb:1
bx inspect -f '{{.Size}}' fmt/bb:1
ok "inspect -f .Size of an image" && expect_match "$OUT" '^[0-9]+$' "image size:"
bx inspect -f '{{.Name}}' fmtc fmtc
ok "inspect -f on two objects" && expect_eq "$OUT" "$(printf '/fmtc\n/fmtc')" "one line per object:"
bx image inspect -f '{{len .Layers}}' fmt/bb:1
ok "image inspect -f" && expect_eq "$OUT" 1 "image inspect -f len .Layers:"
bx container inspect --format='{{.State.Status}}' fmtc
ok "container inspect --format=" && expect_eq "$OUT" running "container inspect:"

# ---- inspect -f: errors -------------------------------------------------------------
bx inspect -f '{{' fmtc
rc_is "inspect -f unclosed" 64
one_line "inspect -f unclosed" '^berth inspect: template parsing error: template: :1: unclosed action$'
bx inspect -f '{{end}}' fmtc
rc_is "inspect -f {{end}}" 64
one_line "inspect -f {{end}}" 'template parsing error: template: :1: unexpected \{\{end\}\}$'
bx inspect -f '{{nosuch .Name}}' fmtc
rc_is "inspect -f unknown function" 64
one_line "inspect -f unknown function" 'function "nosuch" not defined$'
for t in '{{template "x"}}' '{{define "x"}}y{{end}}'; do
    bx inspect -f "$t" fmtc
    rc_is "inspect -f $t" 64
    one_line "inspect -f $t" 'is not supported$'
done
bx inspect -f '{{.NoSuch.Deeper}}' fmtc
rc_is "inspect -f execution error" 1
one_line "inspect -f execution error" 'template parsing error: template: :1: executing "" at <.NoSuch.Deeper>: nil pointer evaluating interface \{\}.Deeper$'
bx inspect -f "$(printf '{{if 1}}%.0s' $(seq 500))" fmtc
rc_is "inspect -f 500 nested ifs" 64
one_line "inspect -f deep nesting" 'nesting too deep$'
bx inspect -f $'{{\xff}}' fmtc
rc_is "inspect -f non-UTF-8 in an action" 64
one_line "inspect -f non-UTF-8" 'unrecognized character in action'
bx inspect -f $'\xfe{{.Name}}\xff' fmtc
ok "inspect -f non-UTF-8 text" && expect_eq "$OUT" $'\xfe/fmtc\xff' "bytes of the text kept:"
bx inspect -f '{{.Name}}' no-such-thing
rc_is "inspect -f on a missing object" 1
one_line "inspect -f missing object" 'No such object: no-such-thing'
bx inspect -f '{{.Name}}'
rc_is "inspect -f without a name" 2

# ---- ps --format --------------------------------------------------------------------
fmt_is "ps --format .Names" fmtc ps --format '{{.Names}}'
fmt_is "ps --format .ID" "${CID:0:12}" ps --format '{{.ID}}'
fmt_is "ps --format .Image .State" "fmt/bb:1 running" ps --format '{{.Image}} {{.State}}'
fmt_is "ps --format .Labels" "k=v,x=y" ps --format '{{.Labels}}'
bx ps --format 'table {{.ID}}\t{{.Names}}\t{{.Status}}'
ok "ps --format table"
expect_eq "$(sed -n 1p <<<"$OUT")" "CONTAINER ID   NAMES     STATUS" "ps table header:"
expect_match "$(sed -n 2p <<<"$OUT")" "^${CID:0:12}   fmtc      Up " "ps table row aligned:"
bx ps --format 'table {{.Names}}'
ok "ps --format table one column" && expect_eq "$OUT" "$(printf 'NAMES\nfmtc')" "ps one-column table:"
bx ps --format '{{.Names}}\t{{.State}}'
ok "ps --format with \\t" && expect_eq "$OUT" "$(printf 'fmtc\trunning')" "\\t is a tab:"
bx ps --format table
ok "ps --format table (the default)" && expect_match "$OUT" '^CONTAINER ID +IMAGE +COMMAND' "default table:"
bx ps --format '{{'
rc_is "ps --format unclosed" 1
one_line "ps --format unclosed" '^berth ps: failed to parse template: template: :1: unclosed action$'
bx ps --format '{{.Names.X}}'
rc_is "ps --format execution error" 1
one_line "ps --format execution error" "can't evaluate field X in type string$"

# ---- images and history --format ----------------------------------------------------
IMG=$("$BERTH" inspect -f '{{.Id}}' fmt/bb:1)
fmt_is "images --format" "fmt/bb:1:${IMG:7:12}" images --format '{{.Repository}}:{{.Tag}}:{{.ID}}'
bx images --format 'table {{.Repository}}\t{{.Tag}}\t{{.Size}}'
ok "images --format table"
expect_match "$(sed -n 1p <<<"$OUT")" '^REPOSITORY   TAG       SIZE$' "images table header:"
expect_match "$(sed -n 2p <<<"$OUT")" '^fmt/bb       1         [0-9.]+[kMG]?B$' "images table row:"
bx images --format '{{.CreatedAt}}'
ok "images --format .CreatedAt" && expect_match "$OUT" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} \+0000 UTC$' "CreatedAt:"
bx images --format '{{.X'
rc_is "images --format unclosed" 1
one_line "images --format unclosed" 'failed to parse template: template: :1: unclosed action$'
bx history --format '{{.ID}} {{.Size}}' fmt/bb:1
ok "history --format" && expect_match "$OUT" "^${IMG:7:12} [0-9.]+[kMG]?B$" "history row:"
bx history --format 'table {{.ID}}\t{{.CreatedBy}}' fmt/bb:1
ok "history --format table" && expect_match "$(sed -n 1p <<<"$OUT")" '^IMAGE          CREATED BY$' "history header:"
bx history --format '{{if}}' fmt/bb:1
rc_is "history --format missing value" 1
one_line "history --format" 'missing value for if$'

# nothing lost: the container still runs, the image is still there
fmt_is "after the errors: the container" running inspect -f '{{.State.Status}}' fmtc
fmt_is "after the errors: the image" 1 images --format '{{.Tag}}'

if compgen -G "$TMP/san/*" >/dev/null; then
    fail "sanitizer reports:"
    head -60 "$TMP"/san/* >&2
fi
finish
