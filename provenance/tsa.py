"""RFC 3161 timestamps of custody checkpoints, from one or several Time Stamping
Authorities, and their verification against the TSA's CA certificates.

A timestamp is an outside party's signed statement that some bytes existed at a time:
the agency's own clock is no longer the only witness of when a checkpoint was made. The
token is kept exactly as the TSA sent it (a DER TimeStampResp, `.tsr`), which
`openssl ts -verify` also checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import rfc3161_client
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from provenance.ca import load_certificates
from provenance.errors import InvalidCertificateChain, TsaNotConfigured, TsaUnavailable

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
DEFAULT_TIMEOUT_S = 10.0
MAX_REPLY = 256 * 1024
SHA256_OID = "2.16.840.1.101.3.4.2.1"


@dataclass(frozen=True)
class TsaAttempt:
    """One TSA that gave no usable timestamp, and why."""

    url: str
    reason: str


@dataclass(frozen=True)
class Timestamp:
    """A timestamp token as received, with what it says."""

    token: bytes  # the DER TimeStampResp: store it WORM beside the checkpoint
    url: str  # the TSA that answered
    time: dt.datetime  # the TSA's genTime (UTC)
    tsa: str  # the TSA's certificate subject (or the name in the token)
    serial: int
    attempts: tuple[TsaAttempt, ...] = ()  # TSAs tried first that failed


@dataclass(frozen=True)
class TimestampCheck:
    """The result of checking a stored token against the message and the TSA's CA."""

    verified: bool
    time: dt.datetime | None
    tsa: str | None
    serial: int | None
    reason: str | None  # why it is not verified

    def line(self) -> str:
        """One line for `bwc verify`: time, TSA, verified or why not."""
        when = self.time.isoformat() if self.time else "no time"
        if self.verified:
            return f"timestamped {when} by {self.tsa} (verified)"
        return f"timestamp {when} by {self.tsa or 'unknown TSA'}: NOT verified: {self.reason}"


def load_ca_file(path: Path) -> list[x509.Certificate]:
    """The certificates in a PEM file (BWC_TSA_CA_FILE): the TSA roots and intermediates."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise InvalidCertificateChain(f"cannot read TSA CA file {path}: {exc.strerror}",
                                      check="parse", path=str(path)) from None
    return load_certificates(pem)


def _tsa_name(response: TimeStampResponse) -> str:
    """The signing TSA's certificate subject, else the name the token gives, else '?'."""
    signed = response.signed_data
    signers = {(i.issuer, i.serial_number) for i in signed.signer_infos}
    for der in signed.certificates:
        cert = x509.load_der_x509_certificate(der)
        if (cert.issuer, cert.serial_number) in signers:
            return cert.subject.rfc4514_string()
    try:
        name = response.tst_info.name
    except ValueError:
        return "?"
    value = getattr(name, "value", None)
    if isinstance(value, x509.Name):
        return value.rfc4514_string()
    return str(value) if value is not None else "?"


def _plain(exc: Exception) -> str:
    """The useful part of a verification error (OpenSSL's stack names it as `data`)."""
    text = str(exc)
    if 'data: "' in text:
        detail = text.split('data: "', 1)[1].split('"', 1)[0]
        return f"the TSA's certificate does not verify under the configured CA: {detail}"
    return text


def _verifier(ca_certs: Sequence[x509.Certificate], builder: VerifierBuilder
              ) -> rfc3161_client.Verifier:
    roots = [c for c in ca_certs if c.issuer == c.subject]
    if not roots:
        raise InvalidCertificateChain("the TSA CA certificates include no self-signed root",
                                      check="no_root")
    for cert in ca_certs:
        builder = (builder.add_root_certificate(cert) if cert in roots
                   else builder.add_intermediate_certificate(cert))
    return builder.build()


