"""Shared pieces of the benchmarks: statistics, ratio lines, data, the book's loop, GEMM peak, machine info.

Every benchmark measures its own baseline in the same run, interleaves the variants
round by round and reports the median of the per-round ratios with their min-max:
absolute times drift on shared machines, ratios measured side by side hold.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import platform
import resource
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
OUT_DIR = ROOT / "out" / "bench"
FMNIST_DIRS = (Path("/usr/share/datasets/fashion-mnist"), Path("/work/shared/reference"))

#: FLOPs of the chapter's ReLU LeNet per image (conv + matmul only), as in perf-calibration.md
TRAIN_FLOP_PER_IMAGE = 2.264e6
EVAL_FLOP_PER_IMAGE = 0.833e6

BATCH_SIZE = 256


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


def busy_cores(seconds: float = 1.0) -> float | None:
    """Cores kept busy by other processes: CPU time used machine-wide over `seconds` while this one sleeps."""
    try:
        total0, idle0 = _cpu_times()
        time.sleep(seconds)
        total1, idle1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    dt = total1 - total0
    return (1 - (idle1 - idle0) / dt) * (os.cpu_count() or 1) if dt > 0 else None


_busy_at_start: list[float | None] = []

#: a measurement during which other processes used at least this many cores is marked "contended"
CONTENDED = 0.25


def _own_cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class OthersMeter:
    """Context manager: ``cores`` = CPU used by *other* processes during the block, in cores (None: unknown).

    Machine-wide busy time from /proc/stat minus this process's and its reaped children's CPU time,
    divided by the wall time. Wrap a subprocess that is waited for inside the block.
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    def __enter__(self) -> OthersMeter:
        try:
            self._stat0 = _cpu_times()
        except (OSError, ValueError, IndexError):
            self._stat0 = None
        self._own0, self._t0 = _own_cpu_s(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        if self._stat0 is None or wall <= 0:
            return
        total1, idle1 = _cpu_times()
        busy_s = ((total1 - self._stat0[0]) - (idle1 - self._stat0[1])) / os.sysconf("SC_CLK_TCK")
        self.cores = max(0.0, (busy_s - (_own_cpu_s() - self._own0)) / wall)


def busy_warning() -> str | None:
    """Measure `busy_cores` now (the start of a benchmark); a warning when others use half a core or more."""
    busy = busy_cores()
    _busy_at_start.append(busy)
    if busy is not None and busy >= 0.5:
        return (
            f"WARNING: other processes kept {busy:.1f} of {os.cpu_count()} cores busy at the start: every "
            "timing is slowed and noisy, 2-thread OpenMP code the most; rerun on a quiet machine"
        )
    return None


# -- statistics and printing ----------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """Median and range of repeated measurements."""

    median: float
    lo: float
    hi: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise a non-empty list of numbers."""
        vals = [float(v) for v in values]
        return cls(statistics.median(vals), min(vals), max(vals), len(vals))

    def fmt(self, spec: str = ",.0f", unit: str = "") -> str:
        """``median (min-max)``, each with `spec` and `unit`."""
        return f"{self.median:{spec}}{unit} ({self.lo:{spec}}-{self.hi:{spec}}{unit})"

    def as_dict(self) -> dict[str, float]:
        """JSON form."""
        return {"median": self.median, "min": self.lo, "max": self.hi, "n": self.n}


def verdict(value: float, target: float, higher_is_better: bool = True) -> str:
    """``PASS`` or ``MISS`` of a median against its target."""
    ok = value >= target if higher_is_better else value <= target
    return "PASS" if ok else "MISS"


def ratio_line(
    label: str, ratios: Sequence[float], target: float | None = None, *, higher: bool = True, note: str = ""
) -> str:
    """One printed ratio line: ``ratio  <label>  3.10x (2.9-3.3x, n=3)<note>  target >= 4x  MISS``."""
    s = Summary.of(ratios)
    line = f"ratio  {label:<52} {s.median:8.2f}x ({s.lo:.2f}-{s.hi:.2f}x, n={s.n}){note}"
    if target is not None:
        op = ">=" if higher else "<="
        line += f"  target {op} {target:g}x  {verdict(s.median, target, higher)}"
    return line


def rotated(items: Sequence[Any], r: int) -> list[Any]:
    """`items` rotated by `r`: round r of an interleaved schedule starts with a different variant."""
    k = r % len(items) if items else 0
    return [*items[k:], *items[:k]]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Wall time of one call and its result."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# -- machine and versions ---------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (or platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, versions and thread settings, for every result file."""
    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "busy_cores_at_start": None if not _busy_at_start or _busy_at_start[0] is None else round(_busy_at_start[0], 2),
    }
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        info["torch"] = None
    try:
        import lrlab

        info["lrlab"] = lrlab.__version__
    except ImportError:
        info["lrlab"] = None
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        )
        info["git"] = rev.stdout.strip() or None
    except OSError:
        info["git"] = None
    return info


