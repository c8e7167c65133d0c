"""Uploaded files saved under names the server chooses: :func:`save_uploads` copies a request's
files into its temporary folder and unpacks one zip (no member may leave the archive, be a link,
be encrypted or be a zip; bounded count and size)."""

from __future__ import annotations

import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fastapi import UploadFile

from ecglens.serve.errors import ClientError

MAX_FILES = 32  # files in one upload, after unzipping
MAX_NAME = 255  # characters of a file's base name (most file systems' limit)
UNZIP_FACTOR = 4  # a zip may unpack to this many times the upload limit
ARCHIVE = ".zip"


@dataclass
class Upload:
    """One uploaded file."""

    name: str  # the client's base name: for lookups and messages only, never a path
    path: Path  # where its bytes are, under a name the server chose


def suffix_of(name: str) -> str:
    """The suffix of a client's file name, lower case (``""`` when none)."""
    return PurePosixPath(name).suffix.lower()


def client_name(filename: str | None, index: int) -> str:
    """The base name of an uploaded file (no folders), printable; a name over ``MAX_NAME``
    characters is refused (400: cutting it would cut its suffix)."""
    name = PurePosixPath(str(filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable()).strip()
    if len(name) > MAX_NAME:
        raise ClientError(
            400, f"file name of {len(name):,} characters ({name[:40]}...{name[-12:]}): at most "
            f"{MAX_NAME}; rename the file"
        )
    return name or f"file{index}"


def save_uploads(files: list[UploadFile], tmp: Path, max_bytes: int) -> list[Upload]:
    """Copy the uploaded files into ``tmp`` under server-chosen names; unpack one zip (to at
    most ``UNZIP_FACTOR * max_bytes`` bytes)."""
    return unpack_uploads(copy_uploads(files, tmp), tmp, max_bytes)


def copy_uploads(files: list[UploadFile], tmp: Path) -> list[Upload]:
    """Copy the uploaded files into ``tmp`` under server-chosen names (no parsing)."""
    if len(files) > MAX_FILES:
        raise ClientError(400, f"{len(files)} files uploaded; at most {MAX_FILES} per request")
    uploads = []
    for i, upload in enumerate(files):
        path = tmp / f"upload{i}"
        upload.file.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        uploads.append(Upload(client_name(upload.filename, i), path))
    return uploads


def unpack_uploads(uploads: list[Upload], tmp: Path, max_bytes: int) -> list[Upload]:
    """The copied uploads, one zip among them unpacked (to at most ``UNZIP_FACTOR * max_bytes``
    bytes)."""
    zips = [u for u in uploads if suffix_of(u.name) == ARCHIVE]
    if not zips:
        return uploads
    if len(uploads) > 1:
        raise ClientError(400, f"{zips[0].name}: a .zip must be the only file uploaded")
    return unzip(zips[0], tmp, max_bytes * UNZIP_FACTOR)


def _members(archive: zipfile.ZipFile, where: str) -> list[tuple[zipfile.ZipInfo, str]]:
    """The archive's files with their client names; refuses members whose path leaves the
    archive, links, encrypted members, nested zips, two members of one name, too many."""
    members, seen = [], set()
    for info in archive.infolist():
        raw = info.filename.replace("\\", "/")
        parts = PurePosixPath(raw).parts
        if raw.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
            raise ClientError(
                400, f"{where}: member {raw!r} has a path outside the archive (absolute or ..)"
            )
        if info.is_dir() or not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
            continue
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise ClientError(400, f"{where}: member {raw!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ClientError(400, f"{where}: member {raw!r} is encrypted")
        name = client_name(parts[-1], len(members))
        if suffix_of(name) == ARCHIVE:
            raise ClientError(400, f"{where}: member {raw!r} is a zip inside the zip")
        if name in seen:
            raise ClientError(400, f"{where}: two members named {name!r}")
        seen.add(name)
        members.append((info, name))
    if not members:
        raise ClientError(400, f"{where}: the zip holds no files")
    if len(members) > MAX_FILES:
        raise ClientError(400, f"{where}: {len(members)} files; at most {MAX_FILES}")
    return members


def unzip(upload: Upload, tmp: Path, max_total: int) -> list[Upload]:
    """The zip's files, unpacked under server-chosen names; refuses members whose path leaves
    the archive, links, encrypted members, nested zips and more than ``max_total`` bytes."""
    where = upload.name
    try:
        archive = zipfile.ZipFile(upload.path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ClientError(400, f"{where}: not a readable zip file ({exc})") from exc
    with archive:
        members = _members(archive, where)
        declared = sum(info.file_size for info, _ in members)
        if declared > max_total:
            raise ClientError(
                413, f"{where}: unpacks to {declared / 1e6:.1f} MB, more than the "
                f"{max_total / 1e6:.0f} MB accepted"
            )
        out, written = [], 0
        for i, (info, name) in enumerate(members):
            path = tmp / f"unzipped{i}"
            try:
                with archive.open(info) as src, path.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > max_total:
                            raise ClientError(413, f"{where}: unpacks to more than "
                                              f"{max_total / 1e6:.0f} MB")
                        dst.write(chunk)
            except ClientError:
                raise
            except Exception as exc:  # a damaged member: CRC, zlib, unsupported compression
                raise ClientError(
                    400, f"{where}: member {name!r} cannot be unpacked ({type(exc).__name__}: "
                    f"{exc})"
                ) from exc
            out.append(Upload(name, path))
        return out
