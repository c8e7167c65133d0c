"""Property-based test of the API against its own OpenAPI spec (schemathesis): whatever the
spec lets a client send (random files, form fields, query values, result ids), no response is a
server error. A bounded number of examples per operation keeps it under a minute. No demo
records: a generated ``demo`` is refused like any unknown name.

Schemathesis rarely sends a file without other fields, so a second property test (hypothesis)
posts random files, WFDB headers, zips and NPY files with random fields to ``/predict``."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
schemathesis = pytest.importorskip("schemathesis")

from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from ecglens.serve.app import create_app  # noqa: E402

EXAMPLES = 30  # per operation

# built at import: schemathesis' fixture-based lazy schema does not run under pytest 9
APP = create_app(["ecglens-mitdb-inter", "ecglens-ptbxl-binary"], demo_dir=None)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CLIENT = TestClient(APP, raise_server_exceptions=False)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_request_the_spec_allows_gets_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])


# -- uploads: random files, and WFDB headers, zips and NPY files with random fields ------------

FILE_NAMES = ["r.hea", "r.dat", "r.atr", "r.zip", "r.csv", "r.txt", "r.npy", "r.edf", "r.bin", "r"]
NUMBER = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "x", "16x4", "212", "16+100", "0", "-1", "1e309", "360/2(1)"]),
)


@st.composite
def wfdb_header(draw) -> bytes:
    """A header with plausible or random fields: the record line, then signal lines."""
    n_sig = draw(st.one_of(st.integers(1, 3), st.integers(0, 70)))
    fs = draw(st.one_of(st.sampled_from(["360", "250", "1000", "128/2"]), NUMBER))
    length = draw(st.one_of(st.integers(0, 3000).map(str), st.just(""), NUMBER))
    fmt = st.one_of(st.sampled_from(["16", "212", "8", "80", "16x2", "32", "310"]), NUMBER)
    signals = [
        f"{draw(st.sampled_from(['r.dat', '../r.dat', 'other.dat', 'r.mat']))} {draw(fmt)} "
        f"{draw(st.one_of(st.just('200'), NUMBER))} 16 {draw(NUMBER)} {draw(NUMBER)} 0 0 MLII"
        for _ in range(draw(st.one_of(st.just(n_sig), st.integers(0, n_sig + 1))))
    ]
    return "\n".join([f"r {n_sig} {fs} {length}", *signals]).encode()


@st.composite
def a_zip(draw) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for _ in range(draw(st.integers(0, 3))):
            name = draw(st.sampled_from(["r.hea", "d/r.dat", "../r.hea", "/abs/r.dat", "z.zip",
                                         "r.csv", "__MACOSX/._r.hea"]))
            z.writestr(name, draw(st.binary(max_size=256)))
    return buffer.getvalue()


@st.composite
def an_npy(draw) -> bytes:
    dtype = draw(st.sampled_from(["<f8", "<i2", "|u1", "<U3", "|b1"]))
    shape = tuple(draw(st.lists(st.integers(0, 400), max_size=3)))
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(shape, dtype=dtype))
    data = buffer.getvalue()
    return data[: draw(st.integers(0, len(data)))]


CONTENT = st.one_of(st.binary(max_size=512), wfdb_header(), a_zip(), an_npy(),
                    st.lists(NUMBER, max_size=400).map(lambda v: "\n".join(v).encode()))


RECORD = st.tuples(wfdb_header(), st.binary(max_size=4096)).map(
    lambda parts: [("r.hea", parts[0]), ("r.dat", parts[1])]
)


@given(
    files=st.one_of(
        st.lists(st.tuples(st.sampled_from(FILE_NAMES), CONTENT), min_size=1, max_size=3), RECORD
    ),
    fs=st.one_of(st.none(), st.floats(1, 2000)),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
def test_random_uploads_never_get_a_server_error(files, fs):
    response = CLIENT.post(
        "/predict",
        files=[("files", f) for f in files],
        data={} if fs is None else {"fs": str(fs)},
    )
    assert response.status_code < 500, response.text
    assert "error" in response.json() or response.status_code == 200
