"""Start a real RFC 3161 Time Stamping Authority on loopback: `openssl ts -reply` behind
`tsa_server.py`, with its own CA and TSA certificate made here."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.s3server import free_port

STARTUP_DEADLINE_S = 20
POLICY_OID = "1.3.6.1.4.1.55555.3161.1"  # a test policy (no registered arc is needed here)


@dataclass
class TsaServer:
    url: str
    ca_file: Path  # the TSA's root certificate (what BWC_TSA_CA_FILE would name)
    tsa_cert_file: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    config: Path | None = None
    log: Path | None = None

    def stop(self) -> None:
        """Stop the server (a test of a TSA going down calls this)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def start(self) -> None:
        """Start it (again) on its port, with its certificates: a TSA coming back up."""
        assert self.config is not None
        assert self.log is not None
        self.stop()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("tsa_server.py")),
                 "--port", str(self.port), "--config", str(self.config)],
                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(self.url, self.process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: " + self.log.read_text(errors="replace")[-2000:]
                               ) from None


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Time Authority"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _usage(*, sign: bool, certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=sign, content_commitment=sign, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=certs,
                         crl_sign=certs, encipher_only=False, decipher_only=False)


def make_tsa_pki(directory: Path, *, name: str = "Test TSA") -> tuple[Path, Path, Path]:
    """A root CA and a TSA certificate under it (EKU timeStamping, critical, as RFC 3161
    §2.3 requires); returns (ca.pem, tsa.pem, tsa.key.pem)."""
    directory.mkdir(parents=True, exist_ok=True)
    # the machine's clock, as `openssl ts` stamps by it, even under the suite's fixed one
    hatch = time_machine.escape_hatch
    now = (hatch.datetime.datetime.now(tz=dt.UTC) if hatch.is_travelling()
           else dt.datetime.now(dt.UTC))
    start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=3650)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name(f"{name} Root"))
          .issuer_name(_name(f"{name} Root")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_usage(sign=False, certs=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    tsa_key = ec.generate_private_key(ec.SECP256R1())
    tsa = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca.subject)
           .public_key(tsa_key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(start).not_valid_after(end)
           .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
           .add_extension(_usage(sign=True, certs=False), critical=True)
           .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
           .add_extension(x509.SubjectKeyIdentifier.from_public_key(tsa_key.public_key()),
                          critical=False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                          critical=False)
           .sign(ca_key, hashes.SHA256()))
    ca_file, tsa_file = directory / "ca.pem", directory / "tsa.pem"
    key_file = directory / "tsa.key.pem"
    ca_file.write_bytes(_pem(ca))
    tsa_file.write_bytes(_pem(tsa))
    key_file.write_bytes(tsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_file.chmod(0o600)
    return ca_file, tsa_file, key_file


def _write_config(directory: Path, tsa_file: Path, key_file: Path, ca_file: Path,
                  chain_in_token: bool) -> Path:
    (directory / "serial").write_text("01\n")
    # `certs` adds the CA to each token; openssl then writes the token's certificate SET
    # in file order, not DER order, which rfc3161-client refuses to parse.
    certs = f"certs = {ca_file}\n" if chain_in_token else ""
    config = directory / "openssl-tsa.cnf"
    config.write_text(f"""\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = {directory / 'serial'}
crypto_device = builtin
signer_cert = {tsa_file}
{certs}signer_key = {key_file}
signer_digest = sha256
default_policy = {POLICY_OID}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
    return config


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_serving(url: str, proc: subprocess.Popen[bytes],
                       deadline_s: float = STARTUP_DEADLINE_S) -> None:
    """Poll `url` until it answers 200 (a deadline, not a fixed sleep); raise if `proc`
    exits first or the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while not _ready(url):
        if proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {deadline_s} s")
        time.sleep(0.05)


@contextmanager
def running_tsa(directory: Path, *, name: str = "Test TSA",
                chain_in_token: bool = False) -> Iterator[TsaServer]:
    """A TSA answering on a free loopback port, stopped on exit (`chain_in_token`: its
    tokens also carry the CA certificate, as many public TSAs' do)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the `openssl` command is not installed (apt-get install openssl)")
    ca_file, tsa_file, key_file = make_tsa_pki(directory, name=name)
    config = _write_config(directory, tsa_file, key_file, ca_file, chain_in_token)
    port = free_port()
    server = TsaServer(url=f"http://127.0.0.1:{port}/", ca_file=ca_file, tsa_cert_file=tsa_file,
                       port=port, config=config, log=directory / "tsa.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()
