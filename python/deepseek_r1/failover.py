"""Failover: a run that fails on its device reruns on a fallback device, so a failing GPU does not fail requests.

    eng = InferenceEngine("m.r1", device="cuda:0", fallback_device="cpu")
    eng.run(feeds)            # a DeviceError on cuda:0 (allocation failure, kernel error, lost device): rerun on cpu
    eng.device_health         # {"device": "cuda:0", "healthy": False, "failures": 1, "last_error": ..., ...}

Only device errors fail over: a bad input (InputError) or a broken model (ModelError) would fail on any device.
After a failure the device is unhealthy for `cooldown_s`: runs go to the fallback straight away, then the device is
tried again (a transient fault heals; a lost device fails once per cooldown). The fallback engine is compiled on
first need, from the same model, for the fallback device.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._core import DeviceError


class Failover:
    def __init__(self, device: str, fallback: str, make_fallback: Callable[[], Any], cooldown_s: float):
        if cooldown_s < 0:
            raise ValueError(f"fallback_cooldown_s must be >= 0, got {cooldown_s}")
        self.device, self.fallback = device, fallback
        self._make = make_fallback
        self._engine: Any = None
        self._lock = threading.Lock()
        self.cooldown_s = cooldown_s
        self.failures = 0
        self.fallback_runs = 0
        self.last_error = ""
        self._unhealthy_until = 0.0

    @property
    def healthy(self) -> bool:
        return time.monotonic() >= self._unhealthy_until

    def _fallback_engine(self):
        with self._lock:
            if self._engine is None:
                self._engine = self._make()
            return self._engine

    def run(self, primary: Callable[[list], list], arrays: list) -> list:
        if self.healthy:
            try:
                return primary(arrays)
            except DeviceError as e:
                with self._lock:
                    self.failures += 1
                    self.last_error = str(e)[:500]
                    self._unhealthy_until = time.monotonic() + self.cooldown_s
        outs = self._fallback_engine()._executor.run(arrays)
        with self._lock:
            self.fallback_runs += 1
        return outs

    def health(self) -> dict:
        return {
            "device": self.device,
            "healthy": self.healthy,
            "failures": self.failures,
            "last_error": self.last_error,
            "fallback_device": self.fallback,
            "fallback_runs": self.fallback_runs,
        }
