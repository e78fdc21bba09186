import contextlib
import ssl

from detonate.sandbox.netsim.stratum import split_login
from detonate.sandbox.netsim.tls import looks_like_tls, parse_client_hello


def _client_hello(server_name: str) -> bytes:
    context = ssl.create_default_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    connection = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        connection.do_handshake()
    return outgoing.read()


def test_client_hello_gives_sni_and_alpn() -> None:
    data = _client_hello("pool.example.test")
    hello = parse_client_hello(data)
    assert looks_like_tls(data)
    assert hello.complete
    assert hello.sni == "pool.example.test"
    assert hello.alpn == ("h2", "http/1.1")


def test_partial_client_hello_is_incomplete_not_an_error() -> None:
    hello = parse_client_hello(_client_hello("a.test")[:60])
    assert not hello.complete


def test_wallet_split_from_worker_and_difficulty() -> None:
    assert split_login("4AbcWallet.rig1") == ("4AbcWallet", "rig1")
    assert split_login("4AbcWallet+50000.rig1") == ("4AbcWallet", "rig1")
    assert split_login("4AbcWallet") == ("4AbcWallet", "")
