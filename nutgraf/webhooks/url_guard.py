"""Which callback URLs nutgraf may POST to: the URL rules, the address checks (no loopback,
private or link-local targets unless allowed) and pinning a request to the checked address."""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx

MAX_URL_CHARS = 2048
# How long accepting a job waits for the callback host's DNS answer (delivery has its own).
RESOLVE_TIMEOUT_S = 5.0
# NAT64 (RFC 6052) embeds an IPv4 address that the gateway then connects to.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_callback_url(url: str, *, allow_private: bool) -> None:
    """Raise ValueError (a readable message) unless nutgraf may POST callbacks to `url`."""
    # With private addresses allowed there is nothing to refuse by address, so the host is
    # not resolved: a DNS hiccup must not refuse a job. Delivery resolves it anyway.
    checked_addresses(
        url, allow_private=allow_private, resolve=not allow_private, timeout_s=RESOLVE_TIMEOUT_S
    )


def parse(url: str) -> httpx.URL:
    """The URL as httpx (which sends the request) reads it, with the rules applied."""
    if not isinstance(url, str) or not url:
        raise ValueError("must be a non-empty string")
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"longer than {MAX_URL_CHARS} characters")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("must not contain spaces or control characters")
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if target.scheme not in ("http", "https"):
        scheme = f"{target.scheme}:" if target.scheme else "no scheme"
        raise ValueError(f"must be an http or https URL, not {scheme}")
    # Any "@" in the authority (even an empty user) is refused: it is how credentials leak
    # into logs and how parsers disagree about which host is meant.
    if target.userinfo or "@" in urlsplit(url).netloc:
        raise ValueError("must not contain credentials (user:password@)")
    if not target.host:
        raise ValueError("a host is required")
    if target.port is not None and not 0 < target.port < 65536:
        raise ValueError(f"invalid port: {target.port}")
    return target


def _getaddrinfo(host: str, port: int, timeout_s: float) -> list[Any]:
    """socket.getaddrinfo, given up (TimeoutError) after timeout_s seconds."""
    outcome: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller, raised there
            outcome.append(exc)
        finally:
            done.set()

    # getaddrinfo has no timeout of its own and cannot be interrupted; a daemon thread left
    # behind ends when the resolver gives up, and never holds up the process's exit.
    threading.Thread(target=look_up, name="nutgraf-resolve", daemon=True).start()
    if not done.wait(max(0.0, timeout_s)):
        raise TimeoutError(f"no answer within {timeout_s:.3g} s")
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    infos: list[Any] = outcome[0]
    return infos


def checked_addresses(
    url: str, *, allow_private: bool, resolve: bool, timeout_s: float = RESOLVE_TIMEOUT_S
) -> list[str]:
    """Validate `url` and return the distinct addresses its host resolves to (none when
    `resolve` is false); refuse if any of them is not public, unless `allow_private`."""
    target = parse(url)
    if not resolve:
        return []
    host = target.raw_host.decode("ascii")  # IDNA-encoded; IPv6 without brackets
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        infos = _getaddrinfo(host, port, timeout_s)
    except (OSError, UnicodeError) as exc:  # TimeoutError is an OSError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValueError(f"host {target.host!r} cannot be resolved: {reason}") from None
    addresses: list[str] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        # Every address counts, not just the first: a host may resolve to several, and the
        # connection could go to any of them.
        kind = None if allow_private else refusal(address)
        if kind is not None:
            raise ValueError(
                f"host {target.host!r} is {address}, a {kind} address; callbacks "
                "to loopback, private and link-local addresses are refused "
                "(NUTGRAF_WEBHOOK_ALLOW_PRIVATE=1 allows them)"
            )
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise ValueError(f"host {target.host!r} has no IP address")
    return addresses


def refusal(address: Address) -> str | None:
    """Why a callback to `address` is refused by default ("loopback", "private"...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that IPv4 host: judge it instead.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (kind := refusal(embedded)) is not None:
            return kind
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Shared (100.64/10), documentation and other special-purpose ranges.
        ("non-public", not address.is_global),
    )
    return next((kind for kind, hit in checks if hit), None)


def pinned(target: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The request aimed at the checked `address` rather than at a second DNS answer (DNS
    rebinding), with the original Host header and TLS server name."""
    extensions: dict[str, Any] = {}
    if target.scheme == "https":
        # The certificate is still verified against the original host name.
        extensions["sni_hostname"] = target.raw_host.decode("ascii")
    return target.copy_with(host=address), {"Host": target.netloc.decode("ascii")}, extensions
