"""The store's Lua scripts: read from scripts/*.lua, bound to names by their own headers.

Every script opens with a header comment that names its keys and arguments, one a line:

    -- KEYS[1] job       <prefix>:job:<id>
    -- ARGV[1] worker    the worker's id

That header is also the binding: `LuaScript` calls the script with named parameters and
puts each in the position the header gives it, so a call site never counts positions and
the header cannot drift from the way the script is called. A script that uses a shared Lua
function says so with a `-- needs: <library>.lua` line; the library's text is put in front
of the script's before it is loaded, so the function is written once.

An argument named `token` is not the caller's to give: each call gets a fresh one, and the
client's retries of that call (after a connection lost mid-command) resend it unchanged. A
script whose effect must not count twice keeps the token of the call that had it, and so
knows its own call come again: its reply was lost after the script ran (finish.lua,
start.lua, idempotency_claim.lua; tests/store/test_lost_replies.py).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.exceptions import NoScriptError

SCRIPTS_DIR = Path(__file__).parent / "scripts"
# The argument each call fills with a token of its own (see the module's docstring).
CALL_TOKEN = "token"

_PARAMETER = re.compile(r"^--\s+(KEYS|ARGV)\[(\d+)\]\s+([a-z_][a-z0-9_]*)\b")
_NEEDS = re.compile(r"^--\s+needs:\s+(\S+\.lua)\s*$")
_USED = re.compile(r"\b(KEYS|ARGV)\[(\d+)\]")


class ScriptError(ValueError):
    """A .lua file whose header does not say how to call it."""


@dataclass(frozen=True)
class ScriptSource:
    """A script ready to load: its full text and the names of its KEYS and ARGV, in order."""

    name: str
    text: str
    keys: tuple[str, ...]
    args: tuple[str, ...]
    needs: tuple[str, ...]


def script_names() -> list[str]:
    """The scripts that can be called: every .lua file that is not a library."""
    return sorted(
        path.stem for path in SCRIPTS_DIR.glob("*.lua") if not _is_library(path.read_text())
    )


def _is_library(text: str) -> bool:
    return text.startswith("-- library:")


@functools.cache
def read_script(name: str) -> ScriptSource:
    """Read scripts/<name>.lua once per process, with the libraries it needs in front."""
    own = (SCRIPTS_DIR / f"{name}.lua").read_text()
    header = [line for line in own.splitlines() if line.startswith("--")]
    named: dict[str, dict[int, str]] = {"KEYS": {}, "ARGV": {}}
    needs: list[str] = []
    for line in header:
        if match := _PARAMETER.match(line):
            table, index, parameter = match.group(1), int(match.group(2)), match.group(3)
            if index in named[table]:
                raise ScriptError(f"{name}.lua: {table}[{index}] is named twice")
            named[table][index] = parameter
        elif match := _NEEDS.match(line):
            needs.append(match.group(1))
    keys, args = (_in_order(name, table, named[table]) for table in ("KEYS", "ARGV"))
    if overlap := set(keys) & set(args):
        raise ScriptError(f"{name}.lua: {sorted(overlap)} name both a key and an argument")
    for table, index in {(t, int(i)) for t, i in _USED.findall(own)}:
        if index not in named[table]:
            raise ScriptError(f"{name}.lua: uses {table}[{index}] without naming it on top")
    libraries = [(SCRIPTS_DIR / library).read_text() for library in needs]
    return ScriptSource(name, "\n".join([*libraries, own]), keys, args, tuple(needs))


def _in_order(name: str, table: str, named: dict[int, str]) -> tuple[str, ...]:
    if sorted(named) != list(range(1, len(named) + 1)):
        raise ScriptError(f"{name}.lua: {table} must be numbered 1, 2, 3 ... in its header")
    return tuple(named[i] for i in sorted(named))


def execute_reads(
    client: Any, queue: Callable[[Any], None], *, transaction: bool = True
) -> list[Any]:
    """Queue calls with `queue` on a new pipeline of `client` and execute it.

    A script called alone loads again after a NOSCRIPT (redis-py's Script), and a pipeline
    loads its scripts before it runs. But when the connection fails in between (a Sentinel
    failover) redis-py runs the pipeline again on the new primary without loading them, and
    a promoted replica's script cache is empty. On NOSCRIPT the pipeline is built and run
    once more, which loads them there. Only for calls that may run twice: reads."""
    for attempt in (1, 2):
        with client.pipeline(transaction=transaction) as pipe:
            queue(pipe)
            try:
                result: list[Any] = pipe.execute()
            except NoScriptError:
                if attempt == 2:
                    raise
                continue
            return result
    raise AssertionError("unreachable")


class LuaScript:
    """One script registered with a Redis client (EVALSHA, loaded again after a NOSCRIPT,
    as after a flush or a failover; in a pipeline, see `execute_reads`)."""

    def __init__(self, client: Any, name: str) -> None:
        self.source = read_script(name)
        self._script = client.register_script(self.source.text)

    def __call__(self, client: Any = None, **named: Any) -> Any:
        """Run the script; every KEYS and ARGV name of its header is a keyword argument.
        With `client` (a pipeline), the call is queued there instead."""
        if CALL_TOKEN in self.source.args:
            named = {**named, CALL_TOKEN: uuid.uuid4().hex}
        expected = {*self.source.keys, *self.source.args}
        if missing := expected - named.keys():
            raise TypeError(f"{self.source.name}.lua: missing {sorted(missing)}")
        if unknown := named.keys() - expected:
            raise TypeError(f"{self.source.name}.lua: unknown {sorted(unknown)}")
        return self._script(
            keys=[named[k] for k in self.source.keys],
            args=[named[a] for a in self.source.args],
            client=client,
        )
