# initscope: the dashboard and REST API on port 8000.
# One stage is enough: every locked dependency installs from a binary wheel (--only-binary=:all:
# makes pip fail rather than compile), so no compiler or build tool ever enters the image.
# Runs from the source folder (templates/ and static/ sit beside app/) as an unprivileged user
# that can write nowhere in it. Settings are environment variables (INITSCOPE_WORKERS and the
# INITSCOPE_MAX_* limits, see README.md).
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="initscope" \
      org.opencontainers.image.description="What weight initialization and activation choice do to every layer of a deep network" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    NUMBA_CACHE_DIR=/tmp/initscope-kernels \
    INITSCOPE_WORKERS=2

WORKDIR /srv/initscope
COPY requirements.lock ./
RUN pip install --no-cache-dir --no-deps --only-binary=:all: -r requirements.lock \
    && groupadd --gid 10001 initscope \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin initscope
COPY app ./app
COPY static ./static
COPY templates ./templates
# The engine's compiled kernels, compiled once here into a numba cache outside the source folder.
# numba reads a cache only from a folder it may write, and the container may run read-only with a
# fresh /tmp: the server copies this one to NUMBA_CACHE_DIR as it starts (CMD below). Where it
# cannot (no writable /tmp), or on a CPU other than the build machine's, the server compiles them
# as it starts (~20 s of CPU), in memory when nothing is writable.
RUN mkdir -p /usr/local/share/initscope-kernels \
    && NUMBA_CACHE_DIR=/usr/local/share/initscope-kernels python -c "import app.engine.warm"
USER 10001:10001

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# `initscope serve` (run from the source folder) is PID 1 (exec) and runs INITSCOPE_WORKERS worker
# processes, with the server settings of every other way initscope starts (INITSCOPE_* timeouts).
CMD ["sh", "-c", "cp -R /usr/local/share/initscope-kernels/. \"${NUMBA_CACHE_DIR}\" 2>/dev/null; exec python -m app.cli serve --host 0.0.0.0 --port 8000 --workers \"${INITSCOPE_WORKERS}\""]
