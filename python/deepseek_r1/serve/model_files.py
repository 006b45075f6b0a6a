"""Reading a file a model's configuration names: inside the model's directory, a regular file, size-bounded.

    check_relative("tokenizer.json", "tokenizer")                    # config.json and load overrides: at parse time
    data = read_model_file(model_dir, "tokenizer.json", 64 << 20, "tokenizer")   # at load time
    data = read_regular_file(path, 64 << 10, "config", shown="bert/config.json")

A load override (POST .../load with parameters.config) is a client's input, and config.json travels with the
model, so a path either names must not reach the rest of the server's disk: it must be relative, without '..',
and once every symlink is resolved it must still be inside the model's directory. Only the operator's own
server-wide setting (InferenceServer(tokenizer=...), which the CLI fills with an absolute path) may point
elsewhere. Whatever the source, the file must be a regular file (not /dev/zero or a FIFO, which never end or
block) and is read only up to a limit, whatever its size claims, so a load cannot grow the server without bound.

Every refusal of a path says the same thing (outside, missing, not a regular file, unreadable), and no message
prints an absolute server path, so an error does not tell a caller what exists elsewhere on the host.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath, PureWindowsPath

from .errors import BadRequest

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)


def check_relative(file: object, what: str) -> str:
    """`file` if it is a relative path without '..' (what config.json and load overrides may name), else 400."""
    ok = (
        isinstance(file, str)
        and file
        and "\x00" not in file
        and not PurePosixPath(file).is_absolute()
        and not PureWindowsPath(file).anchor  # "C:\\x" or "\\\\host\\share": absolute on some host
        and ".." not in PurePosixPath(file.replace("\\", "/")).parts
    )
    if not ok:
        raise BadRequest(
            f"{what} 'file' must be a path relative to the model directory, without '..'; got {str(file)[:100]!r}"
        )
    return str(file)


def _refused(what: str, shown: str) -> BadRequest:
    # One message for outside / missing / not regular / unreadable: the answer must not map the host's disk.
    return BadRequest(f"{what} file {shown!r} is not a regular file inside the model directory")


def read_regular_file(path: Path, limit: int, what: str, shown: str) -> bytes:
    """The bytes of `path`, which must be a regular file of at most `limit` bytes; `shown` names it in errors."""
    try:
        # O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOFOLLOW: the path was resolved already,
        # so a symlink here was swapped in since (and is refused, not followed).
        fd = os.open(path, _OPEN_FLAGS)
    except OSError:
        raise _refused(what, shown) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _refused(what, shown)
        if st.st_size > limit:
            raise BadRequest(f"{what} file {shown!r} is {st.st_size} bytes; the limit is {limit}")
        chunks, size = [], 0
        while size <= limit:  # read to limit + 1, whatever fstat said: the file may grow while we read
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:  # a read error on a regular file: say no more than for any other refusal
        raise _refused(what, shown) from None
    finally:
        os.close(fd)
    if size > limit:
        raise BadRequest(f"{what} file {shown!r} grew past the limit of {limit} bytes while it was read")
    return b"".join(chunks)


def read_model_file(model_dir: Path, file: str, limit: int, what: str) -> bytes:
    """The bytes of `file`: relative to `model_dir` and confined to it, or an absolute path (the operator's own
    server-wide setting; config.json and overrides cannot give one, check_relative refuses it at parse time)."""
    if os.path.isabs(file):
        return read_regular_file(Path(file), limit, what, shown=Path(file).name)
    check_relative(file, what)
    try:
        root = model_dir.resolve(strict=True)
        path = (root / file).resolve()  # every symlink followed: what the open below will really read
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        raise _refused(what, file) from None
    if not path.is_relative_to(root) or path == root:
        raise _refused(what, file)
    return read_regular_file(path, limit, what, shown=file)


__all__ = ["check_relative", "read_model_file", "read_regular_file"]
