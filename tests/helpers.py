"""Helpers shared by the tests: a real worker process to kill and restart, and polling."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from nutgraf import models
from nutgraf.models import Generation
from nutgraf.settings import Settings, env_for_children
from nutgraf.store import JobStore
from nutgraf.store.server import RedisServer

REPO = Path(__file__).resolve().parents[1]
TEST_MODEL = "smollm2-135m"
WORKER_START_TIMEOUT_S = 300


# A short news story the integration tests vary (a tag, a name) to get distinct articles.
STORY = (
    "The city council of Lakeport voted 7 to 2 on Tuesday to build a new library on Harbor "
    "Street. Mayor Ana Ruiz said construction will start in March and cost 12 million "
    "dollars. Opponents said the money should go to road repairs. The library will open "
    "in 2028 and hold 200,000 books, the council said."
)


class WorkerProcess:
    """`nutgraf worker` as a real child process that tests can kill and restart."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.store = JobStore.from_url(settings.redis_url or "", 60, 60)
        self.model_name = models.resolve(settings.model).name  # ready once this one loaded

    def start(self) -> None:
        """Start a worker and wait until its model is loaded (bounded)."""
        self.store.redis.delete(*self.store.redis.keys("nutgraf:worker:*") or ["_"])
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nutgraf.cli", "worker"],
                env=env_for_children(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_tail()}")
            if any(
                w["models"].get(self.model_name, {}).get("state") == "ready"
                for w in self.store.workers()
            ):
                return
            time.sleep(0.2)
        raise TimeoutError(f"worker not ready in {WORKER_START_TIMEOUT_S}s: {self.log_tail()}")

    def running(self) -> bool:
        """True while the worker's main process lives."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and all its pool processes at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Stop the worker (warm shutdown, then kill)."""
        if not self.running():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the worker's log, for failure messages."""
        return self.log_path.read_text(errors="replace")[-chars:]

    def batches(self) -> list[tuple[int, set[str]]]:
        """Each micro-batch this worker started, as its log says: (size, job ids)."""
        return batches_in(self.log_path.read_text(errors="replace"))

    def started_jobs(self) -> set[str]:
        """Every job a batch of this worker started."""
        return set().union(*(members for _, members in self.batches()))


# The worker's log line for each micro-batch it starts (worker/tasks.py).
BATCH_LINE = re.compile(rf"batch of (\d+) job\(s\) for {TEST_MODEL}: ([\w\- ]+)")


def batches_in(log: str) -> list[tuple[int, set[str]]]:
    """The micro-batches a worker's log says it started: (size, job ids)."""
    return [(int(size), set(members.split())) for size, members in BATCH_LINE.findall(log)]


class ApiProcess:
    """`nutgraf api` (gunicorn) as a real child process on `port`."""

    def __init__(self, settings: Settings, port: int, log_path: Path) -> None:
        self.env = {**env_for_children(settings), "NUTGRAF_PORT": str(port)}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the API (the caller waits for it to answer)."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nutgraf.cli", "api"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def reconciler_leader(store: JobStore, workers: list[WorkerProcess]) -> WorkerProcess | None:
    """The running worker one of whose pool processes holds the reconciler's lease (a
    process's worker id is hostname:pid:random), or None."""
    import psutil

    holder = store.redis.get(store.keys.reconciler)
    if not holder:
        return None
    pid = int(holder.split(":")[-2])
    for worker in workers:
        if worker.running() and worker.process is not None:
            children = psutil.Process(worker.process.pid).children(recursive=True)
            if pid in {child.pid for child in children}:
                return worker
    return None


