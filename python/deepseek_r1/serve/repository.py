"""The model repository: which model versions exist on disk, which are loaded, and hot reload between them.

    repo/
      bert/config.json           optional (serve/config.py)
      bert/1/model.r1
      bert/2/model.r1            (model.onnx is accepted too; model.bf16.r1 is a prebuilt variant)

    repo = ModelRepository(root="repo", defaults=ModelConfig(...), metrics=m, executor=pool, priorities=p)
    await repo.load_all()            # at start-up
    mv = repo.get("bert")            # the newest ready version (or get("bert", "1"))
    await repo.poll()                # a new version directory or a replaced file -> loaded, then swapped in

Hot reload: the new version is compiled in the loader thread while the old one keeps serving; the swap is one
assignment on the event loop; the old version is retired (ModelVersion.retire) and closes when its in-flight
requests have finished. A version that fails to load leaves the serving one in place and records the reason,
which the index shows (Triton clients read `reason`): the serving rows stay READY with "reload failed: ...;
serving the previously loaded version", and the failed version has its own UNAVAILABLE row. Reasons name files
relative to the repository, never by their absolute path: they reach clients.
"""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .batcher import PriorityPolicy
from .config import ModelConfig, read_config_file
from .errors import BadRequest, NotFound, ServeError, Unavailable
from .metrics import ServerMetrics
from .model_version import ModelVersion

# Names and versions reach file paths: a strict alphabet, no separators, no leading dot (no traversal).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
_VERSION = re.compile(r"[0-9]{1,18}")
MODEL_FILES = ("model.r1", "model.onnx")


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise BadRequest(f"invalid model name {name[:80]!r}: use letters, digits, '_', '-' and '.' (max 128)")
    return name


def check_version(version: str) -> str:
    if not _VERSION.fullmatch(version):
        raise BadRequest(f"invalid model version {version[:40]!r}: versions are positive integers")
    return version


