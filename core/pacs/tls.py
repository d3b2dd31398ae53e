"""TLS contexts for DICOM associations (pynetdicom takes a standard `ssl.SSLContext`)."""

from __future__ import annotations

import ssl

from core.errors import InputError


def server_context(cert: str, key: str, ca: str = "") -> ssl.SSLContext:
    """Listener side; with `ca`, senders must present a certificate signed by it (mutual TLS)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
        if ca:
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise InputError(f"cannot load the TLS certificate/key: {exc}", cert) from None
    return ctx


def client_context(ca: str = "", hostname_check: bool = True, cert: str = "", key: str = "") -> ssl.SSLContext:
    """Sender side: verifies the peer against `ca` (or the system store)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = hostname_check
    if cert:
        ctx.load_cert_chain(cert, key or None)
    return ctx
