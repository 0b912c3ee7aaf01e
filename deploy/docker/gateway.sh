#!/usr/bin/env bash
# deploy/docker/gateway.sh: the gateway in a container. Renders
# deploy/nginx/gateway.conf.in (the same routes as `make run`) for a
# container, where each daemon is another host, then runs nginx in the
# foreground as the image's unprivileged user.
#
#   gateway.sh render FILE   write the nginx config to FILE (- for stdout)
#   gateway.sh run           render to $GATEWAY_VAR/nginx.conf, check it,
#                            exec nginx (the image's entrypoint)
#
# Environment (defaults suit compose and Kubernetes alike, where each
# daemon answers at its service name):
#   GATEWAY_UPSTREAM_AUTH          auth:7001
#   GATEWAY_UPSTREAM_EVENTS        events:7002
#   GATEWAY_UPSTREAM_MATCHMAKING   matchmaking:7003
#   GATEWAY_UPSTREAM_RATINGS       ratings:7004
#   GATEWAY_UPSTREAM_SIGNALING     signaling:7005
#   GATEWAY_UPSTREAM_SIGNALING_SIO signaling:7006 (Socket.IO)
#     For several signaling instances, both are comma lists in the same
#     order, instance i started with SC_SIO_SID_PREFIX=s<i>: a Socket.IO
#     session then stays on the instance its sid names (the template's
#     @SIGNALING_SIO_PINS@/@SIGNALING_SIO_MAP@, as deploy/local.sh fills
#     them).
#   GATEWAY_PORT        8080: where nginx listens (all IPv4 addresses)
#   GATEWAY_LISTEN_IPV6 1: also listen on [::] (default: IPv4 only)
#   GATEWAY_REAL_IP_FROM  addresses/CIDRs of a proxy in front of the
#                       gateway (an Ingress controller, a load balancer),
#                       space or comma separated: the client address is
#                       then taken from its X-Forwarded-For. Empty (the
#                       default): the gateway is the edge.
#   GATEWAY_VAR         /tmp/nginx: pid, temp files, the rendered config
#                       (the only place nginx writes; logs go to
#                       stdout/stderr)
#   GATEWAY_TEMPLATE    /etc/spotlight-gateway/gateway.conf.in
#   GATEWAY_INCLUDE_DIR the template's folder: proxy.conf,
#                       security-headers.conf
#   GATEWAY_PWA_ROOT    /usr/share/spotlight/pwa: the built PWA
#   GATEWAY_MIME_TYPES  /etc/nginx/mime.types
# nginx resolves the upstream names once, at start.
set -euo pipefail

die() {
	printf 'gateway: %s\n' "$*" >&2
	exit 1
}

