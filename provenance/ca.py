"""The agency's certificate authority for C2PA signing: a root and a non-CA signing leaf.

C2PA refuses a self-signed signing certificate, so the agency keeps a two-level private CA
(or imports a chain from its own CA). Layout of the directory (mode 0700, keys 0600):

    ACTIVE.json              {"root": ID, "signer": ID, "source": "generated" | "imported"}
    roots/ID.pem             every root the agency has used (published: old releases verify)
    roots/ID.key.pem         the active root's private key (generated CAs only)
    signers/ID.pem           each signing leaf, then its intermediates (what C2PA embeds)
    signers/ID.key.pem       the active leaf's private key

ID is the first 16 hex digits of SHA-256 over the certificate's DER. Rotation writes the
new files, then swaps ACTIVE.json atomically, then destroys the retired private keys;
retired certificates stay, so releases signed before a rotation keep verifying.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.errors import CaExists, CaImported, CaMissing, InvalidCertificateChain

ACTIVE_FILE = "ACTIVE.json"
ROOTS_DIR = "roots"
SIGNERS_DIR = "signers"
LOCK_FILE = ".lock"
ROOT_DAYS = 30 * 365
# A release signed without an RFC 3161 timestamp stops validating when its leaf expires
# (measured with c2pa-python 0.38: signingCredential.expired, state Invalid); one signed
# with a timestamp is checked at the timestamp's time and keeps validating.
LEAF_DAYS = 10 * 365
CLOCK_SKEW = dt.timedelta(minutes=5)

# Extended key usages C2PA accepts on a claim signer (C2PA 2.x, certificate profile), of
# those that fit a signer of documents; anyExtendedKeyUsage is forbidden.
SIGNING_EKUS = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION,
    x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36"),  # id-kp-documentSigning (RFC 9336)
    x509.ObjectIdentifier("1.3.6.1.4.1.311.76.59.1.9"),  # Microsoft document signing
    x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1"),  # c2pa-kp-claimSigning
}

Source = Literal["generated", "imported"]


def cert_id(cert: x509.Certificate) -> str:
    """First 16 hex digits of SHA-256 over the certificate's DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]


def cert_pem(cert: x509.Certificate) -> bytes:
    """The certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_secret(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 atomically; never overwrite an existing file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    finally:
        tmp.unlink()


def _write_public(path: Path, data: bytes) -> None:
    """Create a public file (0644) atomically; an identical existing file is left alone."""
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    os.replace(tmp, path)


@contextmanager
def _ca_lock(directory: Path) -> Iterator[None]:
    """Exclusive lock on the CA directory (threads and processes alike)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, in file order."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise InvalidCertificateChain(f"not a PEM certificate bundle: {exc}",
                                      check="parse") from None
    return certs


def signing_alg(key: PrivateKeyTypes) -> str:
    """The C2PA signing algorithm for a private key (es256/384/512, ps256, ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
    elif isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return "ps256"
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise InvalidCertificateChain(
        "the signing key must be ECDSA P-256/P-384/P-521, RSA >= 2048 bits or Ed25519",
        check="key_type")


@dataclass(frozen=True)
class SigningCredentials:
    """What C2PA signing needs: the leaf and its intermediates (no root), the key, the alg."""

    certificates: tuple[x509.Certificate, ...]
    private_key_pem: bytes
    alg: str

    @property
    def leaf(self) -> x509.Certificate:
        """The signing certificate."""
        return self.certificates[0]

    @property
    def chain_pem(self) -> bytes:
        """Leaf then intermediates, as PEM (C2PA's `sign_cert`)."""
        return b"".join(cert_pem(c) for c in self.certificates)


def _name(agency: str, role: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"{agency} {role}")])


