"""The pure half of safe fetching: which addresses are public, which URLs pass, the host rules."""

# The full-width look-alikes (RUF001) are the attack under test.
# ruff: noqa: RUF001

from __future__ import annotations

import ipaddress

import pytest
from fastmcp.server.auth.ssrf import is_ip_allowed

from mcpgram.errors import BlockedURL
from mcpgram.fetch.policy import HostRules, check_url, is_public_address

PUBLIC = [
    "8.8.8.8", "1.1.1.1", "93.184.215.14", "192.31.196.1",
    "2606:4700::1111", "2a00:1450:4001::1", "2620:4f:8000::1",
]  # fmt: skip

#: Address -> the class it belongs to; none may be dialed.
NOT_PUBLIC = {
    "127.0.0.1": "loopback", "127.255.255.254": "loopback", "::1": "loopback",
    "10.1.2.3": "private", "172.16.0.1": "private", "172.31.255.255": "private", "192.168.1.1": "private",
    "fd00::1": "unique local", "fc00::1": "unique local", "fec0::1": "site-local (deprecated)",
    "169.254.169.254": "link-local (cloud metadata)", "fe80::1": "link-local",
    "fe80::1%eth0": "link-local, scoped",
    "100.64.0.1": "CGNAT", "100.127.255.254": "CGNAT",
    "224.0.0.1": "multicast", "233.252.0.1": "multicast", "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "ff0e::1": "multicast, global scope",
    "240.0.0.1": "reserved", "255.255.255.255": "broadcast", "0.1.2.3": "this network",
    "0.0.0.0": "unspecified",  # noqa: S104 (an address refused, not bound)
    "::": "unspecified", "198.18.0.1": "benchmarking", "2001:2::1": "benchmarking",
    "192.0.2.1": "documentation", "198.51.100.1": "documentation", "203.0.113.1": "documentation",
    "2001:db8::1": "documentation", "3fff::1": "documentation (RFC 9637)",
    "192.0.0.8": "IETF protocol assignments", "192.0.0.170": "NAT64 discovery", "192.88.99.1": "6to4 relay",
    "::ffff:127.0.0.1": "IPv4-mapped loopback", "::ffff:8.8.8.8": "IPv4-mapped, even public",
    "::127.0.0.1": "IPv4-compatible loopback", "::8.8.8.8": "IPv4-compatible, even public",
    "::ffff:0:7f00:1": "SIIT-translated loopback", "::ffff:0:808:808": "SIIT-translated, even public",
    "64:ff9b::7f00:1": "NAT64 loopback", "64:ff9b::808:808": "NAT64, even public",
    "64:ff9b:1::a00:1": "local-use NAT64",
    "2002:7f00:1::": "6to4 loopback", "2002:808:808::1": "6to4, even public",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2": "Teredo", "2001::808:808": "Teredo, even public",
    "2001:4860::5efe:7f00:1": "ISATAP loopback", "2001:4860::200:5efe:808:808": "ISATAP, even public",
    "100::1": "discard-only", "5f00::1": "SRv6 SIDs (outside 2000::/3)", "2001:10::1": "ORCHID",
}  # fmt: skip


@pytest.mark.parametrize("text", PUBLIC)
def test_public_unicast_addresses_may_be_dialed(text: str) -> None:
    assert is_public_address(ipaddress.ip_address(text))


@pytest.mark.parametrize(("text", "kind"), NOT_PUBLIC.items())
def test_non_public_addresses_are_refused(text: str, kind: str) -> None:
    assert not is_public_address(ipaddress.ip_address(text)), kind


def test_our_table_refuses_what_fastmcps_check_lets_through() -> None:
    """The addresses only our own table refuses are still there, so the table is not dead weight."""
    only_ours = {text for text in NOT_PUBLIC if is_ip_allowed(text)}
    assert {"fec0::1", "192.88.99.1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"} <= only_ours


