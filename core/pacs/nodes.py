"""PACS settings: the remote nodes (AE title, host, port) and the local listener, in one JSON file.

The file is `<NEUROREVIEW_HOME>/pacs.json` (see `core.paths.user_data_dir`). It is read on every
command so an edit needs no restart; a missing file means the defaults below (no remote nodes,
listener on 127.0.0.1 accepting nobody until calling AE titles are listed).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.errors import InputError
from core.paths import user_data_dir

AE_RE = re.compile(r"^[\x20-\x7e]{1,16}$")  # DICOM AE: up to 16 printable ASCII characters, no backslash


def check_ae(title: str, what: str = "AE title") -> str:
    """Validated AE title (stripped); InputError with the reason otherwise."""
    t = (title or "").strip()
    if not AE_RE.match(t) or "\\" in t:
        raise InputError(f"{what} must be 1-16 printable ASCII characters without a backslash, got {title!r}")
    return t


@dataclass
class Node:
    """A remote DICOM application (PACS, modality, another workstation)."""

    name: str
    ae_title: str
    host: str
    port: int
    tls: bool = False
    tls_ca: str = ""  # CA bundle to verify the node's certificate (system default when empty)

    def __post_init__(self) -> None:
        self.ae_title = check_ae(self.ae_title, f"node {self.name!r}: AE title")
        if not (0 < int(self.port) < 65536):
            raise InputError(f"node {self.name!r}: port must be 1-65535, got {self.port}")
        self.port = int(self.port)


@dataclass
class ListenerSettings:
    """The local C-STORE SCP. Safe defaults: loopback only, nobody allowed, caps on size and disk."""

    ae_title: str = "NEUROREVIEW"
    bind: str = "127.0.0.1"
    port: int = 11112
    allowed_calling_aets: list[str] = field(default_factory=list)  # empty: every association is rejected
    max_instance_mb: float = 64.0
    max_store_gb: float = 20.0
    quiet_s: float = 10.0  # a series is complete after this long without a new instance
    store_dir: str = ""  # default <NEUROREVIEW_HOME>/store
    tls_cert: str = ""  # PEM certificate + key: the listener then speaks TLS only
    tls_key: str = ""
    tls_ca: str = ""  # when set, senders must present a certificate signed by this CA


@dataclass
class PacsSettings:
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    nodes: dict[str, Node] = field(default_factory=dict)
    path: Path | None = None

    def node(self, name: str) -> Node:
        if name in self.nodes:
            return self.nodes[name]
        known = ", ".join(sorted(self.nodes)) or "none configured"
        raise InputError(f"unknown PACS node {name!r} (known: {known}); add it with `neuroreview pacs add`",
                         str(self.path) if self.path else None)

    def store_dir(self) -> Path:
        return Path(self.listener.store_dir) if self.listener.store_dir else user_data_dir() / "store"

    def to_dict(self) -> dict:
        return {"listener": asdict(self.listener),
                "nodes": {k: {f: v for f, v in asdict(n).items() if f != "name"} for k, n in self.nodes.items()}}

    def save(self, path: Path | None = None) -> Path:
        """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
        path = Path(path or self.path or settings_path())
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        os.replace(tmp, path)
        self.path = path
        return path


def settings_path() -> Path:
    return user_data_dir() / "pacs.json"


def load_settings(path: Path | None = None) -> PacsSettings:
    """Read the settings file; a malformed one is an InputError naming the file (never silently reset)."""
    path = Path(path or settings_path())
    if not path.exists():
        return PacsSettings(path=path)
    try:
        raw = json.loads(path.read_text())
        lis = ListenerSettings(**raw.get("listener", {}))
        lis.ae_title = check_ae(lis.ae_title, "listener AE title")
        lis.allowed_calling_aets = [check_ae(a, "allowed calling AE title") for a in lis.allowed_calling_aets]
        nodes = {name: Node(name=name, **spec) for name, spec in raw.get("nodes", {}).items()}
    except (ValueError, TypeError, AttributeError) as exc:
        raise InputError(f"PACS settings file is not valid: {exc}", str(path)) from None
    return PacsSettings(lis, nodes, path)
