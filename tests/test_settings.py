"""Settings: sources and precedence, validation with safe one-line errors, parsing of DCs and proxies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rsa as pyrsa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mcpgram.errors import ConfigError
from mcpgram.settings import (
    DcAddress,
    HttpConfig,
    PoolLimits,
    ProxyConfig,
    Settings,
    is_loopback_host,
    parse_dc,
    parse_proxy,
)

API_HASH = "0123456789abcdef0123456789abcdef"
PLANTED = "PLANTEDsecret4242"
KEY16 = "00112233445566778899aabbccddeeff"
DOMAIN_HEX = b"example.com".hex()


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Start every test without MCPGRAM_* variables and in a directory without a .env file."""
    for name in list(os.environ):
        if name.startswith("MCPGRAM_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)


def _pem(key: Any, fmt: serialization.PublicFormat) -> bytes:
    return bytes(key.public_key().public_bytes(serialization.Encoding.PEM, fmt))


@pytest.fixture(scope="module")
def rsa_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Key files: a 2048-bit RSA key as PKCS#1 and as SubjectPublicKeyInfo, plus unusable keys."""
    folder = tmp_path_factory.mktemp("keys")
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - must be refused
    files = {
        "pkcs1": _pem(good, serialization.PublicFormat.PKCS1),
        "spki": _pem(good, serialization.PublicFormat.SubjectPublicKeyInfo),
        "small": _pem(small, serialization.PublicFormat.PKCS1),
        "ec": _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PublicFormat.SubjectPublicKeyInfo),
        "garbage": b"-----BEGIN RSA PUBLIC KEY-----\nnot base64 at all\n-----END RSA PUBLIC KEY-----\n",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / f"{name}.pem"
        paths[name].write_bytes(data)
    return paths


def test_defaults_load_without_any_configuration(tmp_path: Path) -> None:
    """With nothing configured, settings load with the documented defaults and an XDG data dir."""
    settings = Settings.load()
    assert settings.transport == "stdio"
    assert (settings.host, settings.port, settings.no_auth) == ("127.0.0.1", 8000, False)
    assert settings.data_dir == tmp_path / "xdg" / "mcpgram"
    assert settings.log_level == "INFO"
    assert settings.pool_limits() == PoolLimits(max_clients=200, idle_seconds=600.0)


def test_relative_xdg_data_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative XDG_DATA_HOME is ignored, as the XDG spec requires, in favour of ~/.local/share."""
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    assert Settings.load().data_dir == Path.home() / ".local" / "share" / "mcpgram"


def test_data_dir_expands_the_home_directory() -> None:
    """A data_dir starting with ~ is expanded to an absolute path."""
    assert Settings.load(data_dir="~/somewhere").data_dir == Path.home() / "somewhere"


def test_environment_variables_use_the_mcpgram_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """MCPGRAM_<NAME> variables set the matching settings; unprefixed names do not."""
    monkeypatch.setenv("MCPGRAM_PORT", "9001")
    monkeypatch.setenv("MCPGRAM_API_ID", "12345")
    monkeypatch.setenv("MCPGRAM_API_HASH", API_HASH)
    monkeypatch.setenv("MCPGRAM_LOG_LEVEL", "debug")
    monkeypatch.setenv("PORT", "1")
    settings = Settings.load()
    assert settings.port == 9001
    assert settings.telegram_config().api_hash == API_HASH
    assert settings.log_level == "DEBUG"


def test_env_file_is_read_and_other_variables_in_it_are_ignored(tmp_path: Path) -> None:
    """A .env file in the working directory sets MCPGRAM_* settings and may hold other tools' variables."""
    (tmp_path / ".env").write_text("MCPGRAM_PORT=7000\nOTHER_TOOL=1\nMCPGRAM_TRANSPORT=http\n")
    settings = Settings.load()
    assert (settings.port, settings.transport) == (7000, "http")
    assert Settings.load(env_file=None).port == 8000


def test_cli_overrides_win_over_environment_and_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Overrides passed to load() beat the environment, which beats .env; None means not given."""
    (tmp_path / ".env").write_text("MCPGRAM_PORT=7000\nMCPGRAM_HOST=127.0.0.2\n")
    monkeypatch.setenv("MCPGRAM_PORT", "9000")
    assert Settings.load().port == 9000
    assert Settings.load().host == "127.0.0.2"
    assert Settings.load(port=7001, host=None).port == 7001
    assert Settings.load(port=None).port == 9000


def test_empty_environment_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty MCPGRAM_ variable leaves the default in place instead of failing validation."""
    monkeypatch.setenv("MCPGRAM_PROXY", "")
    monkeypatch.setenv("MCPGRAM_PORT", "")
    settings = Settings.load()
    assert (settings.proxy, settings.port) == (None, 8000)


def test_nothing_reads_the_environment_at_import_time() -> None:
    """Importing settings and log with a broken MCPGRAM_ variable succeeds; only load() fails."""
    env = {**os.environ, "MCPGRAM_PORT": "not-a-port"}
    code = "import mcpgram.settings, mcpgram.log, mcpgram.datadir; print('ok')"
    imported = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert imported.returncode == 0, imported.stderr
    load = "import mcpgram.settings as s; s.Settings.load()"
    failed = subprocess.run(
        [sys.executable, "-c", load], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert "ConfigError" in failed.stderr and "MCPGRAM_PORT" in failed.stderr


# (overrides, setting named in the error). Secret-bearing values carry PLANTED, which must not be echoed.
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"bogus_option": 1}, "bogus_option"),
    ({"api_id": 0, "api_hash": API_HASH}, "api_id"),
    ({"api_id": "abc", "api_hash": API_HASH}, "api_id"),
    ({"api_id": 1, "api_hash": PLANTED}, "api_hash"),
    ({"api_id": 1, "api_hash": API_HASH[:-1] + "g"}, "api_hash"),
    ({"api_id": 1}, "api_hash"),
    ({"api_hash": API_HASH}, "api_id"),
    ({"dc": "2@149.154.167.40"}, "dc"),
    ({"dc": "0@149.154.167.40:443"}, "dc"),
    ({"dc": "1001@149.154.167.40:443"}, "dc"),
    ({"dc": "2@149.154.167.40:0"}, "dc"),
    ({"dc": "2@149.154.167.40:70000"}, "dc"),
    ({"dc": "2@::1:443"}, "dc"),
    ({"dc": "2@[example.com]:443"}, "dc"),
    ({"dc": "2@bad_host!:443"}, "dc"),
    ({"dc": "x@1.2.3.4:443"}, "dc"),
    ({"proxy": f"ftp://u:{PLANTED}@h.example:21"}, "proxy"),
    ({"proxy": f"socks5://u:{PLANTED}@h.example"}, "proxy"),
    ({"proxy": f"socks5://u:{PLANTED}@h.example:99999"}, "proxy"),
    ({"proxy": f"http://u:{PLANTED}@bad_host!:8080"}, "proxy"),
    ({"proxy": f"{PLANTED}"}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=443"}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=x&secret=" + KEY16}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=443&secret=" + KEY16[:-2] + "PLANTEDsecret4242"}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=443&secret=ab" + KEY16}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=443&secret=7gARIjNEVWZ3iJmqu8zd7v9l!GFtcGxl"}, "proxy"),
    ({"proxy": "tg://proxy?server=h.example&port=443&secret=ee" + KEY16 + b"bad domain!".hex()}, "proxy"),
    ({"proxy": "https://t.me/proxy?server=bad_host!&port=443&secret=" + KEY16}, "proxy"),
    ({"rsa_key_file": "/nonexistent/key.pem"}, "rsa_key_file"),
    ({"tls_cert": "cert.pem"}, "tls_key"),
    ({"tls_key": "key.pem"}, "tls_cert"),
    ({"tls_cert": "/nonexistent/cert.pem", "tls_key": "/nonexistent/key.pem"}, "tls_cert"),
    ({"no_auth": True, "host": "0.0.0.0"}, "no_auth"),  # noqa: S104 - the refusal is the point
    ({"no_auth": True, "host": "example.com"}, "no_auth"),
    ({"no_auth": True, "host": "::"}, "no_auth"),
    ({"host": "bad host!"}, "host"),
    ({"public_url": "http://gateway.example.com"}, "public_url"),
    ({"public_url": "not a url"}, "public_url"),
    ({"port": 70000}, "port"),
    ({"port": -1}, "port"),
    ({"server_secret": PLANTED}, "server_secret"),
    ({"operator_token": PLANTED}, "operator_token"),
    ({"max_body_bytes": 10}, "max_body_bytes"),
    ({"telegram_timeout": 0}, "telegram_timeout"),
    ({"pool_max_clients": 0}, "pool_max_clients"),
    ({"pool_idle_seconds": -1}, "pool_idle_seconds"),
    ({"flood_sleep_threshold": -1}, "flood_sleep_threshold"),
    ({"log_level": "LOUD"}, "log_level"),
    ({"transport": "websocket"}, "transport"),
    ({"workers": 0}, "workers"),
    ({"workers": 65}, "workers"),
    ({"workers": 2, "no_auth": True}, "workers"),
]


