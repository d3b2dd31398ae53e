"""The local store: sanitised paths, atomic filing, duplicates ignored, never overwriting, caps."""

from __future__ import annotations

import threading

from core.pacs.store import LocalStore, Outcome, safe_part


def test_safe_part_never_leaves_the_folder():
    for bad in ("../../etc", "..", ".", "a/b", "a\\b", "", "x" * 200, "1.2.3/../../4", "\x00evil"):
        part = safe_part(bad)
        assert "/" not in part and "\\" not in part and not part.startswith(".") and 0 < len(part) <= 64, (bad, part)
    assert safe_part("1.2.840.10008.5") == "1.2.840.10008.5"  # a normal UID is kept as is
    assert safe_part("a/b") != safe_part("a_b")  # changed values carry a hash: no collisions


def test_traversal_uids_are_filed_inside_the_store(tmp_path):
    store = LocalStore(tmp_path / "store")
    filed = store.file(b"DICM" * 10, "../../outside", "..", "../../../../tmp/pwned")
    assert filed.outcome is Outcome.STORED
    assert store.root.resolve() in filed.path.resolve().parents
    assert not (tmp_path / "outside").exists()
    assert filed.path.read_bytes() == b"DICM" * 10


def test_duplicates_are_ignored_and_never_overwrite(tmp_path):
    store = LocalStore(tmp_path)
    first = store.file(b"first", "1", "2", "3")
    second = store.file(b"second, different", "1", "2", "3")
    assert (first.outcome, second.outcome) == (Outcome.STORED, Outcome.DUPLICATE)
    assert first.path.read_bytes() == b"first"
    assert store.used_bytes == len(b"first")


def test_size_and_disk_caps(tmp_path):
    store = LocalStore(tmp_path, max_instance_bytes=100, max_store_bytes=250)
    assert store.file(b"x" * 101, "1", "2", "big").outcome is Outcome.TOO_LARGE
    assert store.file(b"x" * 100, "1", "2", "a").outcome is Outcome.STORED
    assert store.file(b"x" * 100, "1", "2", "b").outcome is Outcome.STORED
    assert store.file(b"x" * 100, "1", "2", "c").outcome is Outcome.STORE_FULL
    assert sorted(p.name for p in (tmp_path / "1" / "2").iterdir()) == ["a.dcm", "b.dcm"]
    assert LocalStore(tmp_path).used_bytes == 200  # the running total survives a restart


def test_concurrent_filing_of_one_instance_keeps_exactly_one(tmp_path):
    store = LocalStore(tmp_path)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(store.file(bytes([i]) * 1000, "s", "r", "same")))
               for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(r.outcome.value for r in results).count("stored") == 1
    content = (tmp_path / "s" / "r" / "same.dcm").read_bytes()
    assert len(content) == 1000 and len(set(content)) == 1  # one whole writer's bytes, never a mix
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_stale_parts_of_a_killed_listener_are_removed(tmp_path):
    LocalStore(tmp_path)
    (tmp_path / ".incoming" / "abc.part").write_bytes(b"half")
    LocalStore(tmp_path)
    assert list((tmp_path / ".incoming").iterdir()) == []
