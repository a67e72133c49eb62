#!/usr/bin/env bash
# Goal: hubd's ipc:// terminal socket serves only the OS users it is told to
# (hub.term_allowed_uids; issue 9, NNG_OPT_IPC_PEER_UID). The socket file is
# given the group nogroup (hub.term_group), so root, nobody and daemon
# (uid 1, run here with group nogroup) can all reach it through the file's
# mode; the allowed list is root,nobody. root and nobody are served; daemon
# is answered FORBIDDEN naming its uid, its write changes nothing, and hubd
# logs hub.term_uid_refused uid=1. The kernel reports the uid
# (SO_PEERCRED), so the refused client cannot claim another.
source "$(dirname "$0")/lib/net.sh"
net_setup "$1"
command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed"
net_start "london" --hub-set hub.term_group=nogroup --hub-set hub.term_allowed_uids=root,nobody
URL=$(hub_url london)
# mktemp -d makes 0700 folders: let other users walk to the socket file
# (its own mode, 0660 and group nogroup, is what is tested).
chmod o+x "$T" "$NET_DIR" "$NET_DIR/run"
as_user() { # user cmd...: run as that uid, group nogroup, no other groups
	local u=$1; shift
	setpriv --reuid="$u" --regid=nogroup --clear-groups "$@"
}
ls -l "${URL#ipc://}" >&2

SKU=uid-tee
out=$("$PICKTERM" --hub "$URL" --json status) || fail "root refused: $out"
[[ $(jget "$out" 'j["status"]') == OK ]] || fail "root: $out"
ok "root is served"

out=$(as_user nobody "$PICKTERM" --hub "$URL" --json status) || fail "nobody refused: $out"
[[ $(jget "$out" 'j["status"]') == OK ]] || fail "nobody: $out"
ok "nobody (listed) is served"

rc=0
out=$(as_user daemon "$PICKTERM" --hub "$URL" --json receive "$SKU" 5 2>&1) || rc=$?
log "daemon: rc=$rc $out"
(( rc != 0 )) || fail "daemon (uid 1, not listed) was served: $out"
grep -q FORBIDDEN <<<"$out" || fail "daemon's answer is not FORBIDDEN: $out"
grep -q "OS user 1 may not" <<<"$out" || fail "daemon's answer does not name its uid: $out"
ok "daemon (uid 1, not listed) is refused FORBIDDEN"

out=$("$PICKTERM" --hub "$URL" --json stock) || fail "stock: $out"
[[ $(jget "$out" 'sum(s["on_hand"] for s in j.get("stock", []) if s["sku"] == "'"$SKU"'")') == 0 ]] ||
	fail "the refused receive changed the stock: $out"
ok "the refused write changed nothing"

grep -q 'hub.term_uid_refused uid=1 ' "$NET_DIR/log/london.log" ||
	fail "no hub.term_uid_refused line for uid 1"
ok "hub.term_uid_refused logged"

# The same receive from an allowed user lands (and the stock probe above
# reads what it claims to).
out=$("$PICKTERM" --hub "$URL" --json receive "$SKU" 5) || fail "root receive: $out"
out=$("$PICKTERM" --hub "$URL" --json stock) || fail "stock: $out"
[[ $(jget "$out" 'sum(s["on_hand"] for s in j.get("stock", []) if s["sku"] == "'"$SKU"'")') == 5 ]] ||
	fail "root's receive did not land: $out"
ok "the same receive as root lands: 5 on hand"

# The OS user is recorded next to the operator name (the name is what the
# operator typed; the uid is what the kernel says ran the terminal): in the
# hub's log line and in the HubEvent (term_uid) the write made.
NOBODY=$(id -u nobody)
out=$(as_user nobody "$PICKTERM" --hub "$URL" --operator alice --json receive "$SKU" 2) ||
	fail "nobody's receive: $out"
grep -Eq "hub.received sku=$SKU qty=2 .*operator=alice uid=$NOBODY " "$NET_DIR/log/london.log" ||
	fail "no hub.received line with operator=alice uid=$NOBODY: $(grep hub.received "$NET_DIR/log/london.log" | tail -3)"
grep -Eq "hub.received sku=$SKU qty=5 .*uid=0 " "$NET_DIR/log/london.log" ||
	fail "root's receive is not logged with uid=0"
ok "each write is logged with the operator's name and the terminal's OS user"