@pytest.mark.parametrize(("overrides", "setting"), INVALID)
def test_invalid_settings_raise_a_one_line_config_error_naming_the_setting(
    overrides: dict[str, Any], setting: str
) -> None:
    """Each invalid setting is refused with one line that names it and its variable, never its value."""
    with pytest.raises(ConfigError) as caught:
        Settings.load(**overrides)
    message = str(caught.value)
    assert setting in message
    assert "\n" not in message
    assert PLANTED not in message
    if setting != "bogus_option":
        assert f"MCPGRAM_{setting.upper()}" in message


@pytest.mark.parametrize("key", ["small", "ec", "garbage"])
def test_unusable_rsa_key_files_are_refused(rsa_keys: dict[str, Path], key: str) -> None:
    """RSA key files holding a short key, a non-RSA key or no PEM key are refused by name."""
    with pytest.raises(ConfigError, match="rsa_key_file"):
        Settings.load(rsa_key_file=rsa_keys[key])


@pytest.mark.parametrize("key", ["pkcs1", "spki"])
def test_rsa_key_is_exposed_as_pkcs1_pem(rsa_keys: dict[str, Path], key: str) -> None:
    """PKCS#1 and SubjectPublicKeyInfo files both yield the PKCS#1 PEM that Telethon's add_key loads."""
    config = Settings.load(api_id=1, api_hash=API_HASH, rsa_key_file=rsa_keys[key]).telegram_config()
    assert config.rsa_key_pem is not None
    assert config.rsa_key_pem.startswith("-----BEGIN RSA PUBLIC KEY-----")
    assert config.rsa_key_pem.encode() == rsa_keys["pkcs1"].read_bytes()
    # Telethon passes the PEM text as str; rsa encodes it itself.
    loaded = pyrsa.PublicKey.load_pkcs1(config.rsa_key_pem)  # type: ignore[arg-type]
    assert loaded.n.bit_length() == 2048


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_no_auth_is_allowed_on_loopback_hosts(host: str) -> None:
    """no_auth is accepted when the HTTP server binds a loopback address only."""
    settings = Settings.load(no_auth=True, host=host)
    assert settings.http_config().no_auth is True
    assert is_loopback_host(settings.host)


