"""The test PACS: a real Orthanc started by scripts/test.sh (scripts/orthanc_test_server.sh)."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass

import pytest

from core.pacs.nodes import Node


@dataclass
class Orthanc:
    node: Node
    http: str

    def rest(self, path: str, method: str = "GET", body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.http + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


@pytest.fixture(scope="session")
def orthanc() -> Orthanc:
    spec = os.environ.get("NEUROREVIEW_TEST_ORTHANC")
    if not spec:
        pytest.skip("NEUROREVIEW_TEST_ORTHANC is not set (scripts/test.sh starts a private Orthanc and sets it)")
    host, port, aet = spec.split(":")  # a malformed value (e.g. "unavailable: ...") fails loudly, never skips
    http = os.environ.get("NEUROREVIEW_TEST_ORTHANC_HTTP", "")
    if not http:
        pytest.fail("NEUROREVIEW_TEST_ORTHANC is set but NEUROREVIEW_TEST_ORTHANC_HTTP is not")
    return Orthanc(Node("test-orthanc", aet, host, int(port)), http)
