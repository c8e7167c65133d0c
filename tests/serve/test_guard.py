"""The guard middleware on a tiny app: Host names, the Origin of POSTs, body limits."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from ecglens.serve.guard import Guard, host_allowed, normal_origin  # noqa: E402


def _client(**guard) -> TestClient:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    app.add_middleware(Guard, max_bytes=1000, **guard)
    return TestClient(app, base_url="http://127.0.0.1:8000")


def test_host_names_and_wildcards():
    assert host_allowed("127.0.0.1:8000", ["127.0.0.1"])
    assert host_allowed("[::1]:8000", ["::1"])
    assert host_allowed("ecg.example.org", ["*.example.org"])
    assert not host_allowed("example.org.evil.example", ["*.example.org"])
    assert not host_allowed("attacker.example", ["127.0.0.1", "localhost"])
    assert host_allowed("anything", ["*"])
    assert normal_origin("HTTP://LocalHost:80/") == "http://localhost"
    assert normal_origin("https://a.example:8443") == "https://a.example:8443"


def test_foreign_hosts_get_a_json_400():
    c = _client(allowed_hosts=["127.0.0.1", "localhost"])
    assert c.get("/ping").status_code == 200
    refused = c.get("/ping", headers={"Host": "attacker.example"})
    assert refused.status_code == 400 and "attacker.example" in refused.json()["error"]


@pytest.mark.parametrize(
    ("origin", "site", "status"),
    [
        (None, None, 200),  # curl, scripts
        ("http://127.0.0.1:8000", "same-origin", 200),  # the server's own page
        ("http://evil.example", "cross-site", 403),
        ("null", None, 403),  # sandboxed frames, file:// pages
        (None, "cross-site", 403),
        ("https://ecg.example.org", "cross-site", 200),  # the proxy's origin, allowed
    ],
)
def test_posts_from_other_origins_are_refused(origin, site, status):
    c = _client(allowed_origins=["https://ecg.example.org"])
    headers = {k: v for k, v in (("Origin", origin), ("Sec-Fetch-Site", site)) if v}
    response = c.post("/echo", content=b"x", headers=headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert set(response.json()) == {"error"}
    assert c.get("/ping", headers={"Origin": "http://evil.example"}).status_code == 200


def test_bodies_over_the_limit_get_413():
    c = _client()
    assert c.post("/echo", content=b"x" * 1001).status_code == 413
    bad = c.post("/echo", content=b"x", headers={"Content-Length": "1x"})
    assert bad.status_code in (400, 413)