@pytest.mark.parametrize(
    "url", ["https://gateway.example.com", "http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]/"]
)
def test_public_url_accepts_https_or_loopback_http(url: str) -> None:
    """public_url may be https anywhere, or plain http on a loopback host."""
    assert Settings.load(public_url=url).http_config().public_url is not None


def test_tls_files_are_accepted_together(tmp_path: Path) -> None:
    """Readable tls_cert and tls_key given together reach the HTTP config."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("cert")
    key.write_text("key")
    http = Settings.load(tls_cert=cert, tls_key=key, port=8443).http_config()
    assert http == HttpConfig(port=8443, tls_cert=cert, tls_key=key)


DC_TABLE = [
    ("2@149.154.167.40:443", DcAddress(2, "149.154.167.40", 443)),
    ("2@[2001:b28:f23d:f001::a]:443", DcAddress(2, "2001:b28:f23d:f001::a", 443)),
    ("1@localhost:1", DcAddress(1, "localhost", 1)),
    ("1000@dc.example.org:65535", DcAddress(1000, "dc.example.org", 65535)),
    (" 4@127.0.0.1:40123 ", DcAddress(4, "127.0.0.1", 40123)),
]


@pytest.mark.parametrize(("text", "expected"), DC_TABLE)
def test_dc_addresses_parse(text: str, expected: DcAddress) -> None:
    """DC addresses in <id>@<host>:<port> form, IPv6 in brackets, parse to DcAddress."""
    assert parse_dc(text) == expected


def test_dc_setting_reaches_the_telegram_config() -> None:
    """The dc setting is parsed into the Telegram config along with the client options."""
    settings = Settings.load(
        api_id=5, api_hash=API_HASH, dc="2@127.0.0.1:40123", test_mode=True, telegram_timeout=7
    )
    config = settings.telegram_config()
    assert config.dc == DcAddress(2, "127.0.0.1", 40123)
    assert (config.api_id, config.test_mode, config.timeout, config.flood_sleep_threshold) == (5, True, 7, 5)


def test_telegram_config_needs_api_credentials_unless_given() -> None:
    """Without api_id and api_hash the Telegram config is refused, unless the caller supplies them."""
    settings = Settings.load()
    with pytest.raises(ConfigError, match="api_id"):
        settings.telegram_config()
    dc = DcAddress(2, "127.0.0.1", 1234)
    config = settings.telegram_config(api_id=7, api_hash=API_HASH, dc=dc, rsa_key_pem="PEM")
    assert (config.api_id, config.dc, config.rsa_key_pem) == (7, dc, "PEM")


EE_SECRET = "ee" + KEY16 + DOMAIN_HEX
PROXY_TABLE: list[tuple[str, ProxyConfig]] = [
    ("socks5://proxy.example:1080", ProxyConfig("socks5", "proxy.example", 1080)),
    ("socks5h://u:p@10.0.0.1:1080", ProxyConfig("socks5", "10.0.0.1", 1080, "u", "p")),
    ("SOCKS5://us%40er:p%3Ass@[::1]:1080", ProxyConfig("socks5", "::1", 1080, "us@er", "p:ss")),
    ("socks4://10.0.0.1:1080", ProxyConfig("socks4", "10.0.0.1", 1080)),
    ("http://u:p@proxy.example:3128", ProxyConfig("http", "proxy.example", 3128, "u", "p")),
    (
        f"tg://proxy?server=mt.example&port=443&secret={KEY16}",
        ProxyConfig("mtproto", "mt.example", 443, secret=bytes.fromhex(KEY16)),
    ),
    (
        f"tg://proxy?server=1.2.3.4&port=443&secret=dd{KEY16}",
        ProxyConfig("mtproto", "1.2.3.4", 443, secret=bytes.fromhex(KEY16), padded=True),
    ),
    (
        f"https://t.me/proxy?server=mt.example&port=8443&secret={EE_SECRET}",
        ProxyConfig(
            "mtproto", "mt.example", 8443, secret=bytes.fromhex(KEY16), fake_tls_domain="example.com"
        ),
    ),
    (
        # The same fake-TLS secret, base64url-encoded as Telegram apps share it.
        "tg://proxy?server=mt.example&port=443&secret=7gARIjNEVWZ3iJmqu8zd7v9leGFtcGxlLmNvbQ",
        ProxyConfig("mtproto", "mt.example", 443, secret=bytes.fromhex(KEY16), fake_tls_domain="example.com"),
    ),
    (
        "https://t.me/socks?server=s.example&port=1080&user=u&pass=p",
        ProxyConfig("socks5", "s.example", 1080, "u", "p"),
    ),
]


@pytest.mark.parametrize(("url", "expected"), PROXY_TABLE)
def test_proxy_urls_parse(url: str, expected: ProxyConfig) -> None:
    """SOCKS, HTTP and MTProto proxy links (plain, dd, ee fake-TLS, base64url) parse to ProxyConfig."""
    assert parse_proxy(url) == expected


@pytest.mark.parametrize("secret", [KEY16, "dd" + KEY16, EE_SECRET])
def test_mtproto_secret_hex_round_trips(secret: str) -> None:
    """secret_hex gives back the link's secret, prefix and fake-TLS domain included."""
    proxy = parse_proxy(f"tg://proxy?server=mt.example&port=443&secret={secret}")
    assert proxy.secret_hex == secret
    assert parse_proxy(f"tg://proxy?server=mt.example&port=443&secret={proxy.secret_hex}") == proxy


