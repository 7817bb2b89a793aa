"""RFC 3161 timestamps from a real TSA (`openssl ts -reply` over HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provenance.errors import InvalidCertificateChain, TsaNotConfigured, TsaUnavailable
from provenance.tsa import load_ca_file, request_timestamp, verify_timestamp
from tests.support.s3server import free_port
from tests.support.tsa import TsaServer, running_tsa, wait_until_serving

CHECKPOINT = (b"bwc-checkpoint-v1\n7\n120\n" + b"a" * 64
              + b"\n2027-01-04T15:00:00+00:00\nc2lnbmF0dXJl\n")


@pytest.fixture(scope="module")
def other_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """A second real TSA under a CA of its own."""
    with running_tsa(tmp_path_factory.mktemp("other-tsa"), name="Other TSA") as server:
        yield server


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/"


def test_a_timestamp_verifies_and_says_when_and_who(tsa: TsaServer, tmp_path: Path) -> None:
    ca = load_ca_file(tsa.ca_file)
    stamp = request_timestamp(CHECKPOINT, urls=[tsa.url], ca_certs=ca)
    assert stamp.url == tsa.url
    assert stamp.attempts == ()
    assert abs(stamp.time - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert stamp.tsa == "CN=Test TSA,O=Test Time Authority"
    check = verify_timestamp(stamp.token, CHECKPOINT, ca_certs=ca)
    assert check.verified
    assert check.reason is None
    assert (check.time, check.tsa, check.serial) == (stamp.time, stamp.tsa, stamp.serial)
    assert check.line().endswith("(verified)")
    # the stored token is a plain RFC 3161 reply: openssl checks it too, without our code
    (tmp_path / "cp").write_bytes(CHECKPOINT)
    (tmp_path / "cp.tsr").write_bytes(stamp.token)
    run = subprocess.run(["openssl", "ts", "-verify", "-data", str(tmp_path / "cp"),
                          "-in", str(tmp_path / "cp.tsr"), "-CAfile", str(tsa.ca_file)],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0
    assert "Verification: OK" in run.stdout


def test_each_url_is_tried_in_turn(tsa: TsaServer, other_tsa: TsaServer,
                                   tmp_path: Path) -> None:
    dead = _dead_url()
    # a TSA whose tokens carry its chain in file order (not DER): unreadable here
    with running_tsa(tmp_path / "chain", name="Chain TSA", chain_in_token=True) as chained:
        stamp = request_timestamp(
            CHECKPOINT, urls=[dead, other_tsa.url, chained.url, tsa.url],
            ca_certs=load_ca_file(tsa.ca_file) + load_ca_file(chained.ca_file))
    assert stamp.url == tsa.url
    reasons = {a.url: a.reason for a in stamp.attempts}
    assert list(reasons) == [dead, other_tsa.url, chained.url]
    assert reasons[dead].startswith("unreachable: ConnectError")
    assert "does not verify under the configured CA" in reasons[other_tsa.url]
    assert reasons[chained.url].startswith("not a timestamp reply this verifier can read")


def test_a_tsa_that_is_down_gives_a_typed_error(tmp_path: Path) -> None:
    with running_tsa(tmp_path / "gone") as gone:
        url, ca = gone.url, load_ca_file(gone.ca_file)
        assert request_timestamp(b"x", urls=[url], ca_certs=ca).url == url
        gone.stop()
        with pytest.raises(TsaUnavailable) as exc:
            request_timestamp(CHECKPOINT, urls=[url, _dead_url()], ca_certs=ca, timeout_s=2)
    err = exc.value
    assert (err.code, err.status) == ("tsa_unavailable", 503)
    assert [a["url"] for a in err.details["attempts"]][0] == url
    assert all(a["reason"].startswith("unreachable") for a in err.details["attempts"])


def test_a_server_that_is_not_a_tsa_is_skipped(tsa: TsaServer, tmp_path: Path) -> None:
    # a real web server that answers POST with an error (a wrong URL in BWC_TSA_URL)
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                            "--directory", str(tmp_path)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    wrong = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(wrong, web)
        stamp = request_timestamp(CHECKPOINT, urls=[wrong, tsa.url],
                                  ca_certs=load_ca_file(tsa.ca_file))
    finally:
        web.terminate()
        web.wait()
    assert stamp.url == tsa.url
    assert stamp.attempts[0].reason == "HTTP 501 from the TSA"


def test_no_url_is_not_configured() -> None:
    with pytest.raises(TsaNotConfigured) as exc:
        request_timestamp(CHECKPOINT, urls=[])
    assert exc.value.code == "tsa_not_configured"


def test_verification_says_why_not(tsa: TsaServer, other_tsa: TsaServer) -> None:
    ca = load_ca_file(tsa.ca_file)
    stamp = request_timestamp(CHECKPOINT, urls=[tsa.url])  # accepted unverified: no CA given
    other_data = verify_timestamp(stamp.token, CHECKPOINT + b"x", ca_certs=ca)
    assert not other_data.verified
    assert other_data.reason == "the token timestamps another message, not this one"
    assert other_data.time == stamp.time  # what the token claims is still shown
    wrong_ca = verify_timestamp(stamp.token, CHECKPOINT, ca_certs=load_ca_file(other_tsa.ca_file))
    assert not wrong_ca.verified
    assert wrong_ca.reason is not None
    assert "does not verify under the configured CA" in wrong_ca.reason
    no_ca = verify_timestamp(stamp.token, CHECKPOINT, ca_certs=[])
    assert not no_ca.verified
    assert "BWC_TSA_CA_FILE" in (no_ca.reason or "")
    assert "NOT verified" in no_ca.line()
    broken = bytearray(stamp.token)
    broken[len(broken) // 2] ^= 0x01
    assert not verify_timestamp(bytes(broken), CHECKPOINT, ca_certs=ca).verified
    junk = verify_timestamp(b"not a token", CHECKPOINT, ca_certs=ca)
    assert not junk.verified
    assert junk.time is None
    assert (junk.reason or "").startswith("not a readable timestamp token")


def test_a_ca_file_must_be_pem_certificates(tmp_path: Path) -> None:
    bad = tmp_path / "tsa-ca.pem"
    bad.write_text("hello")
    with pytest.raises(InvalidCertificateChain):
        load_ca_file(bad)
    with pytest.raises(InvalidCertificateChain):
        load_ca_file(tmp_path / "missing.pem")
