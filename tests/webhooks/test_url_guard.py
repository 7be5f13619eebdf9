"""The callback URL rules: what nutgraf refuses to POST to, and what it accepts."""

from __future__ import annotations

import pytest

from nutgraf.webhooks import check_callback_url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://127.1.2.3:8080/hook", "loopback"),
        ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
        ("http://localhost:9000/hook", "loopback"),  # a name that resolves to loopback
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped IPv6
        ("http://[2002:7f00:1::]/hook", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[64:ff9b::a00:1]/hook", "private"),  # NAT64 of 10.0.0.1
        ("http://10.1.2.3/hook", "private"),
        ("http://172.16.0.1/hook", "private"),
        ("https://192.168.1.10/hook", "private"),
        ("http://[fd00::1]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.64.0.1/hook", "non-public"),  # carrier-grade NAT
        ("ftp://example.com/hook", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("example.com/hook", "http or https"),
        ("http://user:secret@example.com/hook", "credentials"),
        ("http://@example.com/hook", "credentials"),
        ("http://example.com\\@127.0.0.1/hook", "credentials"),
        ("http:///hook", "host"),
        ("http://example.com:99999/hook", "port"),
        ("http://example.com:port/hook", "valid URL"),
        ("http://example.com/a b", "spaces"),
        ("http://example.com/\n", "spaces"),
        ("", "non-empty"),
        ("https://example.com/" + "a" * 3000, "longer"),
    ],
)
def test_refused_callback_urls(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_callback_url(url, allow_private=False)


def test_refusal_names_the_address_and_the_way_out() -> None:
    with pytest.raises(ValueError) as info:
        check_callback_url("http://localhost:9000/hook", allow_private=False)
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "NUTGRAF_WEBHOOK_ALLOW_PRIVATE" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hooks/nutgraf?token=abc",
        "http://8.8.8.8:8080/",
        "https://[2606:4700:4700::1111]/hook",
    ],
)
def test_public_addresses_are_accepted(url: str) -> None:
    check_callback_url(url, allow_private=False)


def test_allow_private_accepts_private_hosts_but_keeps_the_other_rules() -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/"):
        check_callback_url(url, allow_private=True)
    # Not resolved when private addresses are allowed: a DNS hiccup must not refuse a job.
    check_callback_url("http://receiver.invalid/hook", allow_private=True)
    for url in ("ftp://127.0.0.1/", "http://u:p@127.0.0.1/", "http:///x"):
        with pytest.raises(ValueError):
            check_callback_url(url, allow_private=True)


def test_unresolvable_hosts_are_refused_without_allow_private() -> None:
    with pytest.raises(ValueError, match="cannot be resolved"):
        check_callback_url("https://receiver.invalid/hook", allow_private=False)
