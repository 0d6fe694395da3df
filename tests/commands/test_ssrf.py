"""The SSRF guard: internal addresses are refused after DNS and at every redirect hop."""

from __future__ import annotations

import ipaddress

import pytest

from bot.commands.feedcheck import check_feed
from bot.commands.ssrf import BlockedURL, Policy, check_target, forbidden_reason
from tests.commands.feedserver import feed_server


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://127.1.2.3:8080/feed",
        "http://10.0.0.1/feed",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.100.100.200/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",  # NAT64 of 10.0.0.1
        "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
        "http://localhost:9/feed",  # resolves to loopback
    ],
)
async def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedURL, match="refusing"):
        await check_target(url, Policy())


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.org/", "only http and https"),
        ("http://user:pw@example.org/", "user name or password"),
        ("http:///nohost", "no host"),
    ],
)
async def test_bad_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(BlockedURL, match=why):
        await check_target(url, Policy())


def test_reasons_name_metadata_and_public_addresses_pass() -> None:
    assert "metadata" in (forbidden_reason(ipaddress.ip_address("169.254.169.254")) or "")
    assert "metadata" in (forbidden_reason(ipaddress.ip_address("fd00:ec2::254")) or "")
    assert forbidden_reason(ipaddress.ip_address("93.184.216.34")) is None
    assert forbidden_reason(ipaddress.ip_address("2606:4700::1111")) is None


async def test_every_resolved_address_must_be_public() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {"mixed.test": ["93.184.216.34", "10.1.2.3"], "pub.test": ["93.184.216.34"]}[host]

    with pytest.raises(BlockedURL, match=r"mixed\.test \(10\.1\.2\.3\)"):
        await check_target("http://mixed.test/feed", Policy(resolver=resolver))
    host, port, ip = await check_target("https://pub.test/feed", Policy(resolver=resolver))
    assert (host, port, str(ip)) == ("pub.test", 443, "93.184.216.34")


async def test_allow_private_lets_local_addresses_through() -> None:
    _, _, ip = await check_target("http://127.0.0.1:8080/x", Policy(allow_private=True))
    assert str(ip) == "127.0.0.1"


async def test_redirect_to_loopback_is_refused_at_the_hop() -> None:
    # The first server plays a public site, only through the explicit test hook; the redirect
    # target is another local server, which the guard must treat as what it is.
    with feed_server() as outside, feed_server() as inside:
        policy = Policy(treat_as_public=frozenset({("127.0.0.1", outside.port)}))
        ok = await check_feed(outside.url("/feed.xml"), policy)
        assert ok.ok and ok.title == "Local AI Policy" and ok.entries == 2

        for target in (
            inside.url("/feed.xml"),
            f"http://localhost:{inside.port}/feed.xml",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
        ):
            res = await check_feed(outside.url(f"/redirect?to={target}"), policy)
            assert not res.ok and "refusing" in (res.error or ""), target
            assert len(res.hops) == 2 and res.hops[1].startswith(target.split("/latest")[0])
        assert inside.requests == []  # never reached


async def test_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    with feed_server() as srv:

        async def resolver(host: str, port: int) -> list[str]:
            assert host == "feeds.test"
            return ["127.0.0.1"]

        policy = Policy(resolver=resolver, treat_as_public=frozenset({("127.0.0.1", srv.port)}))
        res = await check_feed(f"http://feeds.test:{srv.port}/redirect?to=/feed.xml", policy)
        assert res.ok, res.error
        # Both hops reached our checked IP, with the name the URL gave in Host.
        assert srv.requests == [
            ("/redirect?to=/feed.xml", f"feeds.test:{srv.port}"),
            ("/feed.xml", f"feeds.test:{srv.port}"),
        ]
        assert res.final_url == f"http://feeds.test:{srv.port}/feed.xml"


async def test_not_a_feed_and_errors_are_reported() -> None:
    with feed_server() as srv:
        policy = Policy(allow_private=True)
        page = await check_feed(srv.url("/page.html"), policy)
        assert not page.ok and page.error
        missing = await check_feed(srv.url("/nothing"), policy)
        assert not missing.ok and "404" in (missing.error or "")
        loop = await check_feed(srv.url("/redirect?to=/redirect%3Fto%3D/redirect"), policy)
        assert not loop.ok
