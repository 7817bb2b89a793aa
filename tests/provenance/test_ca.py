"""The agency CA: made, kept, rotated and imported as C2PA signing needs."""

from __future__ import annotations

import datetime as dt
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance.c2pa_sign import SignedRelease
from provenance.c2pa_verify import Verdict, verify_file
from provenance.ca import AgencyCA, cert_id, cert_pem
from provenance.errors import CaExists, CaImported, CaMissing, InvalidCertificateChain
from tests.concurrency import run_in_threads
from tests.provenance.conftest import AGENCY

NOW = dt.datetime.now(dt.UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_makes_a_root_and_a_non_ca_signing_leaf(agency_ca: AgencyCA) -> None:
    creds = agency_ca.signing_credentials()
    leaf, root = creds.leaf, agency_ca.root
    assert creds.alg == "es256"
    assert len(creds.certificates) == 1
    assert leaf.issuer == root.subject != leaf.subject
    leaf.verify_directly_issued_by(root)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.EMAIL_PROTECTION]
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert root.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == AGENCY


def test_private_keys_are_0600_in_a_0700_directory(agency_ca: AgencyCA) -> None:
    keys = sorted(agency_ca.directory.rglob("*.key.pem"))
    assert [p.parent.name for p in keys] == ["roots", "signers"]
    assert all(_mode(p) == 0o600 for p in keys)
    assert _mode(agency_ca.directory) == 0o700
    public = [p for p in agency_ca.directory.rglob("*.pem") if not p.name.endswith(".key.pem")]
    assert len(public) == 2
    assert all(_mode(p) == 0o644 for p in public)


def test_a_second_create_and_a_missing_ca_are_refused(agency_ca: AgencyCA, tmp_path: Path) -> None:
    with pytest.raises(CaExists):
        AgencyCA.create(agency_ca.directory, agency=AGENCY)
    with pytest.raises(CaMissing) as exc:
        AgencyCA(tmp_path / "nowhere")
    assert exc.value.code == "ca_missing"


def test_simultaneous_first_use_makes_one_ca(tmp_path: Path) -> None:
    start = threading.Barrier(6)
    made: list[AgencyCA] = []

    def first_use() -> None:
        start.wait()
        made.append(AgencyCA.load_or_create(tmp_path / "ca", agency=AGENCY))

    assert run_in_threads(first_use, 6) == []
    assert len({(ca.root_id, ca.signer_id) for ca in made}) == 1
    assert len(list((tmp_path / "ca" / "signers").glob("*.pem"))) == 2  # one cert, one key


def test_rotate_signer_keeps_old_releases_trusted(
        agency_ca: AgencyCA, sign_with: Callable[..., SignedRelease]) -> None:
    before = sign_with(agency_ca)
    old_signer = agency_ca.signer_id
    rotated = agency_ca.rotate_signer()
    assert rotated.root_id == agency_ca.root_id
    assert rotated.signer_id != old_signer
    signers = rotated.directory / "signers"
    assert not (signers / f"{old_signer}.key.pem").exists()  # the retired key is destroyed
    assert (signers / f"{old_signer}.pem").exists()
    after = sign_with(rotated)
    assert after.signer_id == rotated.signer_id != before.signer_id
    for signed in (before, after):
        assert verify_file(signed.path, rotated.trusted_roots()).verdict is Verdict.TRUSTED


def test_rotate_root_publishes_both_roots(
        agency_ca: AgencyCA, sign_with: Callable[..., SignedRelease]) -> None:
    before = sign_with(agency_ca)
    old_root = agency_ca.root
    rotated = agency_ca.rotate_root()
    assert rotated.root_id != cert_id(old_root)
    assert [cert_id(c) for c in rotated.trusted_roots()] == [rotated.root_id, cert_id(old_root)]
    assert rotated.trusted_roots_pem().count("BEGIN CERTIFICATE") == 2
    assert sorted(p.name for p in rotated.directory.rglob("*.key.pem")) == sorted(
        [f"{rotated.root_id}.key.pem", f"{rotated.signer_id}.key.pem"])
    after = sign_with(rotated)
    assert verify_file(before.path, rotated.trusted_roots()).verdict is Verdict.TRUSTED
    assert verify_file(after.path, rotated.trusted_roots()).verdict is Verdict.TRUSTED
    # the new leaf is not trusted by someone who only knows the old root
    assert verify_file(after.path, [old_root]).verdict is Verdict.VALID_UNTRUSTED


# ---- importing a chain from the agency's own CA ----------------------------------------

