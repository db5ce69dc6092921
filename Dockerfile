# syntax=docker/dockerfile:1
# The operator image. Build (tag = the chart's appVersion):
#   docker build -t ghcr.io/clonejob-operator/clonejob-operator:0.1.0 .
ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
RUN python -m venv /venv
COPY requirements.lock ./
RUN /venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN /venv/bin/pip install --no-cache-dir --no-deps . \
 && /venv/bin/pip uninstall --quiet --yes pip setuptools wheel \
 && find /venv -depth -type d \( -name tests -o -name test \) -path '*/site-packages/*' -exec rm -rf {} + \
 && /venv/bin/python -m compileall -q /venv

FROM python:${PYTHON_VERSION}-slim
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
ENTRYPOINT ["clonejob-operator", "run"]
CMD ["--standalone", "--all-namespaces"]