#: URL -> what makes it hostile. Each is refused by check_url alone, before any lookup.
HOSTILE_URLS = {
    # IPv4 in the forms inet_aton and browsers accept
    "https://2130706433/": "decimal IPv4",
    "https://017700000001/": "octal IPv4, one part",
    "https://0177.0.0.1/": "octal IPv4",
    "https://0x7f000001/": "hex IPv4",
    "https://0x7f.0x0.0x0.0x1/": "hex IPv4, dotted",
    "https://127.1/": "short IPv4",
    "https://127.0.1/": "short IPv4, three parts",
    "https://0/": "zero",
    "https://127.000.000.001/": "zero-padded IPv4",
    "https://169.254.43518/": "short link-local (metadata)",
    # IPv4 literals that are not public
    "https://127.0.0.1/": "loopback",
    "https://10.0.0.1/": "private",
    "https://192.168.0.1:8080/": "private, with port",
    "https://169.254.169.254/latest/meta-data/": "cloud metadata",
    "https://100.64.0.1/": "CGNAT",
    "https://0.0.0.0/": "unspecified",
    "https://224.0.0.1/": "multicast",
    "https://240.0.0.1/": "reserved",
    "https://255.255.255.255/": "broadcast",
    # IPv6 literals
    "https://[::1]/": "IPv6 loopback",
    "https://[::]/": "IPv6 unspecified",
    "https://[0:0:0:0:0:0:0:1]/": "IPv6 loopback, long form",
    "https://[fe80::1]/": "IPv6 link-local",
    "https://[fe80::1%25eth0]/": "IPv6 zone id",
    "https://[fd12:3456::1]/": "IPv6 unique local",
    "https://[::ffff:127.0.0.1]/": "IPv4-mapped loopback",
    "https://[::ffff:7f00:1]/": "IPv4-mapped loopback, hex",
    "https://[::ffff:169.254.169.254]/": "IPv4-mapped metadata",
    "https://[::127.0.0.1]/": "IPv4-compatible loopback",
    "https://[64:ff9b::7f00:1]/": "NAT64 loopback",
    "https://[64:ff9b::a9fe:a9fe]/": "NAT64 metadata",
    "https://[2002:7f00:1::1]/": "6to4 loopback",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/": "Teredo",
    "https://[2001:4860::5efe:7f00:1]/": "ISATAP loopback",
    "https://[ff02::1]/": "IPv6 multicast",
    "https://[::1/": "unclosed bracket",
    # Enclosed alphanumerics, full-width forms, IDN
    "https://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/": "enclosed alphanumerics for localhost",
    "https://①②⑦.⓪.⓪.①/": "enclosed alphanumerics for 127.0.0.1",
    "https://１２７．０．０．１/": "full-width 127.0.0.1",
    "https://ｌｏｃａｌｈｏｓｔ/": "full-width localhost",
    "https://⑯⑨。②⑤④。⑯⑨。②⑤④/": "enclosed metadata address with ideographic dots",
    "https://xn--/": "empty punycode label",
    # Local-only and intranet names
    "https://localhost/": "localhost",
    "https://LOCALHOST./": "localhost, upper case, trailing dot",
    "https://api.localhost/": "under localhost",
    "https://printer.local/": "mDNS",
    "https://metadata.google.internal/": "internal",
    "https://router.home.arpa/": "home network",
    "https://intranet/": "single label",
    # URL tricks
    "https://files.example@127.0.0.1/": "userinfo before a loopback host",
    "https://user:pass@files.example/": "credentials",
    "https://files.example\\@127.0.0.1/": "backslash",
    "https://files.example%2f@127.0.0.1/": "encoded slash in userinfo",
    "https://127.0.0.1%2f.files.example/": "encoded slash in host",
    "https://files.ex\tample/": "tab in host",
    "https://files.example\n.127.0.0.1/": "newline in host",
    "https://files.example:0/": "port zero",
    "https://files.example:65536/": "port out of range",
    "http://files.example/": "plain http when not allowed",
    "file:///etc/passwd": "file scheme",
    "gopher://127.0.0.1:6379/_INFO": "gopher",
    "ftp://files.example/": "ftp",
    "data:text/plain,hello": "data URL",
    "javascript:alert(1)": "javascript URL",
    "//files.example/a": "no scheme",
    "https:///etc/passwd": "no host",
    "https://" + "a." * 130 + "example/": "host over 253 characters",
}


@pytest.mark.parametrize(("url", "why"), HOSTILE_URLS.items())
def test_hostile_urls_are_refused_before_any_lookup(url: str, why: str) -> None:
    with pytest.raises(BlockedURL) as refused:
        check_url(url)
    assert refused.value.code == "BLOCKED_URL", why
    assert "127.0.0.1" not in refused.value.message or "127.0.0.1" in url, why


def test_the_table_is_the_size_the_issue_asks_for() -> None:
    assert len(HOSTILE_URLS) >= 40


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://files.example/a.png", "https://files.example/a.png"),
        ("HTTPS://FILES.EXAMPLE./a?b=c#frag", "https://files.example/a?b=c"),
        ("https://files.example:8443", "https://files.example:8443/"),
        ("https://files.example:443/x", "https://files.example/x"),
        ("https://bücher.example/ä b".replace(" ", "%20"), "https://xn--bcher-kva.example/%C3%A4%20b"),
        ("https://ｆｉｌｅｓ.example/", "https://files.example/"),
        ("https://8.8.8.8/x", "https://8.8.8.8/x"),
        ("https://[2606:4700::1111]:8443/x", "https://[2606:4700::1111]:8443/x"),
    ],
)
def test_allowed_urls_parse_into_a_canonical_target(url: str, expected: str) -> None:
    assert check_url(url).url == expected


def test_plain_http_passes_only_when_the_operator_allows_it() -> None:
    with pytest.raises(BlockedURL, match="only https"):
        check_url("http://files.example/")
    target = check_url("http://files.example/", allow_http=True)
    assert (target.scheme, target.port, target.origin) == ("http", 80, "http://files.example")


def test_the_origin_never_carries_the_path_or_query() -> None:
    assert check_url("https://files.example:8443/p?token=SECRET").origin == "https://files.example:8443"


def test_the_denylist_wins_and_a_non_empty_allowlist_admits_only_its_hosts() -> None:
    rules = HostRules(allow=("files.example", "*.cdn.example"), deny=("bad.cdn.example",))
    assert check_url("https://files.example/", hosts=rules).host == "files.example"
    assert check_url("https://a.b.cdn.example/", hosts=rules).host == "a.b.cdn.example"
    for refused in (
        "https://other.example/",
        "https://cdn.example/",
        "https://bad.cdn.example/",
        "https://xfiles.example/",
    ):
        with pytest.raises(BlockedURL, match="does not fetch from that host"):
            check_url(refused, hosts=rules)


def test_host_rules_compare_names_in_their_ascii_form() -> None:
    rules = HostRules(deny=("BÜCHER.example.",))
    assert rules.deny == ("xn--bcher-kva.example",)
    with pytest.raises(BlockedURL):
        check_url("https://bücher.example/", hosts=rules)


def test_an_allowlist_never_opens_a_non_public_address() -> None:
    with pytest.raises(BlockedURL, match="non-public"):
        check_url("https://127.0.0.1/", hosts=HostRules(allow=("127.0.0.1",)))


def test_a_malformed_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="not a host name"):
        HostRules(allow=("https://files.example/",))
