# The CRM backend: `crm migrate` then `crm serve` (gunicorn) on port 8000.
# Configure it with environment variables (DATABASE_URL, SECRET_KEY, ...; see .env.example).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs (README.md is its long description). Copying the whole work tree
# would also bring .venv, var/ (the SQLite database) and .env (secrets) into the image.
COPY setup.cfg pyproject.toml README.md ./
COPY crm ./crm
RUN pip install . \
    && useradd --create-home --uid 10001 crm \
    && mkdir -p /app/var \
    && chown crm /app/var

# gunicorn keeps its control socket in $HOME/.gunicorn; var/ holds the default SQLite file.
USER crm

EXPOSE 8000

CMD ["sh", "-c", "python -m crm migrate && python -m crm serve --host 0.0.0.0 --port 8000"]