def _ask(url: str, message: bytes, ca_certs: Sequence[x509.Certificate],
         timeout_s: float) -> Timestamp | TsaAttempt:
    request = (TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256)
               .nonce(nonce=True).cert_request(cert_request=True).build())
    try:
        reply = httpx.post(url, content=request.as_bytes(), timeout=timeout_s,
                           headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE})
    except httpx.HTTPError as exc:
        return TsaAttempt(url, f"unreachable: {exc.__class__.__name__}: {exc}")
    if reply.status_code != 200:
        return TsaAttempt(url, f"HTTP {reply.status_code} from the TSA")
    if len(reply.content) > MAX_REPLY:
        return TsaAttempt(url, f"reply of {len(reply.content)} bytes is not a timestamp")
    try:
        response = decode_timestamp_response(reply.content)
    except ValueError as exc:
        return TsaAttempt(url, f"not a timestamp reply this verifier can read: {exc}")
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return TsaAttempt(url, f"refused (PKIStatus {response.status}): "
                               + "; ".join(response.status_string))
    try:
        if ca_certs:
            _verifier(ca_certs, VerifierBuilder.from_request(request)).verify_message(
                response, message)
        else:  # no CA configured: at least the token must answer this request
            if response.tst_info.nonce != request.nonce:
                raise VerificationError("Nonce mismatch")
            if response.tst_info.message_imprint.message != request.message_imprint.message:
                raise VerificationError("Mismatch between messages")
    except VerificationError as exc:
        return TsaAttempt(url, f"token did not verify: {_plain(exc)}")
    return Timestamp(token=reply.content, url=url, time=response.tst_info.gen_time,
                     tsa=_tsa_name(response), serial=response.tst_info.serial_number)


def request_timestamp(message: bytes, *, urls: Sequence[str],
                      ca_certs: Sequence[x509.Certificate] = (),
                      timeout_s: float = DEFAULT_TIMEOUT_S) -> Timestamp:
    """A timestamp of `message` (SHA-256 imprint) from the first TSA in `urls` that gives a
    good one; with `ca_certs`, a token that does not verify under them is refused too.

    Raises TsaUnavailable (naming why, per URL) when none does: the caller retries later.
    """
    if not urls:
        raise TsaNotConfigured("no Time Stamping Authority URL is configured (BWC_TSA_URL)")
    if not message:
        raise ValueError("the message to timestamp is empty")
    attempts: list[TsaAttempt] = []
    for url in urls:
        got = _ask(url, message, ca_certs, timeout_s)
        if isinstance(got, Timestamp):
            return Timestamp(token=got.token, url=got.url, time=got.time, tsa=got.tsa,
                             serial=got.serial, attempts=tuple(attempts))
        attempts.append(got)
    raise TsaUnavailable(
        f"no Time Stamping Authority gave a timestamp ({len(attempts)} tried); retry later",
        attempts=[{"url": a.url, "reason": a.reason} for a in attempts])


def verify_timestamp(token: bytes, message: bytes, *,
                     ca_certs: Sequence[x509.Certificate]) -> TimestampCheck:
    """Check a stored token: it parses, was granted, covers `message`, and is signed by a
    timestamping certificate under `ca_certs` (valid at the token's own time)."""
    try:
        response = decode_timestamp_response(token)
    except ValueError as exc:
        return TimestampCheck(False, None, None, None, f"not a readable timestamp token: {exc}")
    try:
        time, serial = response.tst_info.gen_time, response.tst_info.serial_number
        tsa = _tsa_name(response)
    except ValueError as exc:
        return TimestampCheck(False, None, None, None, f"not a readable timestamp token: {exc}")
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return TimestampCheck(False, time, tsa, serial,
                              f"the TSA refused the request (PKIStatus {response.status})")
    imprint = response.tst_info.message_imprint
    # Said in plain words before the cryptography: a token moved from another checkpoint is
    # well signed, it only timestamps other bytes.
    if (imprint.hash_algorithm.dotted_string == SHA256_OID
            and imprint.message != hashlib.sha256(message).digest()):
        return TimestampCheck(False, time, tsa, serial,
                              "the token timestamps another message, not this one")
    if not ca_certs:
        return TimestampCheck(False, time, tsa, serial,
                              "no TSA CA certificate configured (BWC_TSA_CA_FILE)")
    try:
        _verifier(ca_certs, VerifierBuilder()).verify_message(response, message)
    except VerificationError as exc:
        return TimestampCheck(False, time, tsa, serial, _plain(exc))
    except InvalidCertificateChain as exc:
        return TimestampCheck(False, time, tsa, serial, exc.message)
    return TimestampCheck(True, time, tsa, serial, None)


def covers(token: bytes, message: bytes) -> bool:
    """True when `token` is a readable, granted timestamp of `message`'s SHA-256 (its
    signature and TSA not checked: see `verify_timestamp`)."""
    try:
        response = decode_timestamp_response(token)
        imprint = response.tst_info.message_imprint
    except ValueError:
        return False
    return (response.status in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS)
            and imprint.hash_algorithm.dotted_string == SHA256_OID
            and imprint.message == hashlib.sha256(message).digest())
