# The Dosis server image; docker-compose.yml runs it beside PostgreSQL and InfluxDB.
# Not built in CI (the build machines have no Docker engine); tests/test_compose.py checks it.
# Needs BuildKit (Docker 23 or newer) for COPY --chmod.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project as a regular (not editable) install; the sources are not kept in the image's filesystem.
COPY pyproject.toml README.md LICENSE /src/
COPY drivers /src/drivers
COPY monitor /src/monitor
COPY dashboard /src/dashboard
RUN pip install --no-cache-dir /src && rm -rf /src

COPY --chmod=0755 deploy/healthcheck.py /usr/local/bin/dosis-healthcheck

# A fixed uid: the secrets files Dosis reads must belong to it on the host (deploy/make-secrets.sh).
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin dosis \
    && install --directory --owner=dosis --group=dosis --mode=0700 /data
USER 10001:10001
WORKDIR /data

ENV DOSIS_DATA_DIR=/data \
    DOSIS_HOST=0.0.0.0 \
    DOSIS_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["dosis-healthcheck"]
CMD ["dosis", "serve"]
