# syntax=docker/dockerfile:1
# deploy/docker/gateway.Dockerfile: the gateway, nginx with the built PWA and
# the routes of deploy/nginx/gateway.conf.in (rendered at start by
# deploy/docker/gateway.sh for hosts named auth, events, ... ; see there for
# its GATEWAY_* variables). Build from the repository root:
#
#   docker build -f deploy/docker/gateway.Dockerfile -t spotlight/gateway .
#
# BuildKit reads deploy/docker/gateway.Dockerfile.dockerignore.

# ---- the PWA: frontend/dist ------------------------------------------------
# Vite 7 wants Node 20.19+ or 22.12+ (Debian 12's nodejs is 18).
FROM node:22-bookworm-slim AS pwa
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npx vite build

# ---- runtime: Debian's nginx, unprivileged ---------------------------------
FROM debian:bookworm-slim AS gateway
RUN apt-get update \
	&& apt-get install -y --no-install-recommends nginx curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& groupadd --system --gid 10001 spotlight \
	&& useradd --system --uid 10001 --gid 10001 --no-create-home \
		--home-dir /nonexistent --shell /usr/sbin/nologin spotlight
COPY deploy/nginx/gateway.conf.in deploy/nginx/proxy.conf \
	deploy/nginx/security-headers.conf /etc/spotlight-gateway/
COPY --chmod=0755 deploy/docker/gateway.sh /usr/local/bin/gateway.sh
COPY --from=pwa /src/frontend/dist/ /usr/share/spotlight/pwa/
# Everything nginx writes (pid, temp files, the rendered config) is under
# GATEWAY_VAR=/tmp/nginx: with a read-only root file system, mount a tmpfs
# or an emptyDir on /tmp. Logs go to stdout (access, JSON lines) and stderr.
ENV GATEWAY_VAR=/tmp/nginx
EXPOSE 8080
USER 10001:10001
# The gateway hides the daemons' /health (404, by design): the app's page
# answering is the gateway's health.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
	CMD curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:${GATEWAY_PORT:-8080}/" || exit 1
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/gateway.sh", "run"]
