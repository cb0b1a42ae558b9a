#!/bin/sh
# mkca.sh DIR - a throw-away EC P-256 PKI for HTTPS tests, made with openssl.
#
#   ca.pem ca.key                      test CA
#   server.pem server.key              server cert from it, SAN IP:127.0.0.1,DNS:localhost
#   client.pem client.key              client cert from it, extendedKeyUsage clientAuth
#   rogue-ca.pem rogue-ca.key          a second, unrelated CA
#   rogue-server.pem rogue-server.key  server cert from the rogue CA (same SAN)
#   rogue-client.pem rogue-client.key  client cert from the rogue CA
#
# Keys are mode 600, certs 644.  Idempotent: when every file is already
# there, nothing is touched (so a running peer keeps matching certs);
# otherwise the whole set is made again.  Quiet unless openssl fails.
set -eu

[ $# -eq 1 ] || { echo "usage: mkca.sh DIR" >&2; exit 2; }
dir=$1
: "${OPENSSL:=openssl}"

files="ca.pem ca.key server.pem server.key client.pem client.key
rogue-ca.pem rogue-ca.key rogue-server.pem rogue-server.key
rogue-client.pem rogue-client.key"

mkdir -p "$dir"
done_already=1
for f in $files; do
	[ -s "$dir/$f" ] || { done_already=0; break; }
done
[ "$done_already" -eq 1 ] && exit 0

tmp=$(mktemp -d "$dir/.mkca.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
umask 077

# Our own config: no dependence on the system openssl.cnf (whose
# x509_extensions would make every `req -x509` cert a CA).
cat > "$tmp/cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[client_ext]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF

ossl() {
	if ! "$OPENSSL" "$@" >"$tmp/log" 2>&1; then
		echo "mkca.sh: openssl $1 failed:" >&2
		cat "$tmp/log" >&2
		exit 1
	fi
}

# mk NAME EXT SUBJECT [CA-NAME]: key NAME.key and cert NAME.pem in $tmp
mk() {
	_signer=
	[ $# -ge 4 ] && _signer="-CA $tmp/$4.pem -CAkey $tmp/$4.key"
	# shellcheck disable=SC2086
	ossl req -x509 -config "$tmp/cnf" -extensions "$2" -subj "$3" \
		-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$tmp/$1.key" -out "$tmp/$1.pem" -days 3650 -sha256 \
		$_signer
}

mk ca           ca_ext     "/O=tradedrop tests/CN=tradedrop test CA"
mk server       server_ext "/O=tradedrop tests/CN=localhost" ca
mk client       client_ext "/O=tradedrop tests/CN=tradedrop test client" ca
mk rogue-ca     ca_ext     "/O=rogue/CN=rogue test CA"
mk rogue-server server_ext "/O=rogue/CN=localhost" rogue-ca
mk rogue-client client_ext "/O=rogue/CN=rogue test client" rogue-ca

chmod 600 "$tmp"/*.key
chmod 644 "$tmp"/*.pem
# keys first, CA cert last: a half-finished earlier run is redone whole
for f in $files; do
	case $f in *.key) mv -f "$tmp/$f" "$dir/$f" ;; esac
done
for f in $files; do
	case $f in *.pem) [ "$f" = ca.pem ] || mv -f "$tmp/$f" "$dir/$f" ;; esac
done
mv -f "$tmp/ca.pem" "$dir/ca.pem"
