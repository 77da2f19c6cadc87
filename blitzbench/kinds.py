"""The kinds of benchmark a saved run holds, one record type each: what lines a case up across
runs (its key), the name a reader sees, and its statistics. Torch-free.

  throughput        a phase of the training step (blitzbench.cases.Case): samples/s
  data_loading      batches through a DataLoader or held tensors (bench/test_data_loading.py): images/s
  distributed       the DDP training step over ranks (blitzbench.distributed): samples/s
  time_to_accuracy  trainings to a test accuracy (bench/test_time_to_accuracy.py): one per seed
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from blitzbench.cases import Case


@dataclass(frozen=True)
class CaseStats:
    median_s: float
    q1_s: float
    q3_s: float
    units_per_call: float  # samples (or images) per timed call
    unit: str

    @property
    def rate(self) -> float:
        return self.units_per_call / self.median_s


def _timed(bench: dict, units_per_call: float, unit: str) -> CaseStats | None:
    """pytest-benchmark's median and quartiles of the timed rounds, when they are usable."""
    stats = bench.get("stats") or {}
    try:
        median, q1, q3 = float(stats["median"]), float(stats["q1"]), float(stats["q3"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (median > 0 and math.isfinite(median)):
        return None
    return CaseStats(median, q1, q3, units_per_call, unit)


class Kind:
    name = ""

    def key(self, info: dict) -> tuple | None:
        raise NotImplementedError

    def display(self, key: tuple) -> str:
        raise NotImplementedError

    def stats(self, bench: dict) -> CaseStats | None:
        raise NotImplementedError

    def mode(self, key: tuple) -> str | None:
        """The execution mode, for the kinds that have one."""
        return None


class Throughput(Kind):
    name = "throughput"

    def key(self, info):
        case = Case.from_info(info)
        return case.key if case else None

    def display(self, key):
        return Case.from_key(key).id

    def stats(self, bench):
        return _timed(bench, float(bench["extra_info"]["batch_size"]), "samples/s")

    def mode(self, key):
        return Case.from_key(key).mode


class DataLoading(Kind):
    name = "data_loading"

    def key(self, info):
        return (self.name, info["dataset"], info["source"], bool(info["augment"]), info["device"])

    def display(self, key):
        _, dataset, source, augment, device = key
        return f"{dataset}-{device}-{source}-{'augmented' if augment else 'plain'}"

    def stats(self, bench):
        return _timed(bench, float(bench["extra_info"].get("images", 1)), "images/s")


class Distributed(Kind):
    name = "distributed"

    def key(self, info):
        return (self.name, info["model"], info["backend"], int(info["world_size"]), int(info["global_batch_size"]))

    def display(self, key):
        _, model, backend, world_size, global_batch = key
        return f"{model}-{backend}-{world_size}ranks-bs{global_batch}-ddp_train_step"

    def stats(self, bench):
        info = bench["extra_info"]
        return _timed(bench, float(info["global_batch_size"]) * float(info["steps_per_block"]), "samples/s")


class TimeToAccuracy(Kind):
    name = "time_to_accuracy"

    def key(self, info):
        return (self.name, info["model"], info["dataset"], info["device"], info["loop"],
                info.get("mode") or "eager", float(info["target"]))

    def display(self, key):
        _, model, dataset, device, loop, mode, target = key
        return f"{model}-{device}-{dataset}-{loop}_loop{'-' + mode if mode != 'eager' else ''}-to_{target:.0%}"

    def stats(self, bench):
        """One training per seed: their median, the seeds' range as the spread."""
        info = bench["extra_info"]
        seconds = [float(x) for x in info.get("seconds_per_seed") or [info["seconds_to_accuracy"]]]
        if not all(x > 0 and math.isfinite(x) for x in seconds):
            return None
        return CaseStats(statistics.median(seconds), min(seconds), max(seconds), 1.0, "trainings/s")


KINDS: dict[str, Kind] = {kind.name: kind for kind in (Throughput(), DataLoading(), Distributed(), TimeToAccuracy())}


def kind_of(info: dict) -> Kind | None:
    """A saved benchmark's kind, from its ``extra_info`` (runs saved before kinds were recorded
    hold throughput cases, told by their phase)."""
    return KINDS.get(info.get("kind", "throughput" if "phase" in info else None))


def case_key(info: dict) -> tuple | None:
    """The key that lines a saved benchmark (its ``extra_info``) up across runs; None for what is
    not a case of this suite."""
    kind = kind_of(info)
    return kind.key(info) if kind else None


def case_name(key: tuple) -> str:
    """A key as the reader sees it: a throughput case's id, or the other kinds' names."""
    return KINDS[key[0]].display(key)


def case_mode(key: tuple) -> str | None:
    """A throughput key's execution mode; None for the other kinds of case."""
    return KINDS[key[0]].mode(key)


def case_stats(bench: dict, key: tuple) -> CaseStats | None:
    return KINDS[key[0]].stats(bench)
