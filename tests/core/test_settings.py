"""Settings from NUTGRAF_* variables: defaults, validation and the configuration reference."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from nutgraf.settings import (
    DEFAULT_MODEL,
    Settings,
    SettingsError,
    env_for_children,
    load_settings,
)
from nutgraf.webhooks import new_secret

REFERENCE = Path(__file__).parents[2] / "docs/configuration.md"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # Standard Webhooks' test vector's


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NUTGRAF_* variable from the calling shell leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("NUTGRAF_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = load_settings()
    assert settings.redis_url is None
    assert settings.model == DEFAULT_MODEL
    assert settings.models == [DEFAULT_MODEL]
    assert settings.model_revision == "main"
    assert settings.device == "auto"
    assert settings.max_chars == 100_000
    assert settings.worker_pool == "auto"
    assert settings.log_level == "INFO"
    assert settings.visibility_timeout_s == 0


@pytest.mark.parametrize("value", ["0", "-5", "abc", "1.5", ""])
def test_bad_max_chars(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NUTGRAF_MAX_CHARS", value)
    with pytest.raises(SettingsError, match="NUTGRAF_MAX_CHARS") as caught:
        load_settings()
    assert "\n" not in str(caught.value)


def test_good_max_chars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MAX_CHARS", "5000")
    assert load_settings().max_chars == 5000


@pytest.mark.parametrize("value", ["tpu", "cuda:", "cuda:x", "gpu", "cpu:0"])
def test_bad_device(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NUTGRAF_DEVICE", value)
    with pytest.raises(SettingsError, match="NUTGRAF_DEVICE"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        ("cpu", "cpu"),
        ("cuda", "cuda"),
        ("cuda:1", "cuda:1"),
        (" CUDA:0 ", "cuda:0"),
    ],
)
def test_good_device(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("NUTGRAF_DEVICE", value)
    assert load_settings().device == expected


def test_models_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MODELS", "a, b")
    assert load_settings().models == [DEFAULT_MODEL, "a", "b"]


def test_models_list_skips_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MODELS", " a ,, b , ")
    assert load_settings().models == [DEFAULT_MODEL, "a", "b"]


def test_models_list_includes_a_custom_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MODEL", "t5-small")
    monkeypatch.setenv("NUTGRAF_MODELS", "a,b")
    settings = load_settings()
    assert settings.model == "t5-small"
    assert settings.models == ["t5-small", "a", "b"]


def test_models_list_without_duplicate_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MODELS", f"{DEFAULT_MODEL},a")
    assert load_settings().models == [DEFAULT_MODEL, "a"]


@pytest.mark.parametrize("value", ["http://x", "localhost:6379", "redis:/x"])
def test_bad_redis_url(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NUTGRAF_REDIS_URL", value)
    with pytest.raises(SettingsError, match="NUTGRAF_REDIS_URL"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("rediss://cache.example:6380/1", "rediss://cache.example:6380/1"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
        ("", None),
    ],
)
def test_good_redis_url(monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv("NUTGRAF_REDIS_URL", value)
    assert load_settings().redis_url == expected


def test_several_problems_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_MAX_CHARS", "0")
    monkeypatch.setenv("NUTGRAF_DEVICE", "tpu")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "NUTGRAF_MAX_CHARS" in str(caught.value)
    assert "NUTGRAF_DEVICE" in str(caught.value)


def test_overrides_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_PORT", "9000")
    assert load_settings().port == 9000
    assert load_settings(port=9001).port == 9001


def test_visibility_timeout_default() -> None:
    settings = load_settings()
    assert settings.visibility_timeout == settings.task_time_limit_s + 300
    assert settings.visibility_timeout > settings.task_time_limit_s


def test_visibility_timeout_follows_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_TASK_TIME_LIMIT_S", "60")
    settings = load_settings()
    assert settings.visibility_timeout == 360
    assert settings.visibility_timeout > settings.task_time_limit_s


def test_visibility_timeout_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_VISIBILITY_TIMEOUT_S", "7200")
    assert load_settings().visibility_timeout == 7200


def test_every_setting_is_in_the_configuration_reference() -> None:
    # The table is generated (`make docs`); tests/service/test_reference.py checks it is fresh.
    assert REFERENCE.is_file(), f"{REFERENCE} is missing"
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    table_rows = [line for line in lines if line.lstrip().startswith("|")]
    documented = set(re.findall(r"NUTGRAF_[A-Z0-9_]+", "\n".join(table_rows)))
    expected = {f"NUTGRAF_{name.upper()}" for name in Settings.model_fields}
    assert sorted(expected - documented) == []


def test_a_visibility_timeout_below_the_time_limit_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Redis would hand a job that is still running to a second worker.
    monkeypatch.setenv("NUTGRAF_TASK_TIME_LIMIT_S", "900")
    monkeypatch.setenv("NUTGRAF_VISIBILITY_TIMEOUT_S", "600")
    with pytest.raises(SettingsError, match="VISIBILITY_TIMEOUT_S"):
        load_settings()


def test_redis_port_is_unset_by_default_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().redis_port is None  # `nutgraf serve` picks a free port
    monkeypatch.setenv("NUTGRAF_REDIS_PORT", "6380")
    assert load_settings().redis_port == 6380
    for bad in ("0", "65536", "redis"):
        monkeypatch.setenv("NUTGRAF_REDIS_PORT", bad)
        with pytest.raises(SettingsError, match="NUTGRAF_REDIS_PORT"):
            load_settings()


def test_webhook_secrets_are_a_list_split_on_commas_or_spaces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = new_secret(), new_secret()
    assert load_settings().webhook_secret == []
    for separator in (",", " ", ", ", "\n"):
        monkeypatch.setenv("NUTGRAF_WEBHOOK_SECRET", f" {new}{separator}{old} ")
        assert load_settings().webhook_secret == [new, old]
    # Child processes (`nutgraf serve`'s worker and API) read the same list back.
    monkeypatch.setenv(
        "NUTGRAF_WEBHOOK_SECRET", env_for_children(load_settings())["NUTGRAF_WEBHOOK_SECRET"]
    )
    assert load_settings().webhook_secret == [new, old]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("integration-webhook-secret", "secret 1 of 1: a webhook secret starts with whsec_"),
        ("whsec_dGVzdA==", "decodes to 4 bytes"),
        ("whsec_abc$", "is not base64"),
        (f"{SECRET},whsec_dGVzdA==", "secret 2 of 2"),
    ],
)
def test_malformed_webhook_secrets_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("NUTGRAF_WEBHOOK_SECRET", value)
    with pytest.raises(SettingsError, match="NUTGRAF_WEBHOOK_SECRET") as caught:
        load_settings()
    assert problem in str(caught.value)
    assert "nutgraf webhook-secret" in str(caught.value)  # how to make a good one
    assert "dGVzdA" not in str(caught.value)  # secrets are not echoed


def test_a_webhook_secret_listed_twice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_WEBHOOK_SECRET", f"{SECRET} {SECRET}")
    with pytest.raises(SettingsError, match=r"NUTGRAF_WEBHOOK_SECRET: .*listed twice"):
        load_settings()


@pytest.mark.parametrize("value", ["http://x", "amqp:/x", "rabbitmq://h", "unix:///s", "sqs://"])
def test_bad_broker_url(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NUTGRAF_BROKER_URL", value)
    with pytest.raises(SettingsError, match=r"NUTGRAF_BROKER_URL: .*amqp://"):
        load_settings()


@pytest.mark.parametrize(
    ("value", "amqp"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/nutgraf", True),
        ("amqps://user:pw@mq.example:5671/prod", True),
        ("redis://queue.example:6379/2", False),
        ("rediss://queue.example:6380/0", False),
    ],
)
def test_good_broker_url(monkeypatch: pytest.MonkeyPatch, value: str, amqp: bool) -> None:
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("NUTGRAF_BROKER_URL", value)
    settings = load_settings()
    assert settings.broker == value and settings.broker_is_amqp is amqp
    assert settings.redis_url == "redis://127.0.0.1:6379/0"  # still the store and the cache


def test_the_broker_defaults_to_the_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUTGRAF_BROKER_URL", "")
    assert load_settings().broker is None
    monkeypatch.setenv("NUTGRAF_REDIS_URL", "unix:///run/redis.sock")
    settings = load_settings()
    assert settings.broker_url is None and settings.broker == "unix:///run/redis.sock"
    assert not settings.broker_is_amqp


def test_the_broker_follows_the_redis_that_serve_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    # `nutgraf serve` copies its own Redis's URL into the settings its children receive.
    started = load_settings().model_copy(update={"redis_url": "redis://127.0.0.1:7001/0"})
    assert started.broker == "redis://127.0.0.1:7001/0"
    env = env_for_children(started)
    assert "NUTGRAF_BROKER_URL" not in env
    for name, value in env.items():
        if name.startswith("NUTGRAF_"):
            monkeypatch.setenv(name, value)
    assert load_settings().broker == "redis://127.0.0.1:7001/0"


def test_the_consumer_timeout_outlasts_a_job_and_the_batch_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NUTGRAF_TASK_TIME_LIMIT_S", "900")
    assert load_settings().consumer_timeout == 900 + 1200
    monkeypatch.setenv("NUTGRAF_VISIBILITY_TIMEOUT_S", "1000")
    assert load_settings().consumer_timeout == 1900