TEMPLATE=${GATEWAY_TEMPLATE:-/etc/spotlight-gateway/gateway.conf.in}
INCLUDES=${GATEWAY_INCLUDE_DIR:-$(dirname "$TEMPLATE")}
# nginx reads relative paths from its prefix: make them absolute.
case $INCLUDES in /*) ;; *) INCLUDES=$PWD/$INCLUDES ;; esac
VAR=${GATEWAY_VAR:-/tmp/nginx}
PORT=${GATEWAY_PORT:-8080}
PWA=${GATEWAY_PWA_ROOT:-/usr/share/spotlight/pwa}
MIME=${GATEWAY_MIME_TYPES:-/etc/nginx/mime.types}
declare -A UPSTREAM=(
	[AUTH]=${GATEWAY_UPSTREAM_AUTH:-auth:7001}
	[EVENTS]=${GATEWAY_UPSTREAM_EVENTS:-events:7002}
	[MATCHMAKING]=${GATEWAY_UPSTREAM_MATCHMAKING:-matchmaking:7003}
	[RATINGS]=${GATEWAY_UPSTREAM_RATINGS:-ratings:7004}
	[SIGNALING]=${GATEWAY_UPSTREAM_SIGNALING:-signaling:7005}
	[SIGNALING_SIO]=${GATEWAY_UPSTREAM_SIGNALING_SIO:-signaling:7006}
)

# Replace the one occurrence of $2 in $conf by $3; the template having
# another shape (none, or several) is an error, not a silent skip.
conf=
replace_once() {
	local what=$1 from=$2 to=$3 rest
	case $conf in *"$from"*) ;; *) die "the template has no '$from' ($what)" ;; esac
	rest=${conf#*"$from"}
	case $rest in *"$from"*) die "the template has '$from' more than once ($what)" ;; esac
	conf=${conf/"$from"/"$to"}
}

# signaling's upstreams, instances ${sig[@]} and ${sio[@]} (render's): the
# template names each instance (@SIGNALING_SERVERS@ ...) or, in its older
# shape, one server per upstream.
signaling_upstreams() {
	local i servers='' sioservers='' pins='' map=''
	case $conf in
	*@SIGNALING_SERVERS@*) ;;
	*)
		[ ${#sig[@]} -eq 1 ] || die "several signaling instances need" \
			"a template with @SIGNALING_SERVERS@"
		replace_once "upstream SIGNALING" \
			"server 127.0.0.1:@PORT_SIGNALING@;" "server ${sig[0]};"
		replace_once "upstream SIGNALING_SIO" \
			"server 127.0.0.1:@PORT_SIGNALING_SIO@;" "server ${sio[0]};"
		return 0
		;;
	esac
	for ((i = 0; i < ${#sig[@]}; i++)); do
		servers+="server ${sig[$i]} max_fails=0; "
		sioservers+="server ${sio[$i]} max_fails=0; "
		if [ ${#sig[@]} -gt 1 ]; then
			pins+="upstream signaling_sio_$i { server ${sio[$i]}; keepalive 8; }"$'\n\t'
			map+="\"~^s$i\\.\" signaling_sio_$i;"$'\n\t\t'
		fi
	done
	replace_once "upstream SIGNALING" "@SIGNALING_SERVERS@" "$servers"
	replace_once "upstream SIGNALING_SIO" "@SIGNALING_SIO_SERVERS@" \
		"$sioservers"
	replace_once "pinned sessions" "@SIGNALING_SIO_PINS@" \
		"${pins:-# one instance: nothing to pin}"
	replace_once "session map" "@SIGNALING_SIO_MAP@" "${map:-# one instance}"
}

render() {
	local out=$1 k nofile ipv6 realip='' a
	[ -r "$TEMPLATE" ] || die "cannot read the template $TEMPLATE"
	conf=$(<"$TEMPLATE")

	local hostport='^[][A-Za-z0-9.:_-]+:[0-9]+$' h
	local -a sig=() sio=()
	for k in "${!UPSTREAM[@]}"; do
		for h in ${UPSTREAM[$k]//,/ }; do
			[[ $h =~ $hostport ]] ||
				die "invalid GATEWAY_UPSTREAM_$k '${UPSTREAM[$k]}':" \
					"want host:port"
		done
		case $k in
		SIGNALING) read -ra sig <<<"${UPSTREAM[$k]//,/ }" ;;
		SIGNALING_SIO) read -ra sio <<<"${UPSTREAM[$k]//,/ }" ;;
		*)
			replace_once "upstream $k" "server 127.0.0.1:@PORT_$k@;" \
				"server ${UPSTREAM[$k]};"
			;;
		esac
	done
	if [ ${#sig[@]} -eq 0 ] || [ ${#sig[@]} -ne ${#sio[@]} ]; then
		die "GATEWAY_UPSTREAM_SIGNALING and GATEWAY_UPSTREAM_SIGNALING_SIO" \
			"must list the same instances"
	fi
	signaling_upstreams
	[[ $PORT =~ ^[0-9]+$ ]] || die "invalid GATEWAY_PORT '$PORT'"
	replace_once listen "listen 127.0.0.1:@GATEWAY_PORT@;" "listen $PORT;"
	# Logs to the container's streams, as every daemon's.
	replace_once "error log" "error_log @NGINX_VAR@/logs/error.log warn;" \
		"error_log stderr warn;"
	replace_once "access log" \
		"access_log @NGINX_VAR@/logs/access.log json buffer=64k flush=1s;" \
		"access_log /dev/stdout json;"

	if [ -n "${GATEWAY_REAL_IP_FROM:-}" ]; then
		realip=$'\t# The proxy in front (GATEWAY_REAL_IP_FROM) names the client.\n'
		for a in ${GATEWAY_REAL_IP_FROM//,/ }; do
			[[ $a =~ ^[0-9A-Fa-f.:/]+$ ]] ||
				die "invalid GATEWAY_REAL_IP_FROM entry '$a'"
			realip+=$'\t'"set_real_ip_from $a;"$'\n'
		done
		realip+=$'\treal_ip_header X-Forwarded-For;\n\treal_ip_recursive on;\n\n'
	fi
	replace_once "http block" $'http {\n' $'http {\n'"$realip"

	ipv6="# IPv6: off (GATEWAY_LISTEN_IPV6=1 turns it on)"
	if [ "${GATEWAY_LISTEN_IPV6:-}" = 1 ]; then
		ipv6="listen [::]:$PORT;"
	fi
	# Not root: the hard limit is as high as nginx may go.
	nofile=$(ulimit -Hn)
	if [ "$nofile" = unlimited ] || [ "$nofile" -gt 20000 ]; then
		nofile=20000
	fi

	declare -A sub=(
		[USER_DIRECTIVE]="# nginx runs as the container's unprivileged user"
		[NOFILE]=$nofile
		[NGINX_VAR]=$VAR
		[MIME_TYPES]=$MIME
		[DEPLOY_NGINX]=$INCLUDES
		[LISTEN_IPV6]=$ipv6
		[PWA_ROOT]=$PWA
	)
	for k in "${!sub[@]}"; do
		conf=${conf//"@$k@"/"${sub[$k]}"}
	done
	if grep -qo '@[A-Z0-9_]*@' <<<"$conf"; then
		die "names left unfilled in $TEMPLATE:" \
			"$(grep -o '@[A-Z0-9_]*@' <<<"$conf" | sort -u | tr '\n' ' ')"
	fi
	if [ "$out" = - ]; then
		printf '%s\n' "$conf"
	else
		printf '%s\n' "$conf" >"$out"
	fi
}

case ${1:-} in
render)
	[ -n "${2:-}" ] || die "usage: gateway.sh render FILE"
	render "$2"
	;;
run)
	mkdir -p "$VAR"/tmp/{body,proxy,fastcgi,uwsgi,scgi}
	render "$VAR/nginx.conf"
	nginx -t -q -p "$VAR/" -c "$VAR/nginx.conf" -e stderr ||
		die "nginx rejects $VAR/nginx.conf"
	exec nginx -p "$VAR/" -c "$VAR/nginx.conf" -e stderr -g 'daemon off;'
	;;
*)
	echo "usage: gateway.sh render FILE | run" >&2
	exit 2
	;;
esac