def test_reprs_and_dumps_never_show_secrets() -> None:
    """Planted secrets stay out of repr, str and dumps of Settings and every config dataclass."""
    settings = Settings.load(
        api_id=1,
        api_hash="abcdef0123456789abcdef0123456789",
        server_secret=PLANTED * 3,
        operator_token=PLANTED * 2,
        proxy=f"socks5://user:{PLANTED}@proxy.example:1080",
    )
    mtproto = parse_proxy(f"tg://proxy?server=mt.example&port=443&secret=dd{KEY16}")
    config = settings.telegram_config()
    shown = [repr(settings), str(settings), str(settings.model_dump()), settings.model_dump_json()]
    shown += [repr(config), str(config), repr(config.proxy), repr(mtproto), str(mtproto)]
    for text in shown:
        assert PLANTED not in text
        assert "abcdef0123456789abcdef0123456789" not in text
        assert KEY16 not in text
    assert "proxy.example" in repr(settings)
    assert config.proxy is not None and config.proxy.password == PLANTED


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after loading; a new load() is the only way to other values."""
    settings = Settings.load()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1/32",)),
        ("10.0.0.0/8, ::1", ("10.0.0.0/8", "::1/128")),
        ("10.0.0.0/8 192.168.1.7/24", ("10.0.0.0/8", "192.168.1.0/24")),
        (["fd00::/8"], ("fd00::/8",)),
    ],
)
def test_trusted_proxies_are_parsed_into_networks(value: object, expected: tuple[str, ...]) -> None:
    """trusted_proxies takes addresses and networks, comma- or space-separated, into the HTTP config."""
    assert Settings.load(trusted_proxies=value).http_config().trusted_proxies == expected


def test_trusted_proxies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """MCPGRAM_TRUSTED_PROXIES is a plain comma-separated list, not JSON."""
    monkeypatch.setenv("MCPGRAM_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")
    assert Settings.load().trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")


@pytest.mark.parametrize("value", [PLANTED, "10.0.0.0/33", "300.1.1.1", "10.0.0.1," + PLANTED])
def test_bad_trusted_proxies_are_refused_without_echo(value: str) -> None:
    """An entry that is not an address or network is a ConfigError naming the setting, not the value."""
    with pytest.raises(ConfigError, match="trusted_proxies") as raised:
        Settings.load(trusted_proxies=value)
    assert PLANTED not in str(raised.value) and value not in str(raised.value)


@pytest.mark.parametrize(
    "override",
    [
        {"auth_failures_per_minute": 0},
        {"requests_per_minute": 0},
        {"max_concurrent_requests": 0},
        {"mcp_session_idle_seconds": 0},
    ],
)
def test_limits_must_allow_something(override: dict[str, int]) -> None:
    """A rate limit, in-flight cap or idle timeout of zero is refused at start."""
    with pytest.raises(ConfigError, match=next(iter(override))):
        Settings.load(**override)


def test_limit_settings_reach_the_http_config() -> None:
    """The rate limits and the session idle timeout travel from Settings to the edge's config."""
    http = Settings.load(
        auth_failures_per_minute=3,
        requests_per_minute=7,
        max_concurrent_requests=9,
        mcp_session_idle_seconds=60,
    ).http_config()
    assert (http.auth_failures_per_minute, http.requests_per_minute, http.max_concurrent_requests) == (
        3,
        7,
        9,
    )
    assert http.mcp_session_idle_seconds == 60
    assert Settings.load().http_config() == HttpConfig()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ()),
        ("https://App.Example", ("https://app.example",)),
        ("https://a.example, http://127.0.0.1:5173/", ("https://a.example", "http://127.0.0.1:5173")),
    ],
)
def test_cors_origins_parse_from_a_comma_separated_list(raw: str, expected: tuple[str, ...]) -> None:
    settings = Settings.load(env_file=None, cors_origins=raw)
    assert settings.cors_origins == expected
    assert settings.http_config().cors_origins == expected


