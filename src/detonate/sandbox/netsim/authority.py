"""A certificate authority made per run, and a leaf certificate per name the sample asks for."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])


def _validity() -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.UTC)
    return now - datetime.timedelta(days=2), now + datetime.timedelta(days=30)


@dataclass
class CertificateAuthority:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    _leaf_key: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    @classmethod
    def generate(
        cls, label: str, leaf_key: rsa.RSAPrivateKey | None = None
    ) -> CertificateAuthority:
        """A new CA; `leaf_key` (from `new_leaf_key`, made ahead of time) signs every leaf."""
        key = ec.generate_private_key(ec.SECP256R1())
        not_before, not_after = _validity()
        name = _name(f"detonate netsim CA {label}")
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key, leaf_key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(PEM)

    def save(self, cert_path: Path, key_path: Path) -> None:
        """The certificate, and the CA's key followed by the leaf key (when made) in one file."""
        cert_path.write_bytes(self.cert_pem)
        key_path.touch(mode=0o600)
        key_pem = self.key.private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        leaf_pem = self.leaf_key_pem if self._leaf_key is not None else b""
        key_path.write_bytes(key_pem + leaf_pem)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ca_pem, end, leaf_pem = key_path.read_bytes().partition(b"-----END PRIVATE KEY-----\n")
        key = serialization.load_pem_private_key(ca_pem + end, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        leaf = serialization.load_pem_private_key(leaf_pem, password=None) if leaf_pem else None
        assert leaf is None or isinstance(leaf, rsa.RSAPrivateKey)
        return cls(cert, key, leaf)

    @staticmethod
    def new_leaf_key() -> rsa.RSAPrivateKey:
        # RSA, because small TLS stacks (busybox wget, old miners) offer no ECDSA suites
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def leaf_key_pem(self) -> bytes:
        return self._leaf().private_bytes(
            PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def issue(self, name: str) -> bytes:
        """PEM of a leaf for `name` (a DNS name or an IP address), signed by this CA."""
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            alt = x509.DNSName(name)
        not_before, not_after = _validity()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.cert.subject)
            .public_key(self._leaf().public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(PEM) + self.cert_pem

    def _leaf(self) -> rsa.RSAPrivateKey:
        # one key for every leaf of the run: signing is cheap, key generation is not
        if self._leaf_key is None:
            self._leaf_key = self.new_leaf_key()
        return self._leaf_key
