#!/usr/bin/env bash
# deploy/docker/jwt-keys.sh: make the ES256 key pair access tokens are
# signed with, for compose (deploy/keys/) or a Kubernetes secretGenerator.
#
#   deploy/docker/jwt-keys.sh DIR [NAME]
#
# writes DIR/NAME.key (PKCS#8 private key, for auth only) and DIR/NAME.pub
# (its public key, for every daemon); NAME defaults to jwt. An existing pair
# is left alone. DIR is made private (0700). The containers run as uid 10001,
# which must be able to read the files that compose mounts as secrets: as
# root the files go to uid 10001 (mode 0600 / 0644); otherwise they are
# made world-readable (0644) and only the 0700 folder keeps them private on
# this host.
set -euo pipefail

dir=${1:-}
name=${2:-jwt}
if [ -z "$dir" ]; then
	echo "usage: deploy/docker/jwt-keys.sh DIR [NAME]" >&2
	exit 2
fi
case $name in
*/* | '') echo "jwt-keys: invalid name '$name'" >&2; exit 2 ;;
esac
key=$dir/$name.key
pub=$dir/$name.pub
if [ -s "$key" ] && [ -s "$pub" ]; then
	echo "jwt-keys: $key and $pub exist: left alone"
	exit 0
fi
mkdir -p "$dir"
chmod 700 "$dir"
(
	umask 077
	openssl ecparam -name prime256v1 -genkey -noout |
		openssl pkey -out "$key.new"
	openssl pkey -in "$key.new" -pubout -out "$pub"
	mv "$key.new" "$key"
)
if [ "$(id -u)" = 0 ]; then
	chown 10001:10001 "$key" "$pub"
	chmod 600 "$key"
else
	chmod 644 "$key"
fi
chmod 644 "$pub"
echo "jwt-keys: made $key and $pub"
