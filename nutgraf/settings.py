"""Typed settings from NUTGRAF_* environment variables, validated once at start."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from nutgraf.contract.states import LANES, Lane

# `auto`: distilbart-cnn-12-6 where its weights are cached or the Hub answers, else the
# bundled offline model (nutgraf/models/auto.py decides, once, when a program starts).
AUTO_MODEL = "auto"
DEFAULT_MODEL = AUTO_MODEL
AMQP_SCHEMES = ("amqp://", "amqps://")
BROKER_SCHEMES = ("redis://", "rediss://", *AMQP_SCHEMES)


class SettingsError(ValueError):
    """A NUTGRAF_* variable has a value the service cannot run with."""


class Settings(BaseSettings):
    """Every knob of nutgraf; each field is read from NUTGRAF_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix="NUTGRAF_", extra="ignore", frozen=True)

    redis_url: str | None = Field(
        default=None,
        description="Redis: jobs, cache, default broker; unset: `nutgraf serve` starts its own.",
    )
    broker_url: str | None = Field(
        default=None,
        description="Queue broker: redis(s):// or amqp(s):// (RabbitMQ); unset: the Redis URL.",
    )
    redis_sentinels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated host:port of Redis Sentinels; set: the store, the cache, "
        "rate limits and a Redis broker follow the primary they name through a failover.",
    )
    redis_sentinel_master: str | None = Field(
        default=None,
        description="The master's name the Sentinels monitor (required with Sentinels).",
    )
    redis_sentinel_password: str | None = Field(
        default=None,
        description="Password of the Sentinels themselves (their requirepass), if any; the "
        "primary's is NUTGRAF_REDIS_URL's.",
    )
    redis_min_replicas: int = Field(
        default=0,
        ge=0,
        description="Replicas a write must reach (WAIT) before the API answers 2xx for it or "
        "a webhook goes out; 0: answer at once (a failover may lose the last writes).",
    )
    redis_min_replicas_timeout_ms: int = Field(
        default=1000,
        gt=0,
        description="How long to wait for those replicas; past it the API answers 503.",
    )
    redis_port: int | None = Field(
        default=None,
        gt=0,
        lt=65536,
        description="Port of the Redis `nutgraf serve` starts (127.0.0.1); unset: a free one.",
    )
    model: str = Field(
        default=DEFAULT_MODEL,
        description="Default model: auto, a preset, HF id, folder or .gguf file; auto: "
        "distilbart-cnn-12-6 where cached or the Hub answers, else the bundled smollm2-135m.",
    )
    model_auto: str | None = Field(
        default=None,
        description="Set by nutgraf, not by hand: why `auto` chose NUTGRAF_MODEL (for children).",
    )
    models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated models clients may ask for; the default model is always in.",
    )
    model_revision: str = Field(
        default="main", description="Hub revision (branch, tag or commit) for HF ids."
    )
    device: str = Field(
        default="auto", description="auto (CUDA when present), cpu, cuda or cuda:N."
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto",
        description="Weights' precision; auto: float16 on CUDA, bfloat16 on CPUs with native "
        "bfloat16 (AVX512-BF16, AMX), else float32.",
    )
    max_input_tokens: int | None = Field(
        default=None, ge=64, description="Force a smaller input window than the model's."
    )
    max_chars: int = Field(default=100_000, gt=0, description="Longest accepted text.")
    job_ttl_s: int = Field(default=7 * 86400, gt=0, description="How long job records live.")
    cache_ttl_s: int = Field(
        default=30 * 86400, gt=0, description="How long cached summaries live."
    )
    host: str = Field(
        default="127.0.0.1", description="Address the API binds (0.0.0.0 in containers)."
    )
    port: int = Field(default=8000, gt=0, lt=65536, description="Port the API binds.")
    api_workers: int = Field(
        default=2, gt=0, description="gunicorn worker processes (8 threads each)."
    )
    drain_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="On SIGTERM the API answers /readyz 503 and goes on serving this long, "
        "so that load balancers stop sending it clients, then finishes what is in flight.",
    )
    worker_concurrency: int = Field(default=1, gt=0, description="Celery pool size per worker.")
    worker_lanes: Annotated[list[Lane], NoDecode] = Field(
        default_factory=lambda: list(LANES),
        min_length=1,
        description="Lanes this worker takes jobs from, comma-separated: interactive, bulk. "
        "A worker of both lets an editor's job wait behind a bulk micro-batch: give each "
        "lane its own (`nutgraf serve` does).",
    )
    worker_nice: int = Field(
        default=0,
        ge=0,
        le=19,
        description="CPU niceness of this worker's processes: the bulk lane's yield the "
        "cores to the interactive lane's on a shared machine (`nutgraf serve`: 19).",
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="torch's threads in each pool process; unset: the cores divided among "
        "the pool's processes.",
    )
    worker_pool: Literal["auto", "prefork", "solo", "threads"] = Field(
        default="auto", description="auto: prefork on CPU, solo or threads on CUDA."
    )
    batch_size: int = Field(
        default=8, gt=0, le=256, description="Most jobs summarized in one generate() call."
    )
    batch_tokens: int | None = Field(
        default=None,
        ge=64,
        description="Most padded input tokens per generate(); default: 8 input windows.",
    )
    max_article_tokens: int = Field(
        default=40_000, ge=64, description="Longer articles fail alone as article_too_long."
    )
    batch_wait_ms: int = Field(
        default=50, ge=1, description="Longest a lone job waits for a batch to fill."
    )
    task_time_limit_s: int = Field(
        default=900, gt=0, description="Hard limit on one job; past it, the job fails (timeout)."
    )
    visibility_timeout_s: int = Field(
        default=0, ge=0, description="Redelivery delay of a lost job; 0: time limit + 5 min."
    )
    max_job_attempts: int = Field(default=3, gt=0, description="Deliveries before a job fails.")
    requeue_after_s: int = Field(
        default=60,
        ge=5,
        description="A job queued this long with nothing running it is sent again.",
    )
    worker_max_memory_mb: int = Field(
        default=4096, gt=0, description="A pool process above this is replaced after its job."
    )
    # `shown_default`: what the docs print for a default that depends on the machine.
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("nutgraf")),
        description="Embedded Redis data (AOF) lives here.",
        json_schema_extra={"shown_default": "the user data dir (`~/.local/share/nutgraf`)"},
    )
    cache_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_cache_dir("nutgraf")),
        description="Converted models live here.",
        json_schema_extra={"shown_default": "the user cache dir (`~/.cache/nutgraf`)"},
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line; text: for humans."
    )
    # Newsroom integration: batches, keys, limits, webhooks.
    max_batch_items: int = Field(default=1000, gt=0, description="Most items in one batch.")
    max_body_mb: int = Field(
        default=64, gt=0, description="Largest request body (batches), refused before reading."
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated API keys; set: every /v1 and /hf call needs a Bearer key.",
    )
    api_keys_file: Path | None = Field(
        default=None, description="File of API keys, one per line (# comments), with API_KEYS."
    )
    api_key: str | None = Field(
        default=None, description="Key the batch CLI and Python client send (client side)."
    )
    rate_limit: str = Field(
        default="", description="Per-key (or per-address) limit, e.g. 600/minute; empty: none."
    )
    max_queue: int = Field(
        default=10_000, gt=0, description="Queued jobs past which new work gets 503."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS (* for any)."
    )
    webhook_secret: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="whsec_ secrets signing callbacks, comma- or space-separated (rotation: "
        "each signs); unset: callback_url refused.",
    )
    webhook_allow_private: bool = Field(
        default=False, description="Allow callbacks to loopback, private, link-local addresses."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="A whole delivery attempt, DNS look-up to answer."
    )
    webhook_retry_for_s: int = Field(
        default=3600, gt=0, description="How long a failing callback is retried."
    )
    idempotency_ttl_s: int = Field(
        default=86400, ge=60, description="How long an Idempotency-Key is remembered."
    )
    # At most 30 s, like `Prefer: wait`: a wait holds an API thread (gunicorn's timeout: 60 s).
    hf_wait_s: float = Field(
        default=30.0, gt=0, le=30, description="How long /hf waits for summaries before a 503."
    )

    @field_validator(
        "models", "api_keys", "cors_origins", "worker_lanes", "redis_sentinels", mode="before"
    )
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        # Base64 has neither commas nor spaces, so either separates secrets.
        if isinstance(value, str):
            return [part for part in re.split(r"[\s,]+", value) if part]
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _check_secrets(cls, value: list[str]) -> list[str]:
        # Imported here: the webhooks package imports these settings.
        from nutgraf.webhooks.signing import secret_key

        for number, secret in enumerate(value, 1):
            try:
                secret_key(secret)
            except ValueError as exc:
                raise ValueError(
                    f"secret {number} of {len(value)}: {exc}; make one with "
                    "`nutgraf webhook-secret`"
                ) from None
        if len(set(value)) < len(value):
            raise ValueError("a secret is listed twice")
        return value

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(
            r"\d+\s*(/|per)\s*(\d+\s*)?(second|minute|hour|day)s?", value, re.IGNORECASE
        ):
            raise ValueError("must look like 600/minute, 10/second or 5000/hour")
        return value

    @field_validator("api_keys_file")
    @classmethod
    def _keys_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a readable file")
        return value

    def all_api_keys(self) -> list[str]:
        """Keys from NUTGRAF_API_KEYS and NUTGRAF_API_KEYS_FILE together."""
        keys = list(self.api_keys)
        if self.api_keys_file is not None:
            for line in self.api_keys_file.read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    keys.append(line)
        return keys

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        if value in {"auto", "cpu", "cuda"} or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError("must be auto, cpu, cuda or cuda:N")

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _check_sentinels(cls, value: list[str]) -> list[str]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{address!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _sentinels_name_their_master(self) -> Settings:
        # With Sentinels, NUTGRAF_REDIS_URL only carries the primary's password, database
        # and TLS; its host is the master's name, never dialled. Filled in when unset, so
        # that everything asking "is there a Redis?" finds one (and `nutgraf serve` starts
        # none of its own).
        if not self.redis_sentinels:
            return self
        if not self.redis_sentinel_master:
            raise ValueError(
                "NUTGRAF_REDIS_SENTINEL_MASTER is required with NUTGRAF_REDIS_SENTINELS"
            )
        if self.redis_url is None:
            object.__setattr__(self, "redis_url", f"redis://{self.redis_sentinel_master}/0")
        elif self.redis_url.startswith("unix://"):
            raise ValueError("NUTGRAF_REDIS_URL cannot be unix:// with NUTGRAF_REDIS_SENTINELS")
        return self

    @field_validator("broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        value = value.strip()
        if not value.startswith(BROKER_SCHEMES):
            raise ValueError(
                "must start with redis://, rediss://, amqp:// or amqps:// "
                "(unset: the broker is NUTGRAF_REDIS_URL)"
            )
        return value

    @model_validator(mode="after")
    def _default_model_is_served_first(self) -> Settings:
        others = [name for name in self.models if name != self.model]
        object.__setattr__(self, "models", [self.model, *others])
        return self

    @model_validator(mode="after")
    def _redelivery_after_time_limit(self) -> Settings:
        # Below the time limit, Redis would hand a job still running to a second worker.
        if self.visibility_timeout_s and self.visibility_timeout_s <= self.task_time_limit_s:
            raise ValueError(
                f"NUTGRAF_VISIBILITY_TIMEOUT_S ({self.visibility_timeout_s}) must be above "
                f"NUTGRAF_TASK_TIME_LIMIT_S ({self.task_time_limit_s})"
            )
        return self

    @property
    def visibility_timeout(self) -> int:
        """Seconds before Redis hands an unacknowledged job to another worker."""
        if self.visibility_timeout_s:
            return self.visibility_timeout_s
        return self.task_time_limit_s + 300

    @property
    def broker(self) -> str | None:
        """The broker URL in effect: NUTGRAF_BROKER_URL, else the Redis URL (which
        `nutgraf serve` fills in with its own Redis when NUTGRAF_REDIS_URL is unset), or
        with Sentinels kombu's `sentinel://h1:p1;sentinel://h2:p2` (worker.app adds the
        master's name as a transport option)."""
        if self.broker_url:
            return self.broker_url
        if self.redis_sentinels and self.redis_url:
            # The URL's password and database are the primary's, as in NUTGRAF_REDIS_URL.
            parts = urlsplit(self.redis_url)
            auth = parts.netloc.rpartition("@")[0]
            login = f"{auth}@" if auth else ""
            return ";".join(
                f"sentinel://{login}{address}{parts.path}" for address in self.redis_sentinels
            )
        return self.redis_url

    @property
    def broker_is_amqp(self) -> bool:
        """True when the broker is RabbitMQ (amqp:// or amqps://)."""
        return (self.broker or "").startswith(AMQP_SCHEMES)

    @property
    def consumer_timeout(self) -> int:
        """Seconds RabbitMQ lets a worker hold a delivered job unacknowledged before it
        closes the channel; a prefetched job may wait one batch before its own runs."""
        return self.visibility_timeout + self.task_time_limit_s


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise SettingsError with one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "settings"
            problems.append(f"NUTGRAF_{field.upper()}: {err['msg']}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


def env_for_children(settings: Settings) -> dict[str, str]:
    """The environment a child process needs to see these exact settings."""
    env = dict(os.environ)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            env.pop(f"NUTGRAF_{name.upper()}", None)
        elif isinstance(value, list):
            env[f"NUTGRAF_{name.upper()}"] = ",".join(value)
        else:
            env[f"NUTGRAF_{name.upper()}"] = str(value)
    return env
