# initscope: the dashboard and REST API on port 8000.
# Runs from the source folder (templates/ and static/ sit beside app/); dependencies from the lock.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/initscope
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock \
    && useradd --system --uid 10001 --home-dir /srv/initscope initscope
COPY app ./app
COPY static ./static
COPY templates ./templates
USER initscope

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000"]
