"""`neuroreview listen`: receive studies from a PACS or modality (DICOM C-STORE SCP) and triage them.

    neuroreview listen --allow PACS_AET [--port 11112] [--ae-title NEUROREVIEW] [--bind 127.0.0.1]
                       [--store DIR] [--tls-cert C.pem --tls-key K.pem [--tls-ca CA.pem]] [--no-score]

Defaults come from the PACS settings file (`neuroreview pacs nodes` shows where it is). Every complete
head CT series (no new instance for --quiet seconds) is scored in the background and appears in
`neuroreview worklist` and the worklist window. Runs until Ctrl-C / SIGTERM.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("listen", help="receive DICOM studies (C-STORE SCP) and score head CT series into the worklist")
    p.add_argument("--port", type=int, default=None, help="TCP port (default from settings: 11112)")
    p.add_argument("--ae-title", default=None, help="our AE title (default from settings: NEUROREVIEW)")
    p.add_argument("--bind", default=None, help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--allow", action="append", default=None, metavar="AET",
                   help="calling AE title allowed to send (repeatable; default from settings; none = refuse to start)")
    p.add_argument("--store", default=None, help="folder for received instances (default <NEUROREVIEW_HOME>/store)")
    p.add_argument("--worklist", default=None, help="worklist database (default <NEUROREVIEW_HOME>/worklist.sqlite)")
    p.add_argument("--quiet", type=float, default=None, metavar="S", help="seconds without a new instance before a series is complete")
    p.add_argument("--max-instance-mb", type=float, default=None)
    p.add_argument("--max-store-gb", type=float, default=None)
    p.add_argument("--tls-cert", default=None, help="PEM certificate: accept TLS associations only")
    p.add_argument("--tls-key", default=None, help="PEM private key of --tls-cert")
    p.add_argument("--tls-ca", default=None, help="PEM CA: require senders' certificates signed by it")
    p.add_argument("--no-score", action="store_true", help="file instances and fill the worklist, but do not score")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace):
    from core.pacs.nodes import check_ae, load_settings

    settings = load_settings()
    lis = settings.listener
    for attr, val in (("port", args.port), ("bind", args.bind), ("store_dir", args.store), ("quiet_s", args.quiet),
                      ("max_instance_mb", args.max_instance_mb), ("max_store_gb", args.max_store_gb),
                      ("tls_cert", args.tls_cert), ("tls_key", args.tls_key), ("tls_ca", args.tls_ca)):
        if val is not None:
            setattr(lis, attr, val)
    if args.ae_title:
        lis.ae_title = check_ae(args.ae_title, "--ae-title")
    if args.allow:
        lis.allowed_calling_aets = [check_ae(a, "--allow") for a in args.allow]
    return settings


def run(args: argparse.Namespace) -> int:
    import logging
    import signal
    import sys
    import threading

    from core.pacs.listener import Listener
    from core.pacs.store import LocalStore
    from core.pacs.tls import server_context
    from core.pacs.triage import Triage
    from core.pacs.worklist import Worklist

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    settings = _settings(args)
    lis = settings.listener
    store = LocalStore(args.store or settings.store_dir(), int(lis.max_instance_mb * 2**20), int(lis.max_store_gb * 2**30))
    worklist = Worklist(args.worklist)
    ssl_ctx = server_context(lis.tls_cert, lis.tls_key, lis.tls_ca) if lis.tls_cert else None

    def on_stored(filed, info) -> None:
        worklist.note_instance(info, str(filed.path.parent))

    listener = Listener(lis, store, on_stored, ssl_ctx)
    triage = None if args.no_score else Triage(worklist, lis.quiet_s)
    listener.start()
    if lis.bind not in ("127.0.0.1", "localhost", "::1"):
        logging.warning("listening on %s: reachable from the network; allowed calling AE titles: %s", lis.bind,
                        ", ".join(lis.allowed_calling_aets))
    if triage:
        triage.start()
    host, port = listener.address
    print(f"listening as {lis.ae_title} on {host}:{port}{' (TLS)' if ssl_ctx else ''}; store {store.root}; "
          f"worklist {worklist.path} (research use only, not for clinical use)", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):
        pass
    listener.stop()
    if triage:
        triage.stop()
    print(f"stopped: {listener.counts}", flush=True)
    return 0
