# The firegw gateway image. The site file is mounted at /etc/firegw/site.yaml; everything the
# gateway keeps (outbox, alarm store, rejected payloads) lives in the volume /var/lib/firegw,
# so the site file's outbox must be there: `outbox: {path: /var/lib/firegw/outbox.sqlite}`.
#
#   docker build -t firegw .
#   docker volume create firegw-state
#   docker run -d --restart unless-stopped --name firegw \
#       -v /etc/firegw:/etc/firegw:ro -v firegw-state:/var/lib/firegw -p 9720:9720 firegw
#
# The gateway runs as user firegw, uid and gid 10001. A named volume gets that owner from the
# image by itself; a host folder mounted instead must be given to it first:
#   sudo install -d -o 10001 -g 10001 -m 0700 /srv/firegw && docker run ... -v /srv/firegw:/var/lib/firegw
# compose.yaml runs the whole demo: Mosquitto, InfluxDB, the simulators and the gateway.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
# The dependencies exactly as locked (pip-compile --generate-hashes: every file checked),
# then firegw itself, into one virtual environment that the final stage copies.
RUN python3 -m venv /opt/firegw
COPY requirements.lock /tmp/requirements.lock
RUN /opt/firegw/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY drivers ./drivers
COPY rules ./rules
COPY gateway ./gateway
COPY simulators ./simulators
COPY firegw ./firegw
RUN /opt/firegw/bin/pip install --no-cache-dir --no-deps . && /opt/firegw/bin/pip uninstall -y -q pip

FROM ${BASE}
RUN groupadd --system --gid 10001 firegw \
    && useradd --system --uid 10001 --gid firegw --home-dir /var/lib/firegw \
        --shell /usr/sbin/nologin firegw \
    && install -d -o firegw -g firegw -m 0700 /var/lib/firegw
COPY --from=build /opt/firegw /opt/firegw
# The example sites, profiles and scenarios (the compose demo's site file names the profiles).
COPY config /usr/share/firegw/config
ENV PATH=/opt/firegw/bin:$PATH PYTHONUNBUFFERED=1
VOLUME /var/lib/firegw
WORKDIR /var/lib/firegw
USER firegw:firegw
EXPOSE 9720
# Healthy while the gateway's own /healthz says so (FIREGW_HEALTHZ if --metrics listens elsewhere).
ENV FIREGW_HEALTHZ=http://127.0.0.1:9720/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['FIREGW_HEALTHZ'], timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["firegw"]
CMD ["run", "/etc/firegw/site.yaml", "--metrics", "0.0.0.0:9720"]
