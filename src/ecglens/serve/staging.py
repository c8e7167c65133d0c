"""One record from a request's uploads: :func:`stage` sorts the saved files by suffix (the
suffix table of :mod:`ecglens.io.formats`), checks them and moves them under names the server
chooses, into a :class:`Staged` record whose messages name the client's files."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ecglens.errors import EcgLensError
from ecglens.io.formats import (
    EDF_FILES,
    IMAGE_FILES,
    SAMPLE_FILES,
    WFDB_ANNOTATION,
    WFDB_HEADER,
    WFDB_SIGNAL,
    InputKind,
    input_kind,
)
from ecglens.io.limits import MAX_SAMPLES
from ecglens.serve.errors import ClientError, as_form_fields, one_line
from ecglens.serve.format_checks import (
    check_edf,
    check_npy,
    check_text,
    check_wfdb_header,
    check_wfdb_signal_sizes,
)
from ecglens.serve.uploads import Upload, suffix_of

ACCEPTED = (
    "a WFDB record (.hea + .dat [+ .atr]) or a .zip of one, .csv/.txt/.npy with fs, .edf/.bdf"
)
# what an uploaded file is, by suffix: a part of a WFDB record, or a record in one file
HEADER, SIGNAL, ANNOTATION = "header", "signal", "annotation"
UPLOAD_KINDS: dict[str, str] = {
    WFDB_HEADER: HEADER,
    **dict.fromkeys(WFDB_SIGNAL, SIGNAL),
    **dict.fromkeys(WFDB_ANNOTATION, ANNOTATION),
    **dict.fromkeys(SAMPLE_FILES, InputKind.SAMPLES),
    **dict.fromkeys(EDF_FILES, InputKind.EDF),
    **dict.fromkeys(IMAGE_FILES, InputKind.IMAGE),
}
ONE_FILE_KINDS = (InputKind.SAMPLES, InputKind.EDF, InputKind.IMAGE)
# the check a record in one file passes before it is read, by suffix
FORMAT_CHECKS: dict[str, Callable[[Path, str, int], None]] = {
    **dict.fromkeys(SAMPLE_FILES, check_text),
    ".npy": check_npy,
    **dict.fromkeys(EDF_FILES, check_edf),
}


@dataclass
class Staged:
    """One record ready to read: ``path`` (server-chosen), ``label`` (the client's name for it),
    ``kind`` (WFDB, samples, beat CSV, EDF or image), ``display`` (record name to show) and
    ``names`` (server path or name -> client name, to keep server paths out of messages)."""

    path: Path
    label: str
    kind: InputKind
    display: str
    names: dict[str, str] = field(default_factory=dict)

    def scrub(self, text: str) -> str:
        for server, client in sorted(self.names.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(server, client)
        return as_form_fields(text)

    @contextmanager
    def scrubbing(self) -> Iterator[None]:
        """Turn errors into client errors whose messages name the client's files."""
        try:
            yield
        except EcgLensError as exc:
            raise ClientError(422, self.scrub(str(exc))) from exc
        except ClientError as exc:
            raise ClientError(exc.status, self.scrub(str(exc)), exc.headers) from exc


def stage(uploads: list[Upload], tmp: Path, max_samples: int = MAX_SAMPLES) -> Staged:
    """Sort the uploads into one record and move its files under server-chosen names; a record
    of more than ``max_samples`` samples (all signals) is refused before it is read."""
    kinds: dict[str, list[Upload]] = {}
    for u in uploads:
        kind = UPLOAD_KINDS.get(suffix_of(u.name))
        if kind is None:
            raise ClientError(
                415, f"{u.name}: not a file type the server reads "
                f"({suffix_of(u.name) or 'no extension'}); upload {ACCEPTED}"
            )
        kinds.setdefault(kind, []).append(u)
    stem = "r" + secrets.token_hex(5)
    headers = kinds.get(HEADER, [])
    singles = [u for kind in ONE_FILE_KINDS for u in kinds.get(kind, [])]
    if len(headers) > 1:
        names = ", ".join(u.name for u in headers)
        raise ClientError(400, f"several WFDB headers ({names}): upload one record per request")
    if headers and singles:
        raise ClientError(
            400, f"a WFDB record and {singles[0].name} in one upload: one record per request"
        )
    if headers:
        return _stage_wfdb(headers[0], kinds.get(SIGNAL, []), kinds.get(ANNOTATION, []), tmp,
                           stem, max_samples)
    if kinds.get(SIGNAL):
        raise ClientError(
            422, f"{kinds[SIGNAL][0].name}: a signal file needs its .hea header: upload both"
        )
    if not singles:
        raise ClientError(
            422, f"{uploads[0].name}: annotations alone are no record: upload the .hea and .dat"
        )
    if len(singles) > 1:
        names = ", ".join(u.name for u in singles)
        raise ClientError(400, f"several records ({names}): upload one record per request")
    return _stage_one_file(singles[0], tmp, stem, max_samples)


def _stage_one_file(upload: Upload, tmp: Path, stem: str, max_samples: int) -> Staged:
    """A record in one file (samples, beat CSV, EDF/BDF, image), checked, as ``stem``."""
    suffix = suffix_of(upload.name)
    target = tmp / f"{stem}{suffix}"
    upload.path.rename(target)
    check = FORMAT_CHECKS.get(suffix)
    if check is not None:
        check(target, upload.name, max_samples)
    display = PurePosixPath(upload.name).stem or upload.name
    names = {str(target): upload.name, target.name: upload.name, stem: display, str(tmp): "upload"}
    return Staged(target, upload.name, input_kind(target), display, names)


def _stage_wfdb(
    header: Upload,
    signals: list[Upload],
    annotations: list[Upload],
    tmp: Path,
    stem: str,
    max_samples: int,
) -> Staged:
    """Check the header (record line, declared signals, samples and rate), then write it under
    the server's record name with its signal-file references renamed to match."""
    where = header.name
    checked = check_wfdb_header(header.path, where, max_samples)
    name, record_line = checked.record, checked.record_line
    uploaded = {u.name.lower(): u for u in signals}
    renamed: dict[str, str] = {}  # the header's signal file name (lower case) -> the server's
    server_header = f"{stem}{WFDB_HEADER}"
    names = {str(tmp / stem): name, server_header: where, str(tmp / server_header): where,
             stem: name, str(tmp): "upload"}
    new = list(checked.lines)
    start = record_line.index(name)
    new[checked.record_index] = record_line[:start] + stem + record_line[start + len(name) :]
    for j, line in checked.signal_lines:
        file_name = line.split()[0]
        if len(line.split()) < 2:
            raise ClientError(422, f"{where}: malformed signal line {one_line(line, 80)!r}")
        key = file_name.lower()
        if key not in renamed:
            found = uploaded.get(key)
            if found is None:
                raise ClientError(
                    422, f"{file_name}: signal file named by {where} is missing from the upload"
                )
            suffix = suffix_of(file_name) if suffix_of(file_name) in WFDB_SIGNAL else ".dat"
            server = f"{stem}{suffix}" if not renamed else f"{stem}_{len(renamed)}{suffix}"
            found.path.rename(tmp / server)
            renamed[key] = server
            names[server] = names[str(tmp / server)] = found.name
        at = line.index(file_name)
        new[j] = line[:at] + renamed[key] + line[at + len(file_name) :]
    check_wfdb_signal_sizes(checked, {k: tmp / v for k, v in renamed.items()}, where, max_samples)
    (tmp / server_header).write_text("\n".join(new) + "\n", encoding=checked.encoding)
    matching = [a for a in annotations if PurePosixPath(a.name).stem == name] or annotations
    if len(matching) == 1:
        server_annotation = f"{stem}{WFDB_ANNOTATION[0]}"
        matching[0].path.rename(tmp / server_annotation)
        names[server_annotation] = names[str(tmp / server_annotation)] = matching[0].name
    return Staged(tmp / stem, where, InputKind.WFDB, name, names)
