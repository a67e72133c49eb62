#!/usr/bin/env bash
# pki.sh - a dropnet network's certificates, with the openssl command line.
#
#   deploy/pki.sh init   --dir PKI [--days N] [--name NET]
#   deploy/pki.sh issue  --dir PKI ROLE NAME [--san SAN,...] [--op-role R]
#                        [--days N] [--not-before T --not-after T]
#   deploy/pki.sh revoke --dir PKI ROLE NAME
#   deploy/pki.sh crl    --dir PKI [--crl-days N]  (re-sign every CRL: they
#                        expire; N days, default 365; init and revoke sign
#                        them for as long)
#   deploy/pki.sh show   --dir PKI ROLE NAME
#   deploy/pki.sh group-secret --dir PKI  (PKI/group.secret: a replicated
#                        coordinator group's shared secret, 64 hex digits,
#                        mode 0600; kept if it exists)
#
# Layout (all PEM; keys are EC P-256, unencrypted, mode 0600):
#   PKI/ca/root.crt          the network's root CA (offline in production:
#                            keep root.key off the servers)
#   PKI/ca/ROLE.crt          one issuing CA per role, signed by the root:
#                            hub, storefront, operator, server
#   PKI/crl.pem              the CRLs of every role CA, concatenated: give it
#                            to every daemon as tls.crl_file
#   PKI/ROLE/NAME.crt, .key  one certificate per peer: CN=NAME, OU=ROLE
#                            (operators also OU=read-only|operator|admin),
#                            SAN URI:dropnet:ROLE:NAME; servers get the SANs
#                            given with --san (DNS:host, IP:addr)
#   PKI/ROLE/NAME.secret     (not servers) the peer's 32-byte secret, 64 hex
#                            digits, mode 0600: it signs every request
#                            (hubd auth.key_file, DROPNET_AUTH_KEY,
#                            DROPNET_STOREFRONT_AUTH_KEY)
#   PKI/peers                every secret with its role and name, one
#                            "ROLE NAME KEYHEX" a line (ROLE: hub,
#                            storefront, read-only, operator, admin), mode
#                            0600: the coordinator's auth.peers_file. A name
#                            is unique across the network's roles. revoke
#                            removes the line (the coordinator re-reads the
#                            file on SIGHUP or restart)
#
# Why a CA per role: the coordinator trusts only the hub CA on its hub
# socket, only the storefront CA on ingest, only the operator CA on ops and
# signals, and clients trust only the server CA for the coordinator. So a
# storefront's certificate cannot even finish a TLS handshake on the hub
# socket, and a stolen hub key cannot pose as the coordinator
# (proto/SEMANTICS.md, "Identity").
#
# An expired CRL makes mbedtls refuse every peer of its CA: re-sign before
# then (a yearly cron job: pki.sh crl, copy crl.pem to the daemons, SIGHUP).
# The daemons log tls.crl_expiring 30 days ahead (tls.cert_expiring for
# their own certificate), and tls.crl_expired / tls.cert_expired after.
#
# ROLE is hub, storefront, operator or server. T is openssl's date form
# YYYYMMDDHHMMSSZ (tests use it for an expired certificate). Every command
# is idempotent on what exists: init keeps an existing root, issue refuses
# to overwrite a certificate (revoke it first, or pick a new name).
set -euo pipefail

ROLES="hub storefront operator server"
die() { echo "pki: $*" >&2; exit 1; }
usage() { sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'; }

command -v openssl >/dev/null || die "openssl not found: apt-get install openssl"

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
CMD=$1; shift
case $CMD in -h|--help|help) usage; exit 0 ;; esac
DIR=""; DAYS=825; CRLDAYS=365; NET=dropnet; SAN=""; OPROLE=""; NB=""; NA=""; ARGS=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--dir) DIR=$2; shift 2 ;;
	--days) DAYS=$2; shift 2 ;;
	--crl-days) CRLDAYS=$2; shift 2 ;;
	--name) NET=$2; shift 2 ;;
	--san) SAN=$2; shift 2 ;;
	--op-role) OPROLE=$2; shift 2 ;;
	--not-before) NB=$2; shift 2 ;;
	--not-after) NA=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) ARGS+=("$1"); shift ;;
	esac
done
[[ -n $DIR ]] || die "--dir PKI is required"
[[ $DAYS =~ ^[0-9]+$ && $DAYS -ge 1 ]] || die "--days wants a positive integer"
[[ $CRLDAYS =~ ^[0-9]+$ && $CRLDAYS -ge 1 ]] || die "--crl-days wants a positive integer"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
umask 077

