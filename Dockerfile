# headless-checkout: one image for `checkout serve` (API), `checkout worker` and
# `checkout migrate`. Dependencies come from requirements.lock (the versions the tests ran
# with); the project itself is installed on top without resolving anything again.
# See docs/DEPLOY.md.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/checkout
COPY requirements.lock /tmp/requirements.lock
RUN /opt/checkout/bin/pip install --no-deps -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY checkout ./checkout
COPY customers ./customers
COPY providers ./providers
COPY webhooks ./webhooks
COPY migrations ./migrations
# Build tools pinned here (not runtime dependencies, so not in the lock).
RUN /opt/checkout/bin/pip install setuptools==84.2.1 wheel==0.48.0 \
    && /opt/checkout/bin/pip install --no-deps --no-build-isolation . \
    && /opt/checkout/bin/pip check

FROM python:3.11-slim
RUN groupadd --system --gid 10001 checkout \
    && useradd --system --uid 10001 --gid checkout --home-dir /var/lib/checkout \
       --shell /usr/sbin/nologin checkout \
    && install -d -o checkout -g checkout -m 700 /var/lib/checkout
COPY --from=build /opt/checkout /opt/checkout
ENV PATH=/opt/checkout/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHECKOUT_ENV=production \
    CHECKOUT_DATA_DIR=/var/lib/checkout \
    CHECKOUT_PUBLIC_HOST=0.0.0.0 \
    CHECKOUT_PUBLIC_PORT=8000 \
    CHECKOUT_PRIVATE_PORT=8001
USER 10001:10001
WORKDIR /var/lib/checkout
EXPOSE 8000 8001
ENTRYPOINT ["checkout"]
CMD ["serve"]
