"""The emulator's webhook signing identity: a test CA, and a leaf issued by it to
PayPal's message-verification host, as PayPal's own signing certificate is.

Our verifier fetches certificates only from https URLs under paypal.com and trusts only
those that chain to a configured CA bundle and name a paypal.com host. So the emulator
signs with a leaf of its own test CA (the bundle a dev deployment configures) and
advertises it under a URL shaped like PayPal's; a dev fetcher pinned to that URL answers
it from the local PEM. None of this is trusted anywhere but where it is configured.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LEAF_HOST = "messageverificationcerts.paypal.com"
CERT_URL_BASE = "https://api.paypal.com/v1/notifications/certs/"
_CA_LIFETIME = timedelta(days=3650)
_LEAF_LIFETIME = timedelta(days=1825)
# Backdated a little, so a clock that runs slightly behind still finds the leaf valid.
_BACKDATE = timedelta(days=1)


@dataclass(frozen=True)
class SigningIdentity:
    """The CA a receiver trusts, and the leaf certificate and key the emulator signs with."""

    ca_pem: bytes
    leaf_pem: bytes
    key: rsa.RSAPrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningIdentity(cert_id={self.cert_id!r})"

    @property
    def cert_id(self) -> str:
        # PayPal's look like CERT-360caa42-fca2a594-a5cafa77; derived from the leaf, so
        # the URL changes whenever the certificate does, as PayPal's does on rotation.
        digest = hashlib.sha256(self._leaf().public_bytes(serialization.Encoding.DER)).hexdigest()
        return f"CERT-{digest[:8]}-{digest[8:16]}-{digest[16:24]}"

    @property
    def cert_url(self) -> str:
        return CERT_URL_BASE + self.cert_id

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def valid_at(self, when: datetime) -> bool:
        leaf = self._leaf()
        return leaf.not_valid_before_utc <= when < leaf.not_valid_after_utc

    def _leaf(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.leaf_pem)

    @classmethod
    def from_pem(cls, *, ca_pem: bytes, leaf_pem: bytes, key_pem: bytes) -> SigningIdentity:
        """Load a stored identity; ValueError if the parts do not belong together."""
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the signing key is not an RSA key")
        leaf = x509.load_pem_x509_certificate(leaf_pem)
        if leaf.public_key() != key.public_key():
            raise ValueError("the signing key does not match the certificate")
        ca = x509.load_pem_x509_certificate(ca_pem)
        try:
            leaf.verify_directly_issued_by(ca)
        except (InvalidSignature, TypeError) as exc:
            raise ValueError("the certificate was not issued by this CA") from exc
        return cls(ca_pem=ca_pem, leaf_pem=leaf_pem, key=key)


def generate(now: datetime | None = None) -> SigningIdentity:
    """A fresh test CA and leaf (RSA-2048, SHA-256), valid from now for years."""
    start = (now or datetime.now(UTC)) - _BACKDATE
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = _ca_certificate(ca_key, start)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = _leaf_certificate(ca, ca_key, key, start)
    return SigningIdentity(
        ca_pem=ca.public_bytes(serialization.Encoding.PEM),
        leaf_pem=leaf.public_bytes(serialization.Encoding.PEM),
        key=key,
    )


def _ca_certificate(key: rsa.RSAPrivateKey, start: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PayPal Emulator Test Root CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    ca: x509.Certificate, ca_key: rsa.RSAPrivateKey, key: rsa.RSAPrivateKey, start: datetime
) -> x509.Certificate:
    # Shaped to pass the Web PKI server profile our verifier applies: SAN with the host,
    # not a CA, serverAuth, and an authority key id pointing at the CA.
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LEAF_HOST)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _LEAF_LIFETIME)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(LEAF_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