@contextlib.contextmanager
def started_worker(settings: Settings, log_path: Path) -> Iterator[WorkerProcess]:
    """A worker for the block's length, its model loaded before the block runs."""
    process = WorkerProcess(settings, log_path)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def serve(app: Flask) -> Iterator[str]:
    """Serve the app over real HTTP on a free loopback port until the generator closes."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class Databases:
    """Hands out the private server's databases 1 to 15 (0 is the session's), one holder
    at a time, each flushed when taken and when given back."""

    def __init__(self, server: RedisServer, count: int = 16) -> None:
        self.server = server
        self.free = list(range(1, count))
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def take(self) -> Iterator[str]:
        """The URL of an empty database of the caller's own, for the block's length."""
        with self.lock:
            if not self.free:
                raise RuntimeError("every test Redis database is taken: give some back")
            number = self.free.pop(0)
        # The server's URL now, not at start: fault tests restart it (same port).
        url = self.server.url.rsplit("/", 1)[0] + f"/{number}"
        try:
            with redis.Redis.from_url(url) as db:
                db.flushdb()
            yield url
            with redis.Redis.from_url(url) as db:
                db.flushdb()
        finally:
            # Given back even when a flush failed (Redis left down): the next taker's
            # flush then empties it, or fails as loudly.
            with self.lock:
                self.free.append(number)


@contextlib.contextmanager
def keyed_client(settings: Settings, redis_url: str, keys: list[str]) -> Iterator[FlaskClient]:
    """A test client of an app with these API keys, and callbacks to loopback allowed, on
    `redis_url` (a database of the test's own: conftest's `own_redis_url`)."""
    from nutgraf.webhooks import new_secret
    from service import create_app

    update = {
        "redis_url": redis_url,
        "api_keys": keys,
        "webhook_secret": [new_secret()],
        "webhook_allow_private": True,
    }
    yield create_app(settings.model_copy(update=update)).test_client()


def answers_200(url: str) -> bool:
    """True once a GET of `url` answers 200 (False while nothing listens there)."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def run_python(
    *args: str, cwd: Path = REPO, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in a fresh interpreter, without the caller's NUTGRAF_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUTGRAF_")}
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`python -m nutgraf.cli ARGS` in a fresh interpreter, without the caller's NUTGRAF_*."""
    return run_python("-m", "nutgraf.cli", *args, cwd=cwd)


def wait_for(
    check: Callable[[], Any], timeout_s: float, what: str, interval_s: float = 0.25
) -> Any:
    """Poll `check` until it returns something truthy; fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def poll_job(client: FlaskClient, job_id: str, timeout_s: float = 240) -> dict[str, Any]:
    """GET the job until it is succeeded or failed."""

    def finished() -> dict[str, Any] | None:
        body = client.get(f"/v1/summaries/{job_id}").get_json()
        return body if body["status"] in ("succeeded", "failed") else None

    result: dict[str, Any] = wait_for(finished, timeout_s, f"job {job_id} to finish")
    return result


def run_on_a_terminal(
    args: list[str], *, env: dict[str, str], cwd: Path = REPO, timeout_s: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `args` to the end with stderr on a 24x100 pseudo-terminal (as a person's shell
    gives it), stdout captured; stderr comes back as the terminal showed it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=cwd)
    finally:
        os.close(slave)
    shown: list[bytes] = []

    def drain() -> None:
        # Read all along: a full terminal buffer would block the program.
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the program ended and closed its end
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=timeout_s)
        reader.join(timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    stderr = b"".join(shown).decode("utf-8", errors="replace").replace("\r\n", "\n")
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr)


def article(tag: str = "") -> str:
    """A distinct short article per call (so cache keys differ)."""
    return f"The council voted on Tuesday {tag} {uuid.uuid4().hex}. The mayor said yes."


def tiny_llama(dtype: Any, tied: bool = False) -> Any:
    """A random 2-layer Llama with the bundled SmolLM2-135M's attention shape (9 query heads,
    3 key/value heads), in eval mode; `tied`: its output head shares the embedding, as
    SmolLM2's does."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=300,
        hidden_size=9 * 16,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=256,
        tie_word_embeddings=tied,
    )
    return LlamaForCausalLM(config).to(dtype).eval()


class ScriptedBackend:
    """A model backend that answers each prompt of each generate() call with the next
    scripted summary; counts words as tokens."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.spec = models.resolve(TEST_MODEL)
        self.window = 4096
        self.calls = 0
        self.batches: list[tuple[int, int]] = []  # (prompts, max_new_tokens) of each call
        self.stops: list[list[Callable[[], bool] | None] | None] = []  # each call's stops

    def count(self, text: str) -> int:
        return len(text.split())

    def fit(self, text: str, budget: int) -> str:
        return text

    def body_budget(self, probe: Any, answer_tokens: int) -> int:
        return 2048

    def render(self, prompt: Any) -> str:
        return str(prompt)

    def generate(
        self,
        prompts: list[str],
        max_new_tokens: int,
        min_new_tokens: int = 0,
        beam_search: bool = False,
        sources: list[str] | None = None,
        stops: list[Callable[[], bool] | None] | None = None,
    ) -> list[Generation]:
        self.calls += 1
        self.batches.append((len(prompts), max_new_tokens))
        self.stops.append(stops)
        return [Generation(self.answers.pop(0), 20) for _ in prompts]