def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
          eku: list[x509.ObjectIdentifier] | None = None,
          not_after: dt.datetime | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "County IT"),
                      x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=1))
               .not_valid_after(not_after or NOW + dt.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(
                   digital_signature=not ca, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                   encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   issuer_key.public_key()), critical=False))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class CountyCA:
    """A three-level CA as an agency's IT might run: root, intermediate, signing leaf."""

    def __init__(self, *, leaf_eku: list[x509.ObjectIdentifier] | None = None,
                 leaf_ca: bool = False, leaf_not_after: dt.datetime | None = None) -> None:
        self.root_key, self.mid_key, self.leaf_key = (ec.generate_private_key(ec.SECP256R1())
                                                      for _ in range(3))
        self.root = _cert("County Root", self.root_key, None, self.root_key, ca=True)
        self.mid = _cert("County Issuing CA", self.mid_key, self.root, self.root_key, ca=True)
        self.leaf = _cert("Sheriff Release Signing", self.leaf_key, self.mid, self.mid_key,
                          ca=leaf_ca, not_after=leaf_not_after,
                          eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION] if leaf_eku is None
                          else leaf_eku)

    def chain(self, *certs: x509.Certificate) -> bytes:
        return b"".join(cert_pem(c) for c in (certs or (self.leaf, self.mid, self.root)))

    def key(self, key: ec.EllipticCurvePrivateKey | None = None) -> bytes:
        return (key or self.leaf_key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())


def test_an_imported_chain_signs_and_verifies_under_its_root(
        tmp_path: Path, sign_with: Callable[..., SignedRelease]) -> None:
    county = CountyCA()
    ca = AgencyCA.import_chain(tmp_path / "ca", chain_pem=county.chain(), key_pem=county.key())
    assert ca.source == "imported"
    assert ca.root_id == cert_id(county.root)
    assert [cert_id(c) for c in ca.signing_credentials().certificates] == [
        cert_id(county.leaf), cert_id(county.mid)]  # the intermediate travels with the leaf
    signed = sign_with(ca)
    assert verify_file(signed.path, [county.root]).verdict is Verdict.TRUSTED
    assert verify_file(signed.path, [CountyCA().root]).verdict is Verdict.VALID_UNTRUSTED
    with pytest.raises(CaImported):
        ca.rotate_signer()
    with pytest.raises(CaImported):
        ca.rotate_root()


def test_import_over_a_ca_needs_replace_and_keeps_the_old_root(
        agency_ca: AgencyCA, sign_with: Callable[..., SignedRelease]) -> None:
    before = sign_with(agency_ca)
    county = CountyCA()
    with pytest.raises(CaExists):
        AgencyCA.import_chain(agency_ca.directory, chain_pem=county.chain(), key_pem=county.key())
    ca = AgencyCA.import_chain(agency_ca.directory, chain_pem=county.chain(),
                               key_pem=county.key(), replace=True)
    assert verify_file(before.path, ca.trusted_roots()).verdict is Verdict.TRUSTED
    assert verify_file(sign_with(ca).path, ca.trusted_roots()).verdict is Verdict.TRUSTED
    assert [p.name for p in ca.directory.rglob("*.key.pem")] == [f"{ca.signer_id}.key.pem"]


def _bad_imports() -> list[tuple[str, Callable[[], tuple[bytes, bytes]]]]:
    def order() -> tuple[bytes, bytes]:
        c = CountyCA()
        return c.chain(c.leaf, c.root, c.mid), c.key()

    def no_root() -> tuple[bytes, bytes]:
        c = CountyCA()
        return c.chain(c.leaf, c.mid), c.key()

    def self_signed() -> tuple[bytes, bytes]:
        c = CountyCA()
        return c.chain(c.root), c.key(c.root_key)

    def key_mismatch() -> tuple[bytes, bytes]:
        c = CountyCA()
        return c.chain(), c.key(c.mid_key)

    def server_auth_only() -> tuple[bytes, bytes]:
        c = CountyCA(leaf_eku=[ExtendedKeyUsageOID.SERVER_AUTH])
        return c.chain(), c.key()

    def any_eku() -> tuple[bytes, bytes]:
        c = CountyCA(leaf_eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION,
                               ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
        return c.chain(), c.key()

    def leaf_is_ca() -> tuple[bytes, bytes]:
        c = CountyCA(leaf_ca=True)
        return c.chain(), c.key()

    def expired() -> tuple[bytes, bytes]:
        c = CountyCA(leaf_not_after=NOW - dt.timedelta(hours=1))
        return c.chain(), c.key()

    def garbage() -> tuple[bytes, bytes]:
        return b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", b"x"

    return [("order", order), ("no_root", no_root), ("self_signed_leaf", self_signed),
            ("key_mismatch", key_mismatch), ("eku", server_auth_only), ("eku", any_eku),
            ("leaf_is_ca", leaf_is_ca), ("validity", expired), ("parse", garbage)]


@pytest.mark.parametrize(("check", "make"), _bad_imports(),
                         ids=[f"{c}-{m.__name__}" for c, m in _bad_imports()])
def test_a_bad_import_names_the_failed_check_and_writes_nothing(
        tmp_path: Path, check: str, make: Callable[[], tuple[bytes, bytes]]) -> None:
    chain, key = make()
    with pytest.raises(InvalidCertificateChain) as exc:
        AgencyCA.import_chain(tmp_path / "ca", chain_pem=chain, key_pem=key)
    assert exc.value.code == "invalid_certificate_chain"
    assert exc.value.status == 422
    assert exc.value.details["check"] == check
    assert not (tmp_path / "ca").exists()
