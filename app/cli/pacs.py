"""`neuroreview pacs ...`: configure PACS nodes and talk to them.

    neuroreview pacs add NAME AET HOST PORT [--tls] [--tls-ca CA.pem]   # saved in <NEUROREVIEW_HOME>/pacs.json
    neuroreview pacs nodes                                             # list nodes and the listener settings
    neuroreview pacs echo NAME                                         # C-ECHO
    neuroreview pacs find NAME [--patient-id ID] [--date 20240101-] [--modality CT] [--study UID] [--json]
    neuroreview pacs get NAME STUDY_UID [--series UID]                 # C-GET into the local store + worklist
    neuroreview pacs move NAME STUDY_UID [--series UID] [--dest AET]   # C-MOVE to our listener
    neuroreview pacs send NAME FILE...                                 # C-STORE files
    neuroreview pacs send-results NAME PATH [--series UID] [--out DIR] # score, write SR + Grad-CAM SC, C-STORE them
"""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pacs", help="PACS nodes: add, echo, find, get/move, send results as DICOM SR")
    p.add_argument("--calling-aet", default=None, help="our AE title (default: the listener's from settings)")
    ps = p.add_subparsers(dest="pacs_command", metavar="ACTION", required=True)
    a = ps.add_parser("add", help="add or replace a node in the settings file")
    a.add_argument("name")
    a.add_argument("ae_title")
    a.add_argument("host")
    a.add_argument("port", type=int)
    a.add_argument("--tls", action="store_true")
    a.add_argument("--tls-ca", default="")
    a.set_defaults(func=_add)
    ps.add_parser("nodes", help="list configured nodes").set_defaults(func=_nodes)
    e = ps.add_parser("echo", help="C-ECHO a node")
    e.add_argument("node")
    e.set_defaults(func=_echo)
    f = ps.add_parser("find", help="C-FIND studies (or the series of --study)")
    f.add_argument("node")
    f.add_argument("--patient-id", default="")
    f.add_argument("--date", default="", help="StudyDate or range, e.g. 20240101-20241231")
    f.add_argument("--modality", default="")
    f.add_argument("--study", default="", help="list this study's series")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_find)
    for name, helptext in (("get", "C-GET a study or series into the local store"),
                           ("move", "C-MOVE a study or series to our listener")):
        g = ps.add_parser(name, help=helptext)
        g.add_argument("node")
        g.add_argument("study")
        g.add_argument("--series", default="")
        if name == "move":
            g.add_argument("--dest", default=None, help="destination AE title (default: our listener's)")
        g.set_defaults(func=_get if name == "get" else _move)
    s = ps.add_parser("send", help="C-STORE DICOM files to a node")
    s.add_argument("node")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=_send)
    r = ps.add_parser("send-results", help="score a CT series, write SR + Grad-CAM secondary captures, C-STORE them")
    r.add_argument("node")
    r.add_argument("path")
    r.add_argument("--series", default=None)
    r.add_argument("--out", default=None, help="keep the written files here (default: a temporary folder)")
    r.set_defaults(func=_send_results)


def _ctx(args):
    from core.pacs.nodes import check_ae, load_settings

    settings = load_settings()
    aet = check_ae(args.calling_aet, "--calling-aet") if args.calling_aet else settings.listener.ae_title
    return settings, aet


def _add(args) -> int:
    from core.pacs.nodes import Node, load_settings

    settings = load_settings()
    settings.nodes[args.name] = Node(args.name, args.ae_title, args.host, args.port, args.tls, args.tls_ca)
    print(f"node {args.name}: {args.ae_title}@{args.host}:{args.port}{' TLS' if args.tls else ''} saved in {settings.save()}")
    return 0


def _nodes(args) -> int:
    settings, _ = _ctx(args)
    print(f"settings: {settings.path}")
    lis = settings.listener
    print(f"listener: {lis.ae_title} on {lis.bind}:{lis.port}, allowed callers: {', '.join(lis.allowed_calling_aets) or 'none'}")
    for n in settings.nodes.values():
        print(f"  {n.name}: {n.ae_title}@{n.host}:{n.port}{' TLS' if n.tls else ''}")
    return 0


def _echo(args) -> int:
    import time

    from core.pacs.client import echo

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    t0 = time.perf_counter()
    status = echo(node, aet)
    ok = status == 0
    print(f"C-ECHO {node.name} ({node.ae_title}@{node.host}:{node.port}): "
          f"{'success' if ok else f'status 0x{status:04X}'} in {1000 * (time.perf_counter() - t0):.0f} ms")
    return 0 if ok else 1


def _find(args) -> int:
    import json

    from core.pacs.client import find

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    level = "SERIES" if args.study else "STUDY"
    rows = find(node, aet, level, args.patient_id, args.date, args.modality, args.study)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        if level == "STUDY":
            print(f"{r['StudyInstanceUID']}  {r['PatientID']:<14} {r['StudyDate']:<8} {r['ModalitiesInStudy']:<6} "
                  f"{r['NumberOfStudyRelatedInstances']:>5} inst  {r['StudyDescription']}")
        else:
            print(f"{r['SeriesInstanceUID']}  {r['Modality']:<4} #{r['SeriesNumber']:<4} "
                  f"{r['NumberOfSeriesRelatedInstances']:>5} inst  {r['SeriesDescription']}")
    print(f"{len(rows)} match(es)")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\r  {done}/{total} instances", end="", file=sys.stderr, flush=True)


def _get(args) -> int:
    from core.pacs.client import get
    from core.pacs.store import LocalStore
    from core.pacs.worklist import Worklist

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    lis = settings.listener
    store = LocalStore(settings.store_dir(), int(lis.max_instance_mb * 2**20), int(lis.max_store_gb * 2**30))
    wl = Worklist()
    res = get(node, aet, store, args.study, args.series, progress=_progress,
              on_stored=lambda filed, info: wl.note_instance(info, str(filed.path.parent)))
    print(file=sys.stderr)
    for folder in sorted(res.folders):
        print(folder)
    print(f"retrieved {res.completed}, failed {res.failed}, warnings {res.warning}")
    return 0 if res.failed == 0 else 1


def _move(args) -> int:
    from core.pacs.client import move

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    res = move(node, aet, args.dest or settings.listener.ae_title, args.study, args.series, progress=_progress)
    print(file=sys.stderr)
    print(f"moved {res.completed}, failed {res.failed}, warnings {res.warning}")
    return 0 if res.failed == 0 else 1


def _send(args) -> int:
    from core.pacs.client import send

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    out = send(node, aet, args.files)
    print(f"sent {len(out)} file(s) to {node.name}")
    return 0


def _send_results(args) -> int:
    import tempfile

    from core.pacs.client import send
    from core.pacs.results import score_and_write

    settings, aet = _ctx(args)
    node = settings.node(args.node)
    with tempfile.TemporaryDirectory() as tmp:
        written = score_and_write(args.path, args.out or tmp, args.series)
        send(node, aet, written.paths)
        f = written.findings
        print(f"sent SR {written.sr.name} and {len(written.secondary_captures)} Grad-CAM image(s) to {node.name}; "
              f"P(any) {f.p_any:.3f}, flagged: {', '.join(f.flagged) or 'none'} (research use only, not for clinical use)")
    return 0
