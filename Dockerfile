# tensiond container: a venv with the pinned dependencies and the packaged encoder, a non-root
# user, the state directory as a volume, the config at /etc/tensiond/tensiond.yaml, and a health
# check that asks the daemon itself. See packaging/container/README.md.
#
# Build:  packaging/container/build.sh        (makes the Debian base with debootstrap, then this)
#   or:   podman build --format docker --network host --build-arg BASE=... -t tensiond .
# BASE must be Debian bookworm (or another image whose python3 is 3.11, with python3-venv and
# tini): torch is pinned to the 2.13.0 CPU wheel (constraints.txt), built for CPython 3.11 only.
ARG BASE=tensiond-base:bookworm

# ---- deps: the venv with every pinned dependency --------------------------------------------------
FROM ${BASE} AS deps
# How pip reaches its packages: build.sh passes the host's own settings (and mounts any local
# wheel folders or file:// indexes at the same paths). Empty ones are dropped before pip runs.
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ARG PIP_TRUSTED_HOST=""
ARG PIP_CERT=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180
WORKDIR /src
# pyproject's dependency list, pinned by constraints.txt. Then two guards against the multi-GB
# CUDA build of torch; the parts of the torch wheel that only serve C++ development (headers,
# C++ test binaries: about 190 MB) go, and so does pip (nothing installs at run time; setuptools
# stays: torch declares it).
COPY pyproject.toml constraints.txt ./
RUN set -eu; \
    for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST PIP_CERT; do \
      eval "value=\${$name:-}"; [ -n "$value" ] || unset "$name"; \
    done; \
    python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' >/tmp/requirements.txt; \
    python3 -m venv /opt/tensiond; \
    /opt/tensiond/bin/pip install --quiet -c constraints.txt -r /tmp/requirements.txt; \
    /opt/tensiond/bin/python -c "import sys, torch; sys.exit(torch.version.cuda is not None)" \
      || { echo "torch is a CUDA build: the constraints did not hold" >&2; exit 1; }; \
    if /opt/tensiond/bin/pip list 2>/dev/null | grep -i '^nvidia-'; then \
      echo "CUDA libraries were installed" >&2; exit 1; \
    fi; \
    torch=/opt/tensiond/lib/python3.11/site-packages/torch; \
    rm -rf "$torch/include" "$torch/test" "$torch"/bin/test_* "$torch"/bin/*Test "$torch"/bin/protoc*; \
    /opt/tensiond/bin/pip uninstall --quiet --yes pip

# ---- build: tensiond itself, staged as the files it adds to the runtime image -----------------------
FROM deps AS build
# Build arguments belong to one stage: the pip settings again, for the build of tensiond itself.
ARG PIP_INDEX_URL=""
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ARG PIP_TRUSTED_HOST=""
ARG PIP_CERT=""
# The package, with the trained head and the gazetteer inside it: an install has no source tree,
# and tensiond falls back to tensiond/data/ when there is no models/ or config/ above it.
COPY README.md ./
COPY daemon ./daemon
COPY models/head ./daemon/tensiond/data/head
COPY config/actors.yaml ./daemon/tensiond/data/actors.yaml
COPY demo/feeds.json config/demo.yaml ./daemon/tensiond/data/demo/
COPY config/tensiond.yaml ./tensiond.yaml
# A throwaway pip installs into the venv (pip --python), then checks it. The baked config is the
# team's config/tensiond.yaml with one change: in a container the endpoint must listen beyond the
# container's own loopback to be published (-p 9464:9464); the health check connects to
# 127.0.0.1 either way. /stage holds exactly what the runtime image gets on top of the deps.
RUN set -eu; \
    for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST PIP_CERT; do \
      eval "value=\${$name:-}"; [ -n "$value" ] || unset "$name"; \
    done; \
    python3 -m venv /tmp/pip; \
    /tmp/pip/bin/pip --python /opt/tensiond/bin/python install --quiet --no-deps . ; \
    /tmp/pip/bin/pip --python /opt/tensiond/bin/python check; \
    sed -i 's|^\(  listen: *\)"127\.0\.0\.1:\([0-9]*\)"|\1"0.0.0.0:\2"|' tensiond.yaml; \
    grep -q '^  listen: *"0\.0\.0\.0:9464"' tensiond.yaml \
      || { echo "config/tensiond.yaml: http.listen is not 127.0.0.1:9464 any more" >&2; exit 1; }; \
    /opt/tensiond/bin/tensiond check-config tensiond.yaml; \
    site=opt/tensiond/lib/python3.11/site-packages; \
    mkdir -p "/stage/$site" /stage/opt/tensiond/bin /stage/etc/tensiond; \
    cp -a "/$site/tensiond" "/$site"/tensiond-*.dist-info "/stage/$site/"; \
    cp -a /opt/tensiond/bin/tensiond /stage/opt/tensiond/bin/; \
    cp tensiond.yaml /stage/etc/tensiond/tensiond.yaml

# ---- runtime ------------------------------------------------------------------------------------
FROM ${BASE}
# uid 10001: above the system range, so it matches no account of a host that mounts the volume.
RUN groupadd --gid 10001 tensiond \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/tensiond --no-create-home \
      --shell /usr/sbin/nologin --comment "tensiond daemon" tensiond \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/tensiond \
 && install -d -m 0755 /etc/tensiond
# Two layers: the dependencies (about 1.3 GB, rebuilt only when pyproject.toml or
# constraints.txt change) and tensiond itself (3.5 MB, most of it the trained head).
COPY --from=deps /opt/tensiond /opt/tensiond
COPY --from=build /stage/ /
ENV PATH=/opt/tensiond/bin:$PATH \
    TENSIOND_CONFIG=/etc/tensiond/tensiond.yaml \
    STATE_DIRECTORY=/var/lib/tensiond \
    HOME=/var/lib/tensiond \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HUB_DISABLE_PROGRESS_BARS=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so that a runtime can verify "not root" without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/tensiond
VOLUME ["/var/lib/tensiond"]
EXPOSE 9464
# /healthz answers as soon as the endpoint is up (before the model has loaded); /readyz is for
# traffic-style readiness. `tensiond healthcheck` reads http.listen from $TENSIOND_CONFIG.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["tensiond", "healthcheck"]
STOPSIGNAL SIGTERM
# tini is PID 1: it passes SIGTERM and SIGHUP on to tensiond (SIGTERM even before tensiond
# installs its handlers) and reaps the feed parser's worker processes. The config is named on the
# command line, as in the systemd unit: `tensiond run` given only $TENSIOND_CONFIG does not
# reload on SIGHUP or on a change of the file.
ENTRYPOINT ["/usr/bin/tini", "--", "tensiond"]
CMD ["run", "--config", "/etc/tensiond/tensiond.yaml"]
# Last, so that a new revision changes only this metadata, never a cached layer above.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tensiond" \
      org.opencontainers.image.description="Geopolitical tension alerts: news feeds in, Slack alerts out" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
