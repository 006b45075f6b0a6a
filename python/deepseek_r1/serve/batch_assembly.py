"""Batch assembly for the dynamic batcher: check one request, bucket it, stack a batch, split results back.

Everything here is plain numpy and runs either in the event loop (`prepare`, cheap checks) or inside the
single executor call made per batch (`execute`: pad + concatenate + run + split), so the event loop never
copies tensor data.

Padding rule (only when `pad_values` is configured):
  * A "ragged" dim is a non-batch dim of a padded input whose spec is symbolic (a name like "S") or
    unknown (None). Every input that uses a padded symbol must itself have a pad value (checked at
    construction), so inputs sharing "S" stay consistent after padding.
  * A request's length L of a ragged dim picks its bucket: the smallest seq bucket >= L (lengths above the
    largest bucket batch only with the exact same length). Requests of one bucket share batches; a batch is
    padded only up to the longest request in it (<= the bucket), so a lone request is never padded.
  * Outputs are trimmed per request: an output dim whose spec names a padded symbol is sliced back to the
    request's original length; an output dim of unknown spec (None / no spec) whose size equals a padded
    length is sliced back when that padded length maps to exactly one original length of that request.
    Fixed (int) output dims are never touched.
  Limits: padding must be harmless to the model (elementwise ops, masked attention with a 0-padded mask,
  ...): a reduction over a padded dim sees the pad values. An output whose length is derived from the
  padded one (e.g. S-1, 2*S) is not trimmed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._core import InputError
from ..input_check import InputSpec, check_inputs
from .errors import ServeError, to_serve_error

# run(inputs, queued): one batch through the model; `queued` is how many requests were still waiting in the
# batcher's queues when the batch was taken (ModelVersion picks its precision variant by it).
RunFn = Callable[[dict[str, np.ndarray], int], Mapping[str, np.ndarray]]


@dataclass
class Prepared:
    """One validated request: its arrays, batch slots `n`, bucket `key` and padding bookkeeping."""

    arrays: dict[str, np.ndarray]
    n: int
    key: tuple
    orig: dict[str, int] = field(default_factory=dict)  # padded symbol -> this request's length
    padded: dict[str, int] = field(default_factory=dict)  # padded symbol -> bucket length


class Assembler:
    def __init__(
        self,
        input_specs: Sequence[InputSpec],
        output_specs: Sequence,
        max_batch_size: int,
        pad_values: Mapping[str, float | int] | None = None,
        seq_buckets: Sequence[int] = (16, 32, 64, 128, 256, 512),
    ):
        self.specs = list(input_specs)
        self.names = [s.name for s in self.specs]
        # output_specs may be plain names (no shape info): trimming then falls back to size matching.
        self.out_specs = {
            (o if isinstance(o, str) else o.name): (None if isinstance(o, str) else o.shape) for o in output_specs
        }
        self.max_batch_size = max_batch_size
        self.pad_values = dict(pad_values or {})
        self.buckets = sorted(int(b) for b in seq_buckets)
        unknown = [k for k in self.pad_values if k not in self.names]
        if unknown:
            raise ValueError(f"pad_values names unknown input(s) {unknown}; the model's inputs are {self.names}")
        # Batching stacks along dim 0, so every input needs a non-fixed leading dim.
        self.can_batch = all(
            s.shape is None or (len(s.shape) > 0 and not isinstance(s.shape[0], int)) for s in self.specs
        )
        self.ragged: dict[str, list[tuple[int, str]]] = {}  # input -> [(dim, symbol)]
        for s in self.specs:
            if s.name in self.pad_values and s.shape is not None:
                self.ragged[s.name] = [
                    (i, d if isinstance(d, str) else f"{s.name}#{i}")
                    for i, d in enumerate(s.shape)
                    if i > 0 and not isinstance(d, int)
                ]
        symbols = {sym for dims in self.ragged.values() for _, sym in dims}
        for s in self.specs:
            if s.name not in self.pad_values and s.shape is not None:
                shared = [d for d in s.shape[1:] if isinstance(d, str) and d in symbols]
                if shared:
                    raise ValueError(
                        f"input '{s.name}' uses the padded dim(s) {shared} but has no pad value; "
                        f"add it to pad_values so all inputs sharing the dim are padded alike"
                    )

    def _bucket(self, length: int) -> int:
        for b in self.buckets:
            if b >= length:
                return b
        return length  # above the largest bucket: exact length

    def prepare(self, inputs: Mapping[str, np.ndarray]) -> Prepared:
        """Checks one request's inputs (input_check, then what batching needs); raises InputError naming the input,
        the expected and the given."""
        arrays = check_inputs(self.specs, inputs)
        n = 1
        if self.can_batch:
            first = self.names[0]
            for name, a in arrays.items():
                if a.ndim == 0:
                    raise InputError(f"input '{name}' needs a leading batch dim, got a scalar")
                if a.shape[0] != arrays[first].shape[0]:
                    raise InputError(
                        f"all inputs must share the leading batch dim; input '{name}' has {a.shape[0]}, "
                        f"others {arrays[first].shape[0]}"
                    )
            n = arrays[first].shape[0]
            if not 1 <= n <= self.max_batch_size:
                raise InputError(
                    f"the request's batch dim is {n}; it must be from 1 to max_batch_size {self.max_batch_size}"
                )
        arrays = {k: a if a.flags.c_contiguous else np.ascontiguousarray(a) for k, a in arrays.items()}
        p = Prepared(arrays, n, ())
        # check_inputs bound each symbolic dim to one size, so inputs sharing a padded symbol agree on its length.
        for name, dims in self.ragged.items():
            for i, sym in dims:
                p.orig[sym] = arrays[name].shape[i]
                p.padded[sym] = self._bucket(p.orig[sym])
        p.key = tuple(self._shape(nm, arrays[nm], p.padded) for nm in self.names)
        return p

    # ---- inside the executor (one call per batch) ----

    def _shape(self, name: str, a: np.ndarray, lengths: Mapping[str, int]) -> tuple:
        """`a`'s shape without the batch dim, ragged dims replaced by `lengths`."""
        shape = list(a.shape[1:])
        for i, sym in self.ragged.get(name, ()):
            shape[i - 1] = lengths[sym]
        return tuple(shape)

    def _stack(self, items: Sequence[Prepared], lengths: Mapping[str, int]) -> dict[str, np.ndarray]:
        out = {}
        for name in self.names:
            parts = []
            for it in items:
                a = it.arrays[name]
                t = self._shape(name, a, lengths)
                if t != a.shape[1:]:
                    widths = [(0, 0)] + [(0, ti - si) for ti, si in zip(t, a.shape[1:])]
                    a = np.pad(a, widths, constant_values=np.asarray(self.pad_values[name]).astype(a.dtype))
                parts.append(a)
            out[name] = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=0)
        return out

    def _trim(self, name: str, o: np.ndarray, it: Prepared, lengths: Mapping[str, int]) -> np.ndarray:
        if all(lengths[s] == it.orig[s] for s in lengths):
            return o
        spec = self.out_specs.get(name)
        by_size: dict[int, set[int]] = {}
        for s, pl in lengths.items():
            by_size.setdefault(pl, set()).add(it.orig[s])
        index = [slice(None)] * o.ndim
        for i in range(1, o.ndim):
            d = spec[i] if spec is not None and len(spec) == o.ndim else None
            if isinstance(d, str) and d in lengths:
                index[i] = slice(0, it.orig[d])
            elif d is None and len(by_size.get(o.shape[i], ())) == 1:
                index[i] = slice(0, next(iter(by_size[o.shape[i]])))
        return np.ascontiguousarray(o[tuple(index)])

    def _split(
        self, outs: Mapping[str, np.ndarray], items: Sequence[Prepared], lengths: Mapping[str, int]
    ) -> list[dict[str, np.ndarray]]:
        total = sum(it.n for it in items)
        res: list[dict[str, np.ndarray]] = [{} for _ in items]
        for name, o in outs.items():
            o = np.asarray(o)
            if len(items) > 1 and (o.ndim == 0 or o.shape[0] != total):
                raise ServeError(
                    f"output '{name}' has shape {list(o.shape)} for a batch of {total}: it has no "
                    f"leading batch dim to split per request (turn dynamic_batching off)"
                )
            start = 0
            for k, it in enumerate(items):
                part = o if len(items) == 1 else o[start : start + it.n]
                start += it.n
                res[k][name] = self._trim(name, part, it, lengths)
        return res

    def _run(self, run: RunFn, items: Sequence[Prepared], queued: int) -> list[dict[str, np.ndarray]]:
        # Pad only up to the longest request of this batch: same bucket, less work than the bucket size.
        lengths = {s: max(it.orig[s] for it in items) for s in items[0].orig}
        return self._split(run(self._stack(items, lengths), queued), items, lengths)

    def execute(self, run: RunFn, items: Sequence[Prepared], queued: int) -> tuple[list, float]:
        """Stacks, runs once, splits. Returns (per-item result dict or ServeError, compute seconds).

        An InputError on a batch of several requests is retried one request at a time (same worker call),
        so one malformed request fails alone instead of taking its neighbours down.
        """
        t0 = time.perf_counter()
        try:
            results: list = self._run(run, items, queued)
        except InputError as e:
            if len(items) == 1:
                results = [to_serve_error(e)]
            else:
                results = []
                for it in items:
                    try:
                        results.append(self._run(run, [it], queued)[0])
                    except Exception as e:
                        results.append(to_serve_error(e))
        except Exception as e:
            results = [to_serve_error(e) for _ in items]
        return results, time.perf_counter() - t0