def max_rss_mb() -> dict[str, float]:
    """``ru_maxrss`` in MB of this process and of its largest waited-for child (getrusage semantics)."""
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self_mb": self_kb / 1024, "children_mb": child_kb / 1024, "total_mb": (self_kb + child_kb) / 1024}


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            kids += [int(x) for x in (task / "children").read_text().split()]
    return kids


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss_mb(pid: int | None = None) -> float:
    """Proportional set size (shared pages split between sharers) of a process and all its descendants, MB."""
    todo, total = [pid or os.getpid()], 0
    while todo:
        p = todo.pop()
        total += _pss_kb(p)
        todo += _children(p)
    return total / 1024


class TreeMemorySampler:
    """Context manager: samples `tree_pss_mb` of this process tree every `interval` s; ``peak_mb`` is the max."""

    def __init__(self, interval: float = 0.25, enabled: bool = True) -> None:
        self.interval, self.enabled = interval, enabled
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_pss_mb())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemorySampler:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._stop.set()
            self._thread.join()


def save_result(name: str, payload: dict[str, Any], out_dir: Path | None = None) -> Path:
    """Write ``out/bench/<name>.json`` with the machine info and the command, and return its path."""
    folder = out_dir or OUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    doc = {
        "benchmark": name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(),
        **payload,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path


# -- data ----------------------------------------------------------------------------------------
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def read_idx(path: Path) -> np.ndarray:
    """Read one gzip IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not a uint8 IDX file")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def fashion_mnist_arrays() -> Arrays:
    """Fashion-MNIST as uint8 arrays ``(x_train, y_train, x_test, y_test)``, images ``(N, 28, 28)``."""
    for folder in FMNIST_DIRS:
        names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        if all((folder / n).exists() for n in names):
            parts = [
                read_idx(folder / f"{split}-{kind}-idx{d}-ubyte.gz")
                for split in ("train", "t10k")
                for kind, d in (("images", 3), ("labels", 1))
            ]
            return parts[0], parts[1], parts[2], parts[3]
    raise FileNotFoundError(f"Fashion-MNIST IDX files not found in {[str(f) for f in FMNIST_DIRS]}")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip IDX file (the inverse of `read_idx`)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_fashion_mnist(folder: Path, arrays: Arrays) -> Path:
    """Write `arrays` as the four Fashion-MNIST IDX files in `folder` (for smoke runs of the CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name, arr in zip(names, arrays, strict=True):
        write_idx(folder / f"{name}.gz", arr)
    return folder


def synthetic_arrays(n_train: int = 512, n_test: int = 128, seed: int = 0) -> Arrays:
    """Random uint8 images and labels with Fashion-MNIST's shapes (for --smoke)."""
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train, dtype=np.uint8),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test, dtype=np.uint8),
    )


def subset(arrays: Arrays, n_train: int | None, n_test: int | None) -> Arrays:
    """The first `n_train` training and `n_test` test examples (None: all)."""
    x, y, xt, yt = arrays
    return x[:n_train], y[:n_train], xt[:n_test], yt[:n_test]


# -- the book's way (d2l chapter 12.11, PyTorch tab) ----------------------------------------------
def lenet() -> Any:
    """The chapter's ReLU LeNet (``net_fn`` in the chapter)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def _to_tensor(pic: Any) -> Any:
    """What torchvision's ``ToTensor`` does to an 8-bit grey PIL image: CHW float in [0, 1]."""
    import torch

    arr = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    arr = arr.view(pic.size[1], pic.size[0], 1).permute((2, 0, 1)).contiguous()
    return arr.to(dtype=torch.get_default_dtype()).div(255)