@dataclass
class ModelEntry:
    name: str
    versions: dict[str, ModelVersion] = field(default_factory=dict)  # loaded and serving
    state: str = "UNAVAILABLE"
    reason: str = ""
    fingerprints: dict[str, tuple] = field(default_factory=dict)  # version -> file identity when loaded
    failed: dict[str, tuple] = field(default_factory=dict)  # the files of the last failed load
    failed_version: str | None = None  # the version the last failed load was loading (None: failed before one)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ModelRepository:
    def __init__(
        self,
        root: str | os.PathLike | None = None,
        model_path: str | os.PathLike | None = None,
        *,
        defaults: ModelConfig,
        metrics: ServerMetrics,
        executor: Executor,
        priorities: dict[str, PriorityPolicy],
    ):
        if (root is None) == (model_path is None):
            raise ValueError("give exactly one of model_path= or repository=")
        self.root = Path(root) if root is not None else None
        self.model_path = Path(model_path) if model_path is not None else None
        if self.root is not None and not self.root.is_dir():
            raise FileNotFoundError(f"model repository {self.root} is not a directory")
        if self.model_path is not None and not self.model_path.is_file():
            raise FileNotFoundError(f"model file {self.model_path} does not exist")
        self.defaults, self.metrics, self.executor, self.priorities = defaults, metrics, executor, priorities
        self.entries: dict[str, ModelEntry] = {}
        self.auto_threshold: float | None = None
        self._loader = ThreadPoolExecutor(1, thread_name_prefix="r1-loader")  # compiles off the event loop

    # ---- discovery ------------------------------------------------------------------------------------
    def _repository_root(self) -> Path:
        assert self.root is not None, "a single-model repository has no root"  # __init__: one of the two is set
        return self.root

    def model_names(self) -> list[str]:
        if self.model_path is not None:
            return [self.model_path.stem]
        return sorted(p.name for p in self._repository_root().iterdir() if p.is_dir() and _NAME.fullmatch(p.name))

    def _versions_on_disk(self, name: str) -> dict[str, Path]:
        if self.model_path is not None:
            return {"1": self.model_path} if name == self.model_path.stem else {}
        d = self._repository_root() / name
        found = {}
        if d.is_dir():
            for v in d.iterdir():
                if v.is_dir() and _VERSION.fullmatch(v.name):
                    for f in MODEL_FILES:
                        if (v / f).is_file():
                            found[v.name] = v / f
                            break
        return found

    def _config(self, name: str) -> ModelConfig:
        if self.root is None:
            return self.defaults
        return read_config_file(self.root / name / "config.json", self.defaults, shown=f"{name}/config.json")

    def _relative(self, text: str) -> str:
        """`text` with the repository's absolute path cut off the paths it names ("bert/1/model.r1", not
        "/srv/models/bert/1/model.r1"): load errors reach clients, and the server's disk layout is not theirs."""
        base = self.root if self.root is not None else self.model_path.parent if self.model_path else None
        if base is None:
            return text
        for prefix in sorted({str(base.absolute()), str(base.resolve())}, key=len, reverse=True):
            text = text.replace(prefix.rstrip(os.sep) + os.sep, "")
        return text

    @staticmethod
    def _fingerprint(path: Path) -> tuple:
        st = path.stat()
        return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)

    # ---- load / unload / reload -----------------------------------------------------------------------
    async def load_all(self) -> None:
        for name in self.model_names():
            try:
                await self.load(name)
            except ServeError:
                pass  # recorded in the entry's reason; the other models still serve

    async def load(self, name: str, overrides: dict | None = None, force: bool = False) -> ModelEntry:
        """(Re)loads the newest `versions` versions of `name`; unchanged versions are kept as they are."""
        check_name(name)
        entry = self.entries.setdefault(name, ModelEntry(name))
        async with entry.lock:
            on_disk: dict[str, Path] = {}
            trying: str | None = None  # the version being loaded: a failure is that version's
            fresh: dict[str, ModelVersion] = {}
            fingerprints = dict(entry.fingerprints)  # restored if this load fails part-way
            try:
                config = self._config(name)
                if overrides:
                    config = config.merged(overrides)
                on_disk = self._versions_on_disk(name)
                if not on_disk:
                    raise NotFound(
                        f"model '{name}' has no version with a model file "
                        f"({' or '.join(MODEL_FILES)}) in the repository"
                    )
                wanted = sorted(on_disk, key=int)[-config.versions :]
                loop = asyncio.get_running_loop()
                for v in wanted:
                    fp = self._fingerprint(on_disk[v])
                    old = entry.versions.get(v)
                    if old is not None and not force and not overrides and entry.fingerprints.get(v) == fp:
                        fresh[v] = old
                        continue
                    entry.state = "LOADING" if not entry.versions else entry.state
                    trying = v
                    vm = self.metrics.for_version(name, v)
                    mv = await loop.run_in_executor(self._loader, ModelVersion.load, name, v, on_disk[v], config, vm)
                    mv.auto_threshold = self.auto_threshold
                    mv.start(self.executor, self.priorities)
                    fresh[v] = mv
                    entry.fingerprints[v] = fp
            except ServeError as e:
                self._abandon(entry, fresh, fingerprints)
                e.message = self._relative(e.message)
                e.args = (e.message,)
                self._failed(entry, e.message, on_disk, trying)
                raise
            except Exception as e:  # R1Error (corrupt file), OSError: the model is named in the reason
                self._abandon(entry, fresh, fingerprints)
                self._failed(entry, self._relative(f"{type(e).__name__}: {e}"), on_disk, trying)
                raise Unavailable(f"model '{name}' failed to load: {entry.reason}") from None
            retired = [mv for v, mv in entry.versions.items() if fresh.get(v) is not mv]
            entry.versions = fresh  # the swap: new requests see only the fresh versions
            entry.state, entry.reason, entry.failed, entry.failed_version = "READY", "", {}, None
            for mv in retired:
                mv.retire()
            entry.fingerprints = {v: fp for v, fp in entry.fingerprints.items() if v in fresh}
            return entry

    @staticmethod
    def _abandon(entry: ModelEntry, fresh: dict[str, ModelVersion], fingerprints: dict[str, tuple]) -> None:
        """A load failed part-way: versions it already started never serve. Retire them (their batchers and
        engines would otherwise live on, unreachable) and put back the fingerprints of what still serves."""
        for v, mv in fresh.items():
            if entry.versions.get(v) is not mv:
                mv.retire()
        entry.fingerprints = fingerprints

    def _failed(self, entry: ModelEntry, reason: str, on_disk: dict[str, Path], version: str | None) -> None:
        entry.reason, entry.failed_version = reason, version
        self.metrics.load_failed(entry.name)
        try:
            entry.failed = {
                v: self._fingerprint(p)
                for v, p in on_disk.items()
                if v in sorted(on_disk, key=int)[-self._config(entry.name).versions :]
            }
        except (OSError, ServeError):
            entry.failed = {}
        if not entry.versions:
            entry.state = "UNAVAILABLE"

    async def unload(self, name: str) -> None:
        check_name(name)
        entry = self.entries.get(name)
        if entry is None:
            raise NotFound(f"model '{name}' is not loaded")
        async with entry.lock:
            for mv in entry.versions.values():
                mv.retire()
            entry.versions = {}
            entry.fingerprints = {}
            entry.state, entry.reason, entry.failed_version = "UNAVAILABLE", "unloaded", None

    async def poll(self) -> None:
        """One scan for changes: new or replaced version files and new model directories are (re)loaded."""
        for name in self.model_names():
            entry = self.entries.get(name)
            if entry is not None and entry.reason == "unloaded":
                continue  # explicitly unloaded: stays so until a load request
            try:
                on_disk = self._versions_on_disk(name)
                wanted = sorted(on_disk, key=int)[-self._config(name).versions :]
                current = {v: self._fingerprint(on_disk[v]) for v in wanted}
                changed = entry is None or current != {
                    v: entry.fingerprints.get(v) for v in set(entry.fingerprints) | set(current)
                }
                if entry is not None and current == entry.failed:
                    continue  # the same files failed to load last time: wait until they change
            except (OSError, ServeError):
                continue  # a file vanished mid-scan or a bad config: next scan
            if changed and on_disk:
                try:
                    await self.load(name)
                except ServeError:
                    pass  # keeps serving the old version; the reason shows in the index

    def set_auto_precision(self, threshold: float | None) -> None:
        self.auto_threshold = threshold
        for entry in self.entries.values():
            for mv in entry.versions.values():
                mv.auto_threshold = threshold

    async def close(self) -> None:
        for entry in self.entries.values():
            for mv in entry.versions.values():
                mv.retire()
        for entry in self.entries.values():
            for mv in entry.versions.values():
                try:
                    await mv.wait_closed()
                except asyncio.TimeoutError:
                    pass
        self.entries.clear()
        self._loader.shutdown(wait=False)

    # ---- lookup ---------------------------------------------------------------------------------------
    def get(self, name: str, version: str | None = None) -> ModelVersion:
        entry = self.entries.get(name)
        if entry is None:
            check_name(name)
            raise NotFound(f"unknown model '{name}'")  # not the list of models: a 404 must not map the repository
        if not entry.versions:
            raise Unavailable(
                f"model '{name}' is not ready ({entry.state.lower()}{': ' + entry.reason if entry.reason else ''})"
            )
        if version is None or version == "":
            return entry.versions[max(entry.versions, key=int)]
        check_version(version)
        mv = entry.versions.get(version)
        if mv is None:
            raise NotFound(
                f"model '{name}' has no ready version '{version}'; ready versions: {sorted(entry.versions, key=int)}"
            )
        return mv

    def index(self) -> list[dict]:
        rows = []
        names = set(self.entries)
        try:
            names |= set(self.model_names())
        except OSError:
            pass
        for name in sorted(names):
            entry = self.entries.get(name)
            if entry is None:
                rows.append({"name": name, "state": "UNAVAILABLE", "reason": "not loaded"})
                continue
            if not entry.versions:
                rows.append({"name": name, "state": entry.state, "reason": entry.reason})
                continue
            rows += sorted(self._version_rows(entry), key=lambda r: int(r["version"]))
        return rows

    @staticmethod
    def _version_rows(entry: ModelEntry) -> list[dict]:
        """The rows of a model with serving versions; a failed reload shows on them and as its own row."""
        serving = ""
        if entry.reason:  # set while versions serve only by a failed (re)load
            serving = f"reload failed: {entry.reason}; serving the previously loaded version"
        rows = [
            {"name": entry.name, "version": v, "state": mv.state, "reason": serving} for v, mv in entry.versions.items()
        ]
        failed = entry.failed_version
        if entry.reason and failed is not None and failed not in entry.versions:
            rows.append({"name": entry.name, "version": failed, "state": "UNAVAILABLE", "reason": entry.reason})
        return rows

    def live_stats(self) -> list[dict]:
        return [mv.live() for e in list(self.entries.values()) for mv in list(e.versions.values())]