def _new_root(agency: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(agency, "Content Credentials Root")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=ROOT_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _new_leaf(root: x509.Certificate, root_key: CertificateIssuerPrivateKeyTypes,
              now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A non-CA leaf with digitalSignature and emailProtection (what C2PA requires), with
    key identifiers (c2pa-rs refuses a leaf without an authority key identifier)."""
    key = ec.generate_private_key(ec.SECP256R1())
    agency = root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    not_after = min(now + dt.timedelta(days=LEAF_DAYS), root.not_valid_after_utc)
    cert = (x509.CertificateBuilder().subject_name(_name(str(agency), "Release Signing"))
            .issuer_name(root.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    return cert, key


def validate_chain(chain: Sequence[x509.Certificate], key: PrivateKeyTypes,
                   now: dt.datetime) -> str:
    """Check an imported chain (leaf first, ending in its self-signed root) and key as C2PA
    signing needs them; returns the signing algorithm, or raises naming the failed check."""
    if len(chain) < 2:
        raise InvalidCertificateChain(
            "the chain must hold the signing certificate and, last, its root: C2PA refuses "
            "a self-signed signer", check="self_signed_leaf" if chain else "parse")
    leaf, root = chain[0], chain[-1]
    if leaf.issuer == leaf.subject:
        raise InvalidCertificateChain("the signing certificate is self-signed; C2PA refuses it",
                                      check="self_signed_leaf")
    for child, parent in zip(chain, chain[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise InvalidCertificateChain(
                f"certificate {child.subject.rfc4514_string()!r} is not issued by the next "
                f"one, {parent.subject.rfc4514_string()!r}: order the chain leaf first, root "
                "last", check="order") from None
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        raise InvalidCertificateChain(
            "the chain does not end in a self-signed root: append the root certificate",
            check="no_root") from None
    for ca_cert in chain[1:]:
        if not _is_ca(ca_cert):
            raise InvalidCertificateChain(
                f"{ca_cert.subject.rfc4514_string()!r} issues certificates but is not a CA",
                check="order")
    if _is_ca(leaf):
        raise InvalidCertificateChain("the signing certificate is a CA; C2PA needs a leaf",
                                      check="leaf_is_ca")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
        signs = usage.digital_signature
    except x509.ExtensionNotFound:
        signs = False
    if not signs:
        raise InvalidCertificateChain("the signing certificate lacks key usage digitalSignature",
                                      check="key_usage")
    try:
        ekus = set(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = set()
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in ekus or not ekus & SIGNING_EKUS:
        raise InvalidCertificateChain(
            "the signing certificate needs an extended key usage C2PA accepts "
            "(emailProtection, documentSigning or c2pa claimSigning) and not anyExtendedKeyUsage",
            check="eku", found=sorted(e.dotted_string for e in ekus))
    if leaf.public_key() != key.public_key():
        raise InvalidCertificateChain("the private key does not belong to the signing certificate",
                                      check="key_mismatch")
    for cert in chain:
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise InvalidCertificateChain(
                f"{cert.subject.rfc4514_string()!r} is not valid now", check="validity",
                not_before=cert.not_valid_before_utc.isoformat(),
                not_after=cert.not_valid_after_utc.isoformat())
    return signing_alg(key)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _utcnow(now: dt.datetime | None) -> dt.datetime:
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


class AgencyCA:
    """The CA in one directory: its active root and signing leaf, and every retired root."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        path = directory / ACTIVE_FILE
        if not path.exists():
            raise CaMissing(f"no content-credentials CA in {directory}; run `bwc init`")
        state = json.loads(path.read_text())
        self.root_id: str = state["root"]
        self.signer_id: str = state["signer"]
        self.source: Source = state["source"]

    # ---- making one -------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, *, agency: str, now: dt.datetime | None = None) -> AgencyCA:
        """Make a root and a signing leaf for `agency` (refused if a CA is there)."""
        with _ca_lock(directory):
            if (directory / ACTIVE_FILE).exists():
                raise CaExists(f"{directory} already holds a CA", directory=str(directory))
            cls._generate_locked(directory, agency, _utcnow(now))
        return cls(directory)

    @classmethod
    def load_or_create(cls, directory: Path, *, agency: str,
                       now: dt.datetime | None = None) -> AgencyCA:
        """The CA in `directory`, made on first use (two processes make only one)."""
        if not (directory / ACTIVE_FILE).exists():
            with _ca_lock(directory):
                if not (directory / ACTIVE_FILE).exists():
                    cls._generate_locked(directory, agency, _utcnow(now))
        return cls(directory)

    @classmethod
    def import_chain(cls, directory: Path, *, chain_pem: bytes, key_pem: bytes,
                     replace: bool = False, now: dt.datetime | None = None) -> AgencyCA:
        """Use a signing certificate from the agency's own CA: `chain_pem` holds the leaf,
        its intermediates and, last, the root. Validated before anything is written; with
        `replace` the current CA is retired (its roots stay trusted for old releases)."""
        chain = load_certificates(chain_pem)
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidCertificateChain(f"not an unencrypted PEM private key: {exc}",
                                          check="parse") from None
        validate_chain(chain, key, _utcnow(now))
        root, signer = chain[-1], list(chain[:-1])
        with _ca_lock(directory):
            old = cls(directory) if (directory / ACTIVE_FILE).exists() else None
            if old is not None and not replace:
                raise CaExists(f"{directory} already holds a CA; import with replace to retire it",
                               directory=str(directory))
            cls._install_locked(directory, root, None, signer, _key_pem(key), "imported")
            if old is not None:
                old._destroy_retired_keys()
        return cls(directory)

    @classmethod
    def _generate_locked(cls, directory: Path, agency: str, now: dt.datetime) -> None:
        root, root_key = _new_root(agency, now)
        leaf, leaf_key = _new_leaf(root, root_key, now)
        cls._install_locked(directory, root, _key_pem(root_key), [leaf], _key_pem(leaf_key),
                            "generated")

    @staticmethod
    def _install_locked(directory: Path, root: x509.Certificate, root_key_pem: bytes | None,
                        signer: list[x509.Certificate], signer_key_pem: bytes,
                        source: Source) -> None:
        """Write the files, then make them active with one atomic rename."""
        roots, signers = directory / ROOTS_DIR, directory / SIGNERS_DIR
        roots.mkdir(mode=0o700, exist_ok=True)
        signers.mkdir(mode=0o700, exist_ok=True)
        root_id, signer_id = cert_id(root), cert_id(signer[0])
        _write_public(roots / f"{root_id}.pem", cert_pem(root))
        if root_key_pem is not None and not (roots / f"{root_id}.key.pem").exists():
            _write_secret(roots / f"{root_id}.key.pem", root_key_pem)
        _write_public(signers / f"{signer_id}.pem", b"".join(cert_pem(c) for c in signer))
        if not (signers / f"{signer_id}.key.pem").exists():
            _write_secret(signers / f"{signer_id}.key.pem", signer_key_pem)
        state = json.dumps({"root": root_id, "signer": signer_id, "source": source}, indent=2)
        tmp = directory / f".{ACTIVE_FILE}.{secrets.token_hex(4)}.tmp"
        tmp.write_text(state + "\n")
        os.replace(tmp, directory / ACTIVE_FILE)

    # ---- rotating ---------------------------------------------------------------------

    def rotate_signer(self, *, now: dt.datetime | None = None) -> AgencyCA:
        """A new signing leaf under the current root; the old leaf's key is destroyed (its
        certificate stays, inside every manifest it signed and here)."""
        with _ca_lock(self.directory):
            current = AgencyCA(self.directory)
            root_key = current._root_key()
            root = current.root
            leaf, leaf_key = _new_leaf(root, root_key, _utcnow(now))
            self._install_locked(self.directory, root, None, [leaf], _key_pem(leaf_key),
                                 "generated")
            current._destroy_retired_keys()
        return AgencyCA(self.directory)

    def rotate_root(self, *, now: dt.datetime | None = None) -> AgencyCA:
        """A new root and leaf; the old root stays published (releases it signed still
        verify) and its private key is destroyed."""
        with _ca_lock(self.directory):
            current = AgencyCA(self.directory)
            current._root_key()  # refuses an imported CA before anything is written
            agency = current.root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            self._generate_locked(self.directory, str(agency[0].value), _utcnow(now))
            current._destroy_retired_keys()
        return AgencyCA(self.directory)

    def _root_key(self) -> CertificateIssuerPrivateKeyTypes:
        path = self.directory / ROOTS_DIR / f"{self.root_id}.key.pem"
        if self.source == "imported" or not path.exists():
            raise CaImported("this CA was imported: no root key is held here; issue a new "
                             "certificate at the agency's CA and import it with replace")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key

    def _destroy_retired_keys(self) -> None:
        """Remove every private key that is no longer the active root's or signer's."""
        active = AgencyCA(self.directory)
        keep = {f"{active.root_id}.key.pem", f"{active.signer_id}.key.pem"}
        for sub in (ROOTS_DIR, SIGNERS_DIR):
            for path in (self.directory / sub).glob("*.key.pem"):
                if path.name not in keep:
                    path.unlink()

    # ---- reading ----------------------------------------------------------------------

    @property
    def root(self) -> x509.Certificate:
        """The active root certificate."""
        return x509.load_pem_x509_certificate(
            (self.directory / ROOTS_DIR / f"{self.root_id}.pem").read_bytes())

    def signing_credentials(self) -> SigningCredentials:
        """The active leaf, its intermediates and key, for `c2pa_sign.sign_release`."""
        certs = load_certificates((self.directory / SIGNERS_DIR / f"{self.signer_id}.pem")
                                  .read_bytes())
        key_pem = (self.directory / SIGNERS_DIR / f"{self.signer_id}.key.pem").read_bytes()
        key = serialization.load_pem_private_key(key_pem, password=None)
        return SigningCredentials(tuple(certs), key_pem, signing_alg(key))

    def trusted_roots(self) -> list[x509.Certificate]:
        """Every root this agency has signed under, active first (what verifiers trust)."""
        others = sorted(p for p in (self.directory / ROOTS_DIR).glob("*.pem")
                        if not p.name.endswith(".key.pem") and p.stem != self.root_id)
        return [self.root] + [x509.load_pem_x509_certificate(p.read_bytes()) for p in others]

    def trusted_roots_pem(self) -> str:
        """The roots as one PEM bundle: what `/keys/` and the evidence package publish."""
        return b"".join(cert_pem(c) for c in self.trusted_roots()).decode()