def book_dataset(images: np.ndarray, labels: np.ndarray) -> Any:
    """A per-image ``Dataset`` like torchvision's FashionMNIST + ``ToTensor``: PIL image, then tensor."""
    from PIL import Image
    from torch.utils.data import Dataset

    class BookFashionMNIST(Dataset):  # type: ignore[type-arg]
        def __init__(self) -> None:
            self.images, self.labels = images, labels

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int) -> tuple[Any, int]:
            img = Image.fromarray(self.images[i])  # 2-D uint8 -> mode "L", as torchvision does
            return _to_tensor(img), int(self.labels[i])

    return BookFashionMNIST()


def book_loaders(arrays: Arrays, num_workers: int = 4) -> tuple[Any, Any]:
    """``d2l.load_data_fashion_mnist(256)``: shuffled train loader and test loader, 4 workers each."""
    from torch.utils.data import DataLoader

    x, y, xt, yt = arrays
    train = DataLoader(book_dataset(x, y), batch_size=BATCH_SIZE, shuffle=True, num_workers=num_workers)
    test = DataLoader(book_dataset(xt, yt), batch_size=BATCH_SIZE, shuffle=False, num_workers=num_workers)
    return train, test


class Accumulator:
    """``d2l.Accumulator``: sums n floats (each ``float(tensor)`` is a host sync)."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args: Any) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args, strict=True)]

    def __getitem__(self, i: int) -> float:
        return self.data[i]


def book_accuracy(y_hat: Any, y: Any) -> float:
    """``d2l.accuracy``: number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def book_evaluate(net: Any, data_iter: Any) -> float:
    """``d2l.evaluate_accuracy_gpu`` on the CPU."""
    import torch

    net.eval()
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(book_accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def book_train_epoch(net: Any, train_iter: Any, loss: Any, trainer: Any, max_batches: int | None = None) -> float:
    """The chapter's inner loop for one epoch; returns the train accuracy."""
    import torch

    metric = Accumulator(3)
    for i, (X, y) in enumerate(train_iter):
        if max_batches is not None and i >= max_batches:
            break
        net.train()
        trainer.zero_grad()
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741  (the book's name)
        l.backward()
        trainer.step()
        with torch.no_grad():
            metric.add(l * X.shape[0], book_accuracy(y_hat, y), X.shape[0])
    return metric[1] / max(metric[2], 1.0)


# -- GEMM peak --------------------------------------------------------------------------------------
def gemm_peak(sizes: Sequence[int] = (512, 1024, 2048), reps: int = 5, threads: int = 2) -> dict[str, Any]:
    """fp32 ``torch.mm`` GFLOP/s with `threads` threads: median of `reps` per size, best size."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    per_size: dict[str, float] = {}
    try:
        for n in sizes:
            a, b = torch.randn(n, n), torch.randn(n, n)
            torch.mm(a, b)  # warm
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t0)
            per_size[str(n)] = 2 * n**3 / statistics.median(times) / 1e9
    finally:
        torch.set_num_threads(old)
    best = max(per_size, key=lambda k: per_size[k])
    return {"gflops": per_size[best], "best_size": int(best), "per_size": per_size, "threads": threads}


# -- running a variant in its own process -------------------------------------------------------------
def run_child(args: Sequence[str], timeout: float = 900) -> dict[str, Any]:
    """Run ``benchmarks/variant.py ARGS`` in a fresh interpreter; return the JSON it prints last."""
    cmd = [sys.executable, str(BENCH_DIR / "variant.py"), *args]
    with OthersMeter() as others:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout)[-2000:]
        return {"ok": False, "error": f"exit {proc.returncode}: {tail.strip()}", "others_cores": others.cores}
    result: dict[str, Any] = json.loads(lines[-1])
    result["others_cores"] = others.cores
    return result


def contended(*results: dict[str, Any]) -> bool:
    """Whether other processes used `CONTENDED` cores or more during any of these measurements."""
    return any((r.get("others_cores") or 0.0) >= CONTENDED for r in results)


def contention_note(flags: Sequence[bool]) -> str:
    """`` [2 of 3 rounds contended]`` or an empty string."""
    k = sum(flags)
    return f" [{k} of {len(flags)} rounds contended]" if k else ""
