"""The C-STORE listener in this process: allow-list, loopback default, sanitised paths, caps, no overwrite, TLS."""

from __future__ import annotations

import datetime
import logging
import ssl

import pydicom
import pytest
from pydicom.uid import generate_uid

from core.errors import InputError
from core.pacs.listener import Listener
from core.pacs.nodes import ListenerSettings
from core.pacs.store import LocalStore
from tests.core.pacs.helpers import ct_instance, store_c


def _listener(tmp_path, ssl_context=None, **kw):
    settings = ListenerSettings(port=0, allowed_calling_aets=["GOODSCU"], **{k: v for k, v in kw.items() if k in ("bind",)})
    store = LocalStore(tmp_path / "store", kw.get("max_instance", 64 << 20), kw.get("max_store", 1 << 30))
    got = []
    lis = Listener(settings, store, lambda filed, info: got.append((filed, info)), ssl_context)
    lis.start()
    return lis, got


def test_default_binds_loopback_and_needs_an_allow_list(tmp_path):
    assert ListenerSettings().bind == "127.0.0.1"
    with pytest.raises(InputError, match="no calling AE title is allowed"):
        Listener(ListenerSettings(port=0), LocalStore(tmp_path))
    lis, _ = _listener(tmp_path)
    try:
        assert lis.address[0] == "127.0.0.1"
    finally:
        lis.stop()


def test_unknown_calling_ae_is_rejected_and_logged(tmp_path, caplog):
    lis, got = _listener(tmp_path)
    port = lis.address[1]
    try:
        with caplog.at_level(logging.WARNING, logger="neuroreview.pacs"):
            statuses = store_c([ct_instance("1.2.3", "1.2.3.4")], port, calling="INTRUDER")
        assert statuses == [-1]  # no association
        assert lis.counts["rejected-associations"] == 1
        assert any("INTRUDER" in r.getMessage() and "rejected" in r.getMessage() for r in caplog.records)
        assert got == [] and not any(lis.store.root.rglob("*.dcm"))
        assert store_c([ct_instance("1.2.3", "1.2.3.4")], port, calling="GOODSCU") == [0]
        assert len(got) == 1
    finally:
        lis.stop()


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
def test_hostile_uids_stay_inside_the_store(tmp_path):
    lis, got = _listener(tmp_path)
    try:
        ds = ct_instance("../../../escape", "../..", sop="1.2.3")
        assert store_c([ds], lis.address[1], calling="GOODSCU") == [0]
        files = list(tmp_path.rglob("*.dcm"))
        assert len(files) == 1 and (tmp_path / "store").resolve() in files[0].resolve().parents
        assert pydicom.dcmread(files[0]).StudyInstanceUID == "../../../escape"  # content kept, only the path is cleaned
    finally:
        lis.stop()


def test_duplicate_is_acknowledged_but_never_overwrites(tmp_path):
    lis, got = _listener(tmp_path)
    try:
        sop, study, series = generate_uid(), generate_uid(), generate_uid()
        assert store_c([ct_instance(study, series, sop, value=7)], lis.address[1], calling="GOODSCU") == [0]
        assert store_c([ct_instance(study, series, sop, value=99)], lis.address[1], calling="GOODSCU") == [0]
        (path,) = list(lis.store.root.rglob("*.dcm"))
        assert int(pydicom.dcmread(path).pixel_array.max()) == 7
        assert lis.counts["duplicate"] == 1 and len(got) == 1
    finally:
        lis.stop()


def test_size_and_disk_caps_refuse_with_out_of_resources(tmp_path):
    lis, got = _listener(tmp_path, max_instance=20_000, max_store=20_000)
    try:
        study, series = generate_uid(), generate_uid()
        big = ct_instance(study, series, size=128)  # 32 KiB of pixels: over the instance cap
        small = [ct_instance(study, series, size=64) for _ in range(3)]  # ~8.6 KB each: the third would pass the disk cap
        assert store_c([big], lis.address[1], calling="GOODSCU") == [0xA700]
        assert store_c(small, lis.address[1], calling="GOODSCU") == [0, 0, 0xA700]
        assert len(list(lis.store.root.rglob("*.dcm"))) == 2
    finally:
        lis.stop()


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_tls_listener_accepts_tls_and_refuses_plain(tmp_path):
    from core.pacs.tls import client_context, server_context

    cert, key = _self_signed(tmp_path)
    lis, got = _listener(tmp_path, ssl_context=server_context(cert, key))
    try:
        port = lis.address[1]
        study, series = generate_uid(), generate_uid()
        assert store_c([ct_instance(study, series)], port, calling="GOODSCU") == [-1]  # plain DICOM: no association
        tls = (client_context(cert), "localhost")
        assert store_c([ct_instance(study, series)], port, calling="GOODSCU", tls=tls) == [0]
        untrusted = (ssl.create_default_context(), "localhost")  # system CAs do not know our self-signed cert
        assert store_c([ct_instance(study, series)], port, calling="GOODSCU", tls=untrusted) == [-1]
        assert len(got) == 1
        from core.pacs.client import echo
        from core.pacs.nodes import Node

        # a configured TLS node (`pacs add ... --tls --tls-ca`) verifies the listener's certificate
        assert echo(Node("tls-node", "NEUROREVIEW", "127.0.0.1", port, tls=True, tls_ca=cert), "GOODSCU") == 0
        with pytest.raises(InputError, match="did not answer|aborted"):
            echo(Node("plain-node", "NEUROREVIEW", "127.0.0.1", port), "GOODSCU")
    finally:
        lis.stop()
