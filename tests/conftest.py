"""Shared fixtures: a private real Redis, a real Celery worker process, the API, and a
tiny random-weight BART for the model and summarizer tests; and the test tiers.

Tiers, by path alone (`pytest_collection_modifyitems` below; no hand-put marks):
  unit         everything outside tests/integration/: no Celery worker, no model behind the
               service (a private Redis, an API process or the model in-process are fine).
               `make test-fast`, under two minutes.
  integration  tests/integration/: a real worker with the bundled model, RabbitMQ, faults.
  e2e          the product as a person runs it: a browser on the web page, `nutgraf serve`.

Redis isolation: each xdist worker process has its own private redis-server (session
fixtures are per process). Database 0 is the session's, where the session's worker
listens. A test that needs a Redis of its own (no worker sweeping its jobs, empty rate
limits, a worker of its own) takes a database from the `databases` allocator instead of
a hand-picked number:

    def test_x(own_redis_url: str) -> None: ...           # one test's own database

    @pytest.fixture(scope="module")
    def solo_settings(settings, databases):               # a module's own
        with databases.take() as url:
            yield settings.model_copy(update={"redis_url": url})

It is empty when handed out and flushed when given back. Store-level tests need no
database: a key prefix of their own is enough (`store` in tests/store/conftest.py,
JobStore(prefix=...)).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

# Before anything loads torch: its OpenMP threads then wait passively, as in the worker
# (nutgraf/programs.py, PASSIVE_THREADS). Spinning threads of two xdist processes on two
# cores made an in-process tiny-model test take 80 s instead of 2.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# One torch thread per process, in this one (in-process models) and in the workers it
# starts: the suite runs several processes on few cores, and a second thread decoding the
# bundled model gains no time and costs a third more CPU (docs/benchmarks.md, "Test suite").
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUTGRAF_TORCH_THREADS", "1")

import pytest
import redis
from _pytest.nodeid import NodeId
from flask import Flask
from flask.testing import FlaskClient

from helpers import REPO, TEST_MODEL, Databases, WorkerProcess
from nutgraf.settings import Settings
from nutgraf.store.server import RedisServer

TESTS = Path(__file__).resolve().parent
# Files of tests/integration/ that drive the product from outside: the e2e tier.
E2E = ("integration/test_web_page.py", "integration/test_serve.py")
# Files past the unit tier whose tests share no fixture wider than one test but the
# session's: each test goes to whichever process is free instead of all to one, where
# they were the suite's longest tail (test_quality alone: over 330 s in one process).
SPREAD = (
    "integration/test_quality.py",
    "integration/test_serve.py",
    "integration/test_rolling.py",
)

# Unit files whose tests mostly wait (Sentinel failovers, webhook retry back-offs, requests
# held open): scheduled with the files past the unit tier, so that their waits overlap the
# others' work. Last, among the short unit tests, they left a core idle at the end of the
# run (docs/benchmarks.md, "Test suite").
WAITING = (
    "store/test_sentinel.py",
    "service/test_wait_slots.py",
    "webhooks/test_outbox.py",
    "webhooks/test_slow_receivers.py",
)


def tier_of(path: Path) -> str:
    """The tier of a test file, from where it lies under tests/ (unit outside it)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(TESTS):
        return "unit"
    relative = resolved.relative_to(TESTS).as_posix()
    if relative in E2E:
        return "e2e"
    if relative.startswith("integration/"):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier (`-m unit`, `-m "not e2e"`), and keep each file past
    the unit tier in one xdist process (`--dist loadgroup`), but for SPREAD: its module
    fixtures (a worker of its own, a RabbitMQ vhost) are then built once, not once per
    process. Scheduled longest first: SPREAD's files, then the rest past the unit tier with
    the unit files that mostly wait (WAITING), then the rest of the unit tier (xdist hands
    out work in collection order: the short unit tests then fill the processes' gaps at the
    end instead of a long test, or one that only waits, starting last)."""
    for item in items:
        tier = tier_of(item.path)
        item.add_marker(tier)
        if tier != "unit" and not is_spread(item):
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    items.sort(key=schedule_rank)  # stable: a file's own order is kept
    unique_ids(items)
    # In an xdist worker process (where tests are collected), xdist sets `loadgroup`.
    if getattr(config.option, "loadgroup", False):
        group_ids(items)


def schedule_rank(item: pytest.Item) -> int:
    """0 for SPREAD's files, 1 for the rest past the unit tier and for WAITING's files, 2
    for the rest of the unit tier."""
    if tier_of(item.path) == "unit":
        return 1 if _relative(item) in WAITING else 2
    return 0 if is_spread(item) else 1


def is_spread(item: pytest.Item) -> bool:
    """Whether the test's file is one of SPREAD (only files under tests/ are asked)."""
    return _relative(item) in SPREAD


def _relative(item: pytest.Item) -> str:
    """The test file's path under tests/, or its absolute path when outside it."""
    resolved = item.path.resolve()
    return resolved.relative_to(TESTS).as_posix() if resolved.is_relative_to(TESTS) else ""


