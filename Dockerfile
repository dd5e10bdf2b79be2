# firegw gateway image. The site config and outbox live outside the image:
#   docker run -v /etc/firegw:/etc/firegw -v /var/lib/firegw:/var/lib/firegw firegw
FROM python:3.11-slim-bookworm

WORKDIR /opt/firegw
COPY pyproject.toml README.md ./
COPY core ./core
COPY gateway ./gateway
COPY drivers ./drivers
COPY rules ./rules
COPY simulators ./simulators
COPY firegw ./firegw
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/firegw firegw \
    && mkdir -p /var/lib/firegw && chown firegw /var/lib/firegw

USER firegw
STOPSIGNAL SIGTERM
ENTRYPOINT ["firegw"]
CMD ["run", "/etc/firegw/site.yaml"]
