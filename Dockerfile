# The Dosis server. Untested in CI: the build machines have no Docker engine.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY drivers drivers
COPY monitor monitor
COPY dashboard dashboard
RUN pip install --no-cache-dir . && useradd --system --home /data dosis && mkdir -p /data && chown dosis /data
USER dosis
ENV DOSIS_DATA_DIR=/data DOSIS_HOST=0.0.0.0 DOSIS_PORT=8000
EXPOSE 8000
CMD ["dosis", "serve"]