@pytest.mark.parametrize(
    "bad",
    ["app.example", "ftp://a.example", "https://a.example/p", "https://u@a.example", "https://a:x", "*"],
)
def test_cors_origins_refuse_what_is_not_an_origin(bad: str) -> None:
    with pytest.raises(ConfigError, match="cors_origins"):
        Settings.load(env_file=None, cors_origins=bad)


def test_attachment_keys_parse_current_first_and_never_echo_a_secret() -> None:
    """``id:secret`` pairs, current first; a bad entry names the setting, never the secret given."""
    one, two = "a" * 32, "b" * 40
    from mcpgram.configs import parse_attachment_keys

    settings = Settings.load(env_file=None, attachment_keys=f"2:{two}, 1:{one}")
    assert settings.attachment_keys is not None
    assert parse_attachment_keys(settings.attachment_keys.get_secret_value()) == [
        (2, two.encode()),
        (1, one.encode()),
    ]
    assert one not in repr(settings)
    assert Settings.load(env_file=None).attachment_keys is None
    for bad in (f"0:{one}", f"256:{one}", f"x:{one}", one, "1:short-secret-value", f"1:{one},1:{two}"):
        with pytest.raises(ConfigError) as caught:
            Settings.load(env_file=None, attachment_keys=bad)
        assert "attachment_keys" in str(caught.value)
        assert "short-secret-value" not in str(caught.value) and one not in str(caught.value)
