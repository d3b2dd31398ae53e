"""`neuroreview models`: the bundled and user-added models, from their cards."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list bundled and user-added models with their cards' key figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--verify", action="store_true",
                   help="check each file's sha256 against its card and open it: report the provider it really runs on")
    p.set_defaults(func=run)


def _label_table(table) -> dict:
    """The entries of a metrics block that carry an AUC (one per label); nested blocks beside them are left out."""
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(v, dict) and "auc" in v}


def _real_test_figures(sets: dict) -> list[str]:
    """metrics.real_test of the CT cards: per real set the 'any hemorrhage' AUC with its CI and n (slices, or
    patients for a series-level block). Why here: these are the figures a user must see first, and they sit
    one level deeper than the label tables."""
    out = []
    for name, block in sets.items():
        if name == "note" and isinstance(block, str):
            out.append(f"real test: {block}")
            continue
        if isinstance(block, dict) and "ood_slices_outside" in block and "any" not in block:
            out.append(f"real test {name}: {block['ood_slices_outside']:.1%} of {block['slices']} slices of {block['patients']} patients "
                       f"outside the training data (highest series median {block['ood_series_median_max']})")
            continue
        a = block.get("any") if isinstance(block, dict) else None
        if not isinstance(a, dict) or "auc" not in a:
            continue
        if a["auc"] is None:
            out.append(f"real test {name}: no AUC for any hemorrhage ({_why_no_auc(a)})")
            continue
        ci = f" ({a['auc_ci'][0]:.3f}-{a['auc_ci'][1]:.3f})" if a.get("auc_ci") else ""
        who = f"{a['n']} slices of {block['patients']} patients" if "patients" in block else f"n {a['n']}"
        out.append(f"real test {name}: any hemorrhage AUC {a['auc']:.3f}{ci}, {who}")
    return out


def key_figures(metrics: dict, labels: list[str] | None = None) -> str:
    """One line from a card's held-out metrics: real test sets first, then per-level AUC ranges (also one
    level down, e.g. unseen_generated_set.slice), BG AUC and laterality accuracy. The real-test "any
    hemorrhage" figure is shown only for a model with an "any" output (`labels`): cards written before stop 19
    gave the BG and OOD models the ICH model's block, and printed under their names it would read as their own.
    The OOD card's real-test block holds the share of real test slices outside; the BG card's a note."""
    parts = []
    if isinstance(metrics.get("real_test"), dict):
        sets = metrics["real_test"]
        if labels is not None and "any" not in labels:
            sets = {k: v for k, v in sets.items() if not (isinstance(v, dict) and "any" in v)}
        parts += _real_test_figures(sets)
    for level, table in metrics.items():
        if level == "real_test":
            continue
        rows = _label_table(table)
        if len(rows) < 2 and isinstance(table, dict):
            # a wrapper around one label table with its counts (unseen_generated_set.slice): one level down; a
            # per-group breakdown (leave_one_head_out.<head>) stays out of a one-line summary
            subs = {f"{level} {k}": _label_table(v) for k, v in table.items()}
            subs = {k: v for k, v in subs.items() if len(v) >= 2}
            if len(subs) == 1:
                parts += [key_figures({k: v}) for k, v in subs.items()]
                continue
        if rows:
            aucs = [v["auc"] for v in rows.values() if v["auc"] is not None]
            missing = [f"{lab} ({_why_no_auc(v)})" for lab, v in rows.items() if v["auc"] is None]
            if aucs:
                over = f"{len(aucs)} labels" if not missing else f"{len(aucs)} of {len(rows)} labels"
                parts.append(f"{level}: AUC {min(aucs):.3f}-{max(aucs):.3f} over {over}"
                             + (f"; no AUC for {', '.join(missing)}" if missing else ""))
            elif missing:
                parts.append(f"{level}: no AUC for {', '.join(missing)}")
        elif isinstance(table, dict) and "auc_hemorrhage_vs_none" in table:
            a, lat = table["auc_hemorrhage_vs_none"], table.get("laterality_accuracy")
            parts.append(f"{level}: AUC {a:.3f} hemorrhage vs none, laterality accuracy {lat:.1%}" if a is not None and lat is not None else level)
        elif isinstance(table, float) and "log_loss" in level:
            parts.append(f"{level} {table:.4f}")
    return "; ".join(parts) or "no held-out metrics"


def _why_no_auc(m: dict) -> str:
    pos, n = m.get("n_positive", m.get("positives")), m.get("n")  # QC cards say n_positive, the CT evaluation positives
    if pos == 0:
        return "no positive case"
    if pos is not None and n is not None and pos == n:
        return "no negative case"
    return "not computed"


def training_line(td: dict) -> str:
    """What a model was trained on, in the units its card uses (series and slices for CT, volumes for MRI
    QC); keys a card does not have are left out rather than printed as '?'."""
    counts = []
    if "series_train" in td or "slices_train" in td:
        counts.append(", ".join(f"{td[k]} {unit}" for k, unit in (("series_train", "series"), ("slices_train", "slices"))
                                if k in td))
    elif "n_train" in td:
        counts.append(f"{td['n_train']} volumes")
    held = [f"{td[k]} {unit}" for k, unit in (("series_held_out", "series"), ("n_held_out", "volumes")) if k in td]
    split = f", split {td['split']}" if td.get("split") else ""
    return (f"{td.get('what', 'not stated')}" + (f" ({counts[0]})" if counts else "")
            + (f"; held out {held[0]}{split}" if held else ""))


def runtime_line() -> str:
    """Which ONNX Runtime wheel is installed (onnxruntime or onnxruntime-gpu) and what it offers.
    The GPU wheel lists CUDA even where CUDA cannot load: sessions report what they really got."""
    import importlib.metadata as md

    import onnxruntime as ort

    dists = []
    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            dists.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    return f"ONNX Runtime {ort.__version__} ({', '.join(dists) or 'wheel unknown'}); providers offered: {', '.join(ort.get_available_providers())}"


def run(args: argparse.Namespace) -> int:
    from core.errors import ModelError
    from core.models import ModelRegistry
    from core.models.runtime import load_model

    reg = ModelRegistry()
    rows = []
    for name in reg.names():
        card = reg.card(name)
        status, provider, device = "not checked", None, None
        if args.verify:
            try:
                loaded = load_model(name, registry=reg)  # verifies the sha256 first
                status, provider, device = "sha256 ok", loaded.provider, loaded.device
            except ModelError as exc:
                status = f"REFUSED: {exc.message}"
        rows.append({"name": card.name, "task": card.task, "version": card.version, "labels": card.labels,
                     "training_data": card.training_data, "metrics": card.metrics, "file": str(card.onnx_path),
                     "sha256": card.sha256, "status": status, "provider": provider, "device": device,
                     "intended_use": card.intended_use})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(runtime_line())
        if not rows:
            print(f"no models found in {', '.join(str(f) for f in reg.folders)}")
        for r in rows:
            runs_on = f", runs on {r['device']} ({r['provider']})" if r["provider"] else ""
            print(f"{r['name']} {r['version']} ({r['task']}): labels {', '.join(r['labels'])}; {r['status']}{runs_on}")
            print(f"    trained on: {training_line(r['training_data'])}")
            print(f"    held-out: {key_figures(r['metrics'], r['labels'])}")
            print(f"    {r['intended_use']}")
    for problem in reg.problems:
        print(f"warning: {problem}")
    return 0