valid_role() { [[ " $ROLES " == *" $1 "* ]] || die "role '$1' is not one of: $ROLES"; }
valid_name() { [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$ ]] || die "name '$1': 1..64 of A-Z a-z 0-9 . _ -"; }

# The openssl ca config of one role CA (written once, next to its database).
ca_conf() { # role
	local d="$DIR/ca/$1.d"
	cat <<EOF
[ ca ]
default_ca = role_ca
[ role_ca ]
dir = $d
database = $d/index.txt
new_certs_dir = $d/issued
serial = $d/serial
crlnumber = $d/crlnumber
certificate = $DIR/ca/$1.crt
private_key = $DIR/ca/$1.key
default_md = sha256
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
organizationalUnitName = optional
organizationName = optional
EOF
}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

cmd_init() {
	mkdir -p "$DIR/ca"
	if [[ ! -f $DIR/ca/root.crt ]]; then
		newkey "$DIR/ca/root.key"
		openssl req -new -x509 -key "$DIR/ca/root.key" -sha256 -days $((DAYS * 4)) \
			-subj "/O=$NET/CN=$NET root CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			-out "$DIR/ca/root.crt"
		echo "pki: root CA $DIR/ca/root.crt"
	fi
	local r d ext
	ext=$(mktemp); trap 'rm -f "$ext"' RETURN
	printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >"$ext"
	for r in $ROLES; do
		d="$DIR/ca/$r.d"
		[[ -f $DIR/ca/$r.crt ]] && continue
		mkdir -p "$d/issued"
		: >"$d/index.txt"
		echo 1000 >"$d/serial"
		echo 1000 >"$d/crlnumber"
		ca_conf "$r" >"$d/ca.cnf"
		newkey "$DIR/ca/$r.key"
		openssl req -new -key "$DIR/ca/$r.key" -subj "/O=$NET/OU=$r/CN=$NET $r CA" \
			-out "$d/ca.csr"
		openssl x509 -req -in "$d/ca.csr" -CA "$DIR/ca/root.crt" -CAkey "$DIR/ca/root.key" \
			-CAcreateserial -days $((DAYS * 2)) -sha256 -extfile "$ext" \
			-out "$DIR/ca/$r.crt" 2>/dev/null
		rm -f "$d/ca.csr"
		echo "pki: $r CA $DIR/ca/$r.crt"
	done
	cmd_crl
	chmod 644 "$DIR"/ca/*.crt
}

cmd_crl() {
	local r
	: >"$DIR/crl.pem.new"
	for r in $ROLES; do
		openssl ca -config "$DIR/ca/$r.d/ca.cnf" -gencrl -crldays "$CRLDAYS" \
			-out "$DIR/ca/$r.crl" 2>/dev/null
		cat "$DIR/ca/$r.crl" >>"$DIR/crl.pem.new"
	done
	chmod 644 "$DIR/crl.pem.new"
	mv "$DIR/crl.pem.new" "$DIR/crl.pem"
	echo "pki: CRLs $DIR/crl.pem (valid $CRLDAYS days: re-run 'pki.sh crl' before then)"
}

cmd_issue() {
	[[ ${#ARGS[@]} -eq 2 ]] || die "issue ROLE NAME"
	local role=${ARGS[0]} name=${ARGS[1]} ou ext csr d
	valid_role "$role"; valid_name "$name"
	[[ -f $DIR/ca/$role.crt ]] || die "no $role CA in $DIR: run 'pki.sh init --dir $DIR' first"
	mkdir -p "$DIR/$role"
	[[ ! -f $DIR/$role/$name.crt ]] || die "$DIR/$role/$name.crt exists: revoke it first or choose another name"
	if [[ $role != server && -f $DIR/peers ]] && awk -v n="$name" '$2 == n {f=1} END {exit !f}' "$DIR/peers"; then
		die "name $name already has a secret in $DIR/peers (names are unique across roles)"
	fi
	ou="/OU=$role"
	if [[ $role == operator ]]; then
		case ${OPROLE:-read-only} in
		read-only|operator|admin) ou="$ou/OU=${OPROLE:-read-only}" ;;
		*) die "--op-role wants read-only, operator or admin" ;;
		esac
	fi
	ext=$(mktemp); csr=$(mktemp); trap 'rm -f "$ext" "$csr"' RETURN
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		if [[ $role == server ]]; then
			echo "extendedKeyUsage=serverAuth"
			echo "subjectAltName=${SAN:-DNS:$name}"
		else
			echo "extendedKeyUsage=clientAuth"
			echo "subjectAltName=URI:dropnet:$role:$name${SAN:+,$SAN}"
		fi
	} >"$ext"
	newkey "$DIR/$role/$name.key"
	openssl req -new -key "$DIR/$role/$name.key" -subj "/O=$NET$ou/CN=$name" -out "$csr"
	d=()
	if [[ -n $NB || -n $NA ]]; then
		[[ -n $NB && -n $NA ]] || die "--not-before and --not-after go together"
		d=(-startdate "$NB" -enddate "$NA")
	else
		d=(-days "$DAYS")
	fi
	openssl ca -batch -config "$DIR/ca/$role.d/ca.cnf" -in "$csr" -extfile "$ext" \
		-notext "${d[@]}" -out "$DIR/$role/$name.crt" 2>"$DIR/$role/.issue.err" ||
		{ cat "$DIR/$role/.issue.err" >&2; rm -f "$DIR/$role/$name.key"; die "openssl ca failed"; }
	rm -f "$DIR/$role/.issue.err"
	chmod 644 "$DIR/$role/$name.crt"
	[[ $role == server ]] || secret_make "$role" "$name"
	echo "pki: $role $name: $DIR/$role/$name.crt $DIR/$role/$name.key"
}

# The peer's secret and its line in PKI/peers (the coordinator's table).
secret_make() { # role name
	local role=$1 name=$2 kind=$1 hex
	[[ $role == operator ]] && kind=${OPROLE:-read-only}
	hex=$(openssl rand -hex 32)
	printf '%s\n' "$hex" >"$DIR/$role/$name.secret"
	chmod 600 "$DIR/$role/$name.secret"
	touch "$DIR/peers"; chmod 600 "$DIR/peers"
	peers_drop "$name"
	printf '%s %s %s\n' "$kind" "$name" "$hex" >>"$DIR/peers"
}

# Removes NAME's line from PKI/peers.
peers_drop() { # name
	[[ -f $DIR/peers ]] || return 0
	awk -v n="$1" '$2 != n' "$DIR/peers" >"$DIR/peers.new"
	chmod 600 "$DIR/peers.new"
	mv "$DIR/peers.new" "$DIR/peers"
}

cmd_revoke() {
	[[ ${#ARGS[@]} -eq 2 ]] || die "revoke ROLE NAME"
	local role=${ARGS[0]} name=${ARGS[1]}
	valid_role "$role"; valid_name "$name"
	[[ -f $DIR/$role/$name.crt ]] || die "no certificate $DIR/$role/$name.crt"
	openssl ca -config "$DIR/ca/$role.d/ca.cnf" -revoke "$DIR/$role/$name.crt" 2>/dev/null ||
		die "openssl ca -revoke failed (already revoked?)"
	mkdir -p "$DIR/$role/revoked"
	mv "$DIR/$role/$name.crt" "$DIR/$role/revoked/$name.$(date +%s).crt"
	mv "$DIR/$role/$name.key" "$DIR/$role/revoked/$name.$(date +%s).key"
	if [[ -f $DIR/$role/$name.secret ]]; then
		mv "$DIR/$role/$name.secret" "$DIR/$role/revoked/$name.$(date +%s).secret"
		peers_drop "$name"
	fi
	cmd_crl
	echo "pki: revoked $role $name; restart the daemons that read $DIR/crl.pem"
}

cmd_show() {
	[[ ${#ARGS[@]} -eq 2 ]] || die "show ROLE NAME"
	openssl x509 -in "$DIR/${ARGS[0]}/${ARGS[1]}.crt" -noout -subject -issuer -dates -ext subjectAltName
}

cmd_group_secret() {
	[[ ${#ARGS[@]} -eq 0 ]] || die "group-secret takes no arguments"
	mkdir -p "$DIR"
	if [[ ! -f $DIR/group.secret ]]; then
		(umask 077; openssl rand -hex 32 >"$DIR/group.secret.new") &&
			mv "$DIR/group.secret.new" "$DIR/group.secret"
	fi
	echo "pki: $DIR/group.secret (give it to every replica as group.secret_file)"
}

case $CMD in
init) cmd_init ;;
group-secret) cmd_group_secret ;;
issue) cmd_issue ;;
revoke) cmd_revoke ;;
crl) cmd_crl ;;
show) cmd_show ;;
*) usage >&2; exit 2 ;;
esac
