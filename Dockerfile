# One image for every process: the API (default command), `python -m app worker`, `beat` and `migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Requirements first, so a code change does not reinstall them. Every dependency ships manylinux wheels,
# so no compiler is needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --system --create-home --uid 10001 agentline
COPY . .
# DATA_DIR is the only place the app writes to (beat's schedule file); everything else stays root-owned.
RUN mkdir -p /app/.data && chown agentline:agentline /app/.data

USER agentline
ENV ENVIRONMENT=production
EXPOSE 8000
CMD ["python", "-m", "app", "serve", "--host", "0.0.0.0", "--port", "8000"]
