"""`neuroreview models`: the bundled and user-added models, from their cards."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list bundled and user-added models with their cards' key figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true", help="check each file's sha256 against its card")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.errors import ModelError
    from core.models import ModelRegistry

    reg = ModelRegistry()
    rows = []
    for name in reg.names():
        card = reg.card(name)
        status = "not checked"
        if args.verify:
            try:
                reg.verify(name)
                status = "sha256 ok"
            except ModelError as exc:
                status = f"REFUSED: {exc.message}"
        rows.append({"name": card.name, "task": card.task, "version": card.version, "labels": card.labels,
                     "training_data": card.training_data, "metrics": card.metrics, "file": str(card.onnx_path),
                     "sha256": card.sha256, "status": status, "intended_use": card.intended_use})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print(f"no models found in {', '.join(str(f) for f in reg.folders)}")
        for r in rows:
            print(f"{r['name']} {r['version']} ({r['task']}): labels {', '.join(r['labels'])}; {r['status']}")
            print(f"    {r['intended_use']}")
    for problem in reg.problems:
        print(f"warning: {problem}")
    return 0
