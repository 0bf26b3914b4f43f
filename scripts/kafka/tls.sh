# shellcheck shell=bash
# TLS for the dev broker (scripts/kafka/broker.sh --tls): certificates made with openssl, and the
# broker properties for SSL and SASL_SSL listeners and the KRaft StandardAuthorizer. Sourced by
# broker.sh; also runnable to make (or print where) the certificates are:
#
#   bash scripts/kafka/tls.sh DIR      makes DIR's certificates if missing, prints DIR
#
# DIR (broker.sh: <data dir>/tls) holds, all PEM:
#   ca.pem                     the dev CA clients trust (ssl.ca.location)
#   broker.pem / broker.key    the broker: SAN localhost and 127.0.0.1, signed by the CA
#   client.pem / client.key    client certificate CN=ferry (principal User:ferry, a super user)
#   least.pem / least.key      client certificate CN=least (principal User:least: ACLs only)
#                              both client keys encrypted with the password "client-key-secret"
#   other-ca.pem               a CA that signed nothing the broker uses (the wrong-CA tests)
#   expired.pem / wronghost.pem  broker certificates that expired in 2020 / name only
#                              wrong-host.invalid, served on listeners of their own
#
# Listeners, from the client port P: SSL P+3 (client certificate required), SASL_SSL P+4 (PLAIN,
# the same users as SASL_PLAINTEXT plus least/least-secret), P+5 SSL with the expired certificate,
# P+6 SSL with the wrong-host certificate. Principals: a certificate's CN, a SASL user name; no
# certificate, no SASL (PLAINTEXT, the controller): ANONYMOUS. Super users: ANONYMOUS, admin,
# ferry, so the plaintext and SASL listeners keep full access; every other principal gets only
# what ACLs grant (allow.everyone.if.no.acl.found=false).

# The password of the client keys (a dev value, like the SASL passwords).
FERRY_TLS_KEY_PASSWORD=client-key-secret

