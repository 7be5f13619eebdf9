"""The store's Lua files: headers that name KEYS and ARGV, libraries written once, every
script valid Lua to a real Redis, and key names the same as nutgraf.store.keys makes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import redis

from nutgraf.store import Keys
from nutgraf.store.lua import (
    SCRIPTS_DIR,
    LuaScript,
    ScriptError,
    execute_reads,
    read_script,
    script_names,
)

LUA_FILES = sorted(SCRIPTS_DIR.glob("*.lua"))
# Every atomic step the store and the outbox take; a new one is added here on purpose.
SCRIPTS = [
    "batch_ended_at_once",
    "dispatch_bulk",
    "finish",
    "hold",
    "idempotency_claim",
    "lead",
    "queue_place",
    "read_job",
    "release_orphan",
    "release_overdue",
    "start",
    "submit",
    "submit_cached",
    "unhold",
    "webhook_claim",
    "webhook_record",
]


def test_every_script_is_known() -> None:
    assert script_names() == SCRIPTS


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_header_names_every_key_and_argument_the_script_uses(name: str) -> None:
    source = read_script(name)
    own = (SCRIPTS_DIR / f"{name}.lua").read_text()
    header = [line for line in own.splitlines() if line.startswith("--")]
    assert header[0].startswith(f"-- {name}: "), "the first line says what the step does"
    for table, names in (("KEYS", source.keys), ("ARGV", source.args)):
        used = {int(i) for i in re.findall(rf"\b{table}\[(\d+)\]", own)}
        assert used <= set(range(1, len(names) + 1)), table
    assert any(line.startswith("-- Returns") for line in header), "the answer is described"


@pytest.mark.parametrize("name", SCRIPTS)
def test_each_script_loads_into_redis(name: str, redis_client: redis.Redis) -> None:
    sha = redis_client.script_load(read_script(name).text)
    assert redis_client.script_exists(sha) == [True]


def test_a_library_function_is_written_once_and_put_in_front_of_its_users() -> None:
    library = "batch_items_ended.lua"
    definitions = [p.name for p in LUA_FILES if "local function batch_items_ended" in p.read_text()]
    assert definitions == [library]
    users = [name for name in SCRIPTS if library in read_script(name).needs]
    assert users == ["batch_ended_at_once", "finish"]
    for name in users:
        text = read_script(name).text
        assert text.startswith((SCRIPTS_DIR / library).read_text())
        assert text.count("local function batch_items_ended") == 1


def test_scripts_are_called_by_name(redis_client: redis.Redis) -> None:
    claim = LuaScript(redis_client, "webhook_claim")
    assert claim.source.keys == ("webhooks_due",)
    assert claim.source.args == ("now", "lease_until", "limit")
    assert claim(webhooks_due="lua-test:webhooks:due", now=1, lease_until=2, limit=5) == []
    with pytest.raises(TypeError, match=r"missing \['limit'\]"):
        claim(webhooks_due="lua-test:webhooks:due", now=1, lease_until=2)
    with pytest.raises(TypeError, match=r"unknown \['later'\]"):
        claim(webhooks_due="x", now=1, lease_until=2, limit=5, later=3)


def test_a_pipeline_whose_scripts_vanish_before_it_runs_runs_again(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As after a failover between loading a pipeline's scripts and running it: redis-py's
    own retry runs it on the new primary without loading them (NOSCRIPT)."""
    # A script of this test's alone: the session's worker loads the store's own scripts
    # (webhook_claim every few seconds) and could put one back between flush and run.
    (tmp_path / "vanish_probe.lua").write_text(
        f"-- vanish_probe: answers its argument; loaded by this test only ({tmp_path}).\n"
        "-- KEYS[1] probe  a key it does not touch\n"
        "-- ARGV[1] answer  what it returns\n"
        "-- Returns ARGV[1].\n"
        "return ARGV[1]\n"
    )
    monkeypatch.setattr("nutgraf.store.lua.SCRIPTS_DIR", tmp_path)
    read_script.cache_clear()
    try:
        probe = LuaScript(redis_client, "vanish_probe")
    finally:
        read_script.cache_clear()
    load = redis.client.Pipeline.load_scripts
    lost: list[int] = []

    def load_then_lose_once(pipe: redis.client.Pipeline) -> None:
        load(pipe)
        if not lost:
            lost.append(1)
            redis_client.script_flush()  # the new primary's script cache: empty

    monkeypatch.setattr(redis.client.Pipeline, "load_scripts", load_then_lose_once)

    def queue(pipe: redis.client.Pipeline) -> None:
        probe(pipe, probe="lua-test:probe", answer="here")

    assert execute_reads(redis_client, queue) == ["here"]
    assert lost == [1]
    lost.clear()
    with redis_client.pipeline() as pipe, pytest.raises(redis.exceptions.NoScriptError):
        queue(pipe)
        pipe.execute()  # a plain pipeline fails so


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-- bad: KEYS numbered from 2\n-- KEYS[2] job  x\nreturn KEYS[2]\n", "numbered"),
        ("-- bad: unnamed\n-- KEYS[1] job  x\nreturn ARGV[1]\n", r"ARGV\[1\] without naming"),
        ("-- bad: twice\n-- ARGV[1] a  x\n-- ARGV[1] b  y\nreturn 1\n", "named twice"),
        ("-- bad: clash\n-- KEYS[1] job  x\n-- ARGV[1] job  y\nreturn 1\n", "both a key"),
    ],
)
def test_a_header_that_does_not_say_how_to_call_the_script_is_refused(
    text: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bad.lua").write_text(text)
    monkeypatch.setattr("nutgraf.store.lua.SCRIPTS_DIR", tmp_path)
    read_script.cache_clear()
    try:
        with pytest.raises(ScriptError, match=problem):
            read_script("bad")
    finally:
        read_script.cache_clear()


def _names_keys_makes(keys: Keys) -> set[str]:
    """Every key name Keys makes, with "X" for the id part."""
    names = {keys.queued, keys.running_jobs, keys.webhooks_due, keys.stats_jobs, keys.stats_cache}
    names |= {keys.queued_seen, keys.reconciler, keys.consumer("X")}
    for method in (keys.job, keys.text, keys.cache, keys.inflight, keys.watchers, keys.batch):
        names.add(method("X"))
    for method in (keys.batch_items, keys.job_events, keys.batch_events, keys.worker):
        names.add(method("X"))
    names.add(keys.metric("X"))
    names |= {keys.lane_sent("interactive"), keys.lane_sent("bulk"), keys.lane_rate("bulk")}
    names |= {keys.bulk_pending, keys.bulk_owner("X"), keys.bulk_turns, keys.lane_seq}
    # Hashed, so only its kind can be compared.
    names.add(f"{keys.prefix}:idem:X")
    return names


def test_keys_built_inside_lua_are_the_names_keys_py_makes() -> None:
    made = _names_keys_makes(Keys("P"))
    fragments = set()
    for path in LUA_FILES:
        fragments |= set(re.findall(r"prefix \.\. '([a-z_:]+)'", path.read_text()))
    assert fragments, "the scripts build some keys from the prefix"
    for fragment in sorted(fragments):
        name = f"P:{fragment}" + ("X" if fragment.endswith(":") else "")
        assert name in made, f"a script builds {fragment!r}, which keys.py does not name"


@pytest.mark.parametrize("name", SCRIPTS)
def test_the_keys_a_header_names_are_the_names_keys_py_makes(name: str) -> None:
    made = _names_keys_makes(Keys("P"))
    own = (SCRIPTS_DIR / f"{name}.lua").read_text()
    for line in own.splitlines():
        if not line.startswith("-- KEYS["):
            continue
        for shown in re.findall(r"<prefix>:[^\s,;]+", line):
            # '<prefix>:job:<id>:' -> 'P:job:X'
            concrete = re.sub(r"<[^>]*>", "X", shown.replace("<prefix>", "P", 1)).rstrip(":")
            assert concrete in made, f"{name}.lua names {shown}, which keys.py does not make"
