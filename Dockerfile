# The monitor in a container: `docker build -t monitor .` then
#   docker run -d --name monitor -v monitor-data:/data -e SMTP_PASSWORD=... -p 127.0.0.1:8080:8080 monitor
# Mount your own config at /app/config.yaml to replace the bundled example.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_CONFIG=/app/config.yaml MONITOR_DATABASE=sqlite:////data/monitor.db
WORKDIR /app

# Dependencies first (exact versions from constraints.txt), so code changes rebuild one layer.
COPY pyproject.toml constraints.txt README.md ./
COPY monitor/__init__.py monitor/__init__.py
RUN pip install --no-cache-dir -c constraints.txt -e . && rm -rf /root/.cache

COPY monitor monitor
COPY migrations migrations
COPY seeds seeds
COPY config.yaml config.yaml

RUN useradd --system --uid 10001 --home /data monitor && mkdir -p /data /app/outbox \
    && chown monitor /data /app/outbox
USER monitor
VOLUME /data
EXPOSE 8080

HEALTHCHECK --interval=60s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"

# SIGTERM (docker stop) lets in-flight polls and sends finish; give it more than the 20 s grace.
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "monitor db upgrade && monitor seeds import && exec monitor run --log-format json --http 0.0.0.0:8080"]