# _ferry_tls_key FILE [PASSWORD]: a new P-256 key in PKCS#8 PEM, encrypted when PASSWORD is set.
_ferry_tls_key() {
  if [ -n "${2:-}" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc \
      -pass "pass:$2" -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  fi
}

# _ferry_tls_ca DIR NAME CN: a self-signed CA, NAME.pem and NAME.key.
_ferry_tls_ca() {
  _ferry_tls_key "$1/$2.key"
  openssl req -x509 -new -key "$1/$2.key" -subj "/CN=$3" -days 3650 -out "$1/$2.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
}

# _ferry_tls_cert DIR NAME CN SAN [KEYPASSWORD [STARTDATE ENDDATE]]: NAME.key and NAME.pem signed
# by DIR's CA; SAN may be empty (client certificates). With dates (YYYYMMDDHHMMSSZ) the
# certificate is valid only between them (openssl ca: openssl x509 cannot date backwards).
_ferry_tls_cert() {
  local dir=$1 name=$2 cn=$3 san=$4 password=${5:-} start=${6:-} end=${7:-}
  local ext=$dir/$name.ext
  _ferry_tls_key "$dir/$name.key" "$password"
  local passin=()
  [ -z "$password" ] || passin=(-passin "pass:$password")
  openssl req -new -key "$dir/$name.key" "${passin[@]}" -subj "/CN=$cn" \
    -out "$dir/$name.csr" 2>/dev/null
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$ext"
  if [ -z "$start" ]; then
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
      -CAcreateserial -days 3650 -extfile "$ext" -out "$dir/$name.pem" 2>/dev/null
  else
    local db=$dir/ca-db
    mkdir -p "$db"
    : >"$db/index.txt"
    openssl rand -hex 8 >"$db/serial"
    cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = dev
[dev]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
EOF
    openssl ca -batch -config "$db/ca.cnf" -cert "$dir/ca.pem" -keyfile "$dir/ca.key" \
      -in "$dir/$name.csr" -startdate "$start" -enddate "$end" -extfile "$ext" \
      -notext -out "$dir/$name.pem" >/dev/null 2>&1
    rm -rf "$db"
  fi
  rm -f "$dir/$name.csr" "$ext"
  # What the broker reads (ssl.keystore.type=PEM): the key, then the certificate chain.
  if [ -z "$password" ]; then cat "$dir/$name.key" "$dir/$name.pem" >"$dir/$name.keystore.pem"; fi
}

# ferry_tls_certs DIR: makes DIR's certificates unless they are there already (idempotent).
ferry_tls_certs() {
  local dir=$1
  [ -f "$dir/done" ] && return 0
  command -v openssl >/dev/null 2>&1 || ferry_die "openssl is needed for --tls (apt-get install openssl)."
  rm -rf "$dir"
  mkdir -p "$dir"
  _ferry_tls_ca "$dir" ca "Ferry dev CA" || ferry_die "openssl could not make the dev CA in $dir"
  _ferry_tls_ca "$dir" other-ca "Some other CA" || ferry_die "openssl could not make $dir/other-ca.pem"
  rm -f "$dir/other-ca.key"
  _ferry_tls_cert "$dir" broker localhost "DNS:localhost,IP:127.0.0.1" &&
    _ferry_tls_cert "$dir" expired localhost "DNS:localhost,IP:127.0.0.1" "" \
      20200101000000Z 20200201000000Z &&
    _ferry_tls_cert "$dir" wronghost wrong-host.invalid "DNS:wrong-host.invalid" &&
    _ferry_tls_cert "$dir" client ferry "" "$FERRY_TLS_KEY_PASSWORD" &&
    _ferry_tls_cert "$dir" least least "" "$FERRY_TLS_KEY_PASSWORD" ||
    ferry_die "openssl could not make the certificates in $dir"
  rm -f "$dir/ca.srl"
  touch "$dir/done"
}

# ferry_tls_ports PORT: the TLS listeners' ports (SSL, SASL_SSL, expired, wrong host).
ferry_tls_ports() {
  echo "$(($1 + 3)) $(($1 + 4)) $(($1 + 5)) $(($1 + 6))"
}

# ferry_tls_listeners PORT: the listeners to add to `listeners` and `advertised.listeners`.
ferry_tls_listeners() {
  printf 'SSL://127.0.0.1:%s,SASL_SSL://127.0.0.1:%s,EXPIRED://127.0.0.1:%s,WRONGHOST://127.0.0.1:%s' \
    $(ferry_tls_ports "$1")
}

# The entries to add to listener.security.protocol.map.
FERRY_TLS_PROTOCOLS=SSL:SSL,SASL_SSL:SASL_SSL,EXPIRED:SSL,WRONGHOST:SSL

# ferry_tls_properties DIR: the broker properties for the TLS listeners and the authorizer.
ferry_tls_properties() {
  local dir=$1 l
  cat <<EOF
# TLS listeners and the authorizer (broker.sh --tls; certificates by scripts/kafka/tls.sh)
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:ANONYMOUS;User:admin;User:ferry
ssl.principal.mapping.rules=RULE:^CN=([^,]+)$/\$1/,DEFAULT
ssl.truststore.type=PEM
ssl.truststore.location=$dir/ca.pem
ssl.keystore.type=PEM
ssl.keystore.location=$dir/broker.keystore.pem
listener.name.ssl.ssl.client.auth=required
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_ferry="ferry-secret" user_least="least-secret";
EOF
  for l in expired wronghost; do
    echo "listener.name.$l.ssl.keystore.type=PEM"
    echo "listener.name.$l.ssl.keystore.location=$dir/$l.keystore.pem"
  done
}

# ferry_tls_answering DIR PORT: succeeds when the SSL listener serves the client certificate.
ferry_tls_answering() {
  local dir=$1 port=$(($2 + 3))
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
  kcat -b "127.0.0.1:$port" -X security.protocol=SSL -X "ssl.ca.location=$dir/ca.pem" \
    -X "ssl.certificate.location=$dir/client.pem" -X "ssl.key.location=$dir/client.key" \
    -X "ssl.key.password=$FERRY_TLS_KEY_PASSWORD" -L -m 5 >/dev/null 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  # shellcheck source=scripts/lib.sh
  . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
  [ "$#" -eq 1 ] || { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
  ferry_tls_certs "$1"
  (cd "$1" && pwd)
fi