def group_ids(items: list[pytest.Item]) -> None:
    """Give each test with an `xdist_group` mark the id `loadgroup` schedules by: its own,
    then `@` and the group's name.

    xdist 3.8 appends the group to `_nodeid`, which pytest 9 no longer reads (the id is
    in `_id`, as in `unique_ids`): no group held together, and a file's module fixtures
    (a worker with the bundled model) were built in every process that ran one of its
    tests. xdist's own suffix, added after this one, is then without effect.
    """
    for item in items:
        names = sorted(
            {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
        )
        if names:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


def unique_ids(items: list[pytest.Item]) -> None:
    """Give every test an id of its own, and fail the collection if one still repeats.

    schemathesis 4.32 names its items `test_x[POST /v1/summaries]` and sets their id in
    `_nodeid`, which pytest 9 no longer reads (it keeps a NodeId in `_id`): all 15 have
    the id `test_x`. xdist's `loadgroup` schedules by id, so 14 of test_schemathesis.py's
    15 operations silently never ran. The id is set as pytest builds it for other items.
    """
    counts = Counter(item.nodeid for item in items)
    for item in items:
        if counts[item.nodeid] > 1 and item.parent is not None:
            item._id = NodeId.parse(f"{item.parent.nodeid}::{item.name}")
    repeated = sorted(i for i, n in Counter(item.nodeid for item in items).items() if n > 1)
    if repeated:
        raise pytest.UsageError(f"tests share an id (xdist would run one of them): {repeated}")


@pytest.fixture(scope="session")
def sample_article() -> str:
    """A real news article (a copy of shared/samples/montenegro-nato.txt)."""
    return (REPO / "tests" / "data" / "montenegro-nato.txt").read_text()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server on a free port, AOF fsynced on every write (restartable)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"), fsync="always")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the test deployment: the bundled model and short fault-recovery times."""
    return Settings(
        redis_url=redis_server.url,
        model=TEST_MODEL,
        data_dir=tmp_path_factory.mktemp("data"),
        task_time_limit_s=240,
        # The reconciler re-sends a job queued this long with nothing running it.
        requeue_after_s=5,
        # No load balancer to wait for: a stopped API stops at once (test_rolling.py drains).
        drain_s=0,
        log_level="INFO",
    )


@pytest.fixture(scope="session")
def databases(redis_server: RedisServer) -> Databases:
    """The allocator of Redis databases of their own (see the module's docstring)."""
    return Databases(redis_server)


@pytest.fixture()
def own_redis_url(databases: Databases) -> Iterator[str]:
    """The URL of an empty Redis database of this test's own, flushed after it."""
    with databases.take() as url:
        yield url


@pytest.fixture()
def redis_client(redis_server: RedisServer) -> redis.Redis:
    """A plain client of the private server."""
    return redis.Redis.from_url(redis_server.url, decode_responses=True)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Flask:
    """The Flask app built by the same factory production uses."""
    from service import create_app

    return create_app(settings)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture(scope="session")
def worker_process(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """One worker for the session; tests that kill it get a fresh one from `worker`."""
    process = WorkerProcess(settings, tmp_path_factory.mktemp("worker") / "worker.log")
    yield process
    process.stop()


@pytest.fixture()
def worker(worker_process: WorkerProcess) -> WorkerProcess:
    """A running worker with its model loaded."""
    if not worker_process.running():
        worker_process.start()
    return worker_process


# News-like English for the tiny BART's tokenizer to learn merges from; content does not matter.
NEWS_SENTENCES = [
    "The city council voted on Tuesday to approve a new budget for schools and roads.",
    "Officials said the storm caused flooding in several coastal towns overnight.",
    "Shares of the company rose 3.5 percent after it reported higher quarterly profits.",
    "Mr. Smith told reporters that the U.S. government would review the decision.",
    "Police arrested two men in connection with the robbery, a spokesman said.",
    "The minister announced plans to cut taxes for small businesses next year.",
    "Thousands of fans gathered in the stadium to watch the final match of the season.",
    "Scientists warned that rising temperatures could threaten crops across the region.",
    "The president met foreign leaders in Geneva to discuss trade and security.",
    "Residents were told to boil water after the main pipe burst on Monday morning.",
]
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # BART's ids 0, 1, 2, 3, then mask
MAX_POSITIONS = 128


@pytest.fixture(scope="session")
def tiny_bart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a random-weight BART (d_model 32, 2 layers, 128 positions) and its BPE."""
    # Imported here so that tests without a model never pay for torch.
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(NEWS_SENTENCES * 3, trainer)
    trained = json.loads(bpe.to_str())["model"]
    # BartTokenizerFast adds BART's post-processor: <s> text </s>.
    tokenizer = BartTokenizerFast(
        vocab=trained["vocab"], merges=[tuple(pair) for pair in trained["merges"]]
    )
    assert [tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id] == [0, 1, 2]

    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=MAX_POSITIONS,
        bos_token_id=tokenizer.bos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    with torch.random.fork_rng():  # same weights every run, global RNG left alone
        torch.manual_seed(0)
        model = BartForConditionalGeneration(config)

    folder = tmp_path_factory.mktemp("tiny-bart")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()
    return folder
