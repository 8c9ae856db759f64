"""The perception pipeline in a child process of its own, behind the pipeline's ``run``.

Why: in one Python process the node's rclpy executor, handling 30 Hz colour + depth +
camera_info, takes the GIL from the inference thread again and again during a forward pass.
Measured on this 2-core machine (the tiny model, one torch thread, 60 queries): p50/p95
52/67 ms with no image subscriptions in the process, 65-71/176-279 ms (max 0.5-0.7 s) with
them; receiving the images as raw bytes did not help, a 0.5 ms GIL switch interval only
halved the tail. A child process has an interpreter and a GIL of its own; a request crosses
a pipe, its frame a shared-memory block.

The child is started with ``spawn`` (never fork a process that runs DDS threads), loads the
referrer itself and warms it up (requests wait for the warm-up: compiling the model can
take a minute); if it dies or hangs, the request gets an error result and the next request
starts a new child.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from spatial_ros.common.lifetime import die_with_parent
from spatial_ros.perception.extrinsics import CameraToBase
from spatial_ros.perception.pipeline import PipelineConfig
from spatial_ros.perception.result import PerceptionResult

log = logging.getLogger(__name__)


@dataclass
class PipelineSpec:
    """Everything the child needs to build the pipeline (picklable)."""

    referrer: str = "model"  # model | geometric
    model_path: str = ""
    device: str = "auto"
    torch_threads: int = 1  # 0 = torch's default
    warm_up: bool = True
    compile_model: bool = False  # torch.compile the model (model/compiled_forward.py)
    config: PipelineConfig | None = None
    extrinsics: CameraToBase | None = None
    attribute_check: bool = False  # check the model's answer's colour and kind


def build_pipeline(spec: PipelineSpec):
    """The pipeline a spec describes, in this process (referrer load errors are kept in
    ``load_error`` and reported by every result: a node keeps serving)."""
    from spatial_ros.perception.pipeline import PerceptionPipeline
    from spatial_ros.perception.referrers import load_referrer

    if spec.referrer == "model" and spec.torch_threads > 0:
        import torch

        torch.set_num_threads(spec.torch_threads)
    referrer, name, error = None, "", None
    try:
        referrer, name = load_referrer(spec.referrer, spec.model_path, spec.device,
                                       spec.compile_model, spec.attribute_check)
    except Exception as exc:  # reported in every result instead
        error = f"{spec.referrer} referrer could not be loaded: {exc}"
        name = f"{spec.referrer} (not loaded)"
    return PerceptionPipeline(referrer, spec.config, spec.extrinsics, referrer_name=name,
                              load_error=error)


def warm_up(pipeline, spec: PipelineSpec) -> bool:
    """One inference on a blank frame so the first request skips lazy initialisation (CUDA
    context, kernel selection, allocator growth, ``torch.compile``); only the model referrer
    has any. Returns whether it ran."""
    if not (spec.warm_up and spec.referrer == "model" and pipeline.referrer is not None):
        return False
    from spatial_ros.geometry.intrinsics import Intrinsics

    intr = Intrinsics(640, 480, 615.0, 615.0, 319.5, 239.5)
    pipeline.run(np.full((480, 640, 3), 128, np.uint8), np.full((480, 640), 0.8, np.float32),
                 intr, "the red cup")
    return True


def timed_warm_up(pipeline, spec: PipelineSpec) -> tuple[bool, float, str]:
    """``warm_up`` that never raises: (ran, seconds, error or "")."""
    t0 = time.perf_counter()
    try:
        ran = warm_up(pipeline, spec)
    except Exception as exc:  # the node still serves; requests will report their own errors
        return False, time.perf_counter() - t0, f"warm-up inference failed: {exc!r}"
    return ran, time.perf_counter() - t0, ""


class SharedFrames:
    """The parent's side of the images' shared-memory block: the pipe then carries only
    their shapes (pickling 2 MB of RGB-D through it cost 20 ms p50, 40 ms p95 here)."""

    def __init__(self) -> None:
        self._shm: shared_memory.SharedMemory | None = None

    def put(self, *arrays) -> tuple:
        """Copies the arrays in; returns what ``SharedFrameReader.get`` needs."""
        arrays = [np.ascontiguousarray(a) for a in arrays]
        size = sum(a.nbytes for a in arrays)
        if self._shm is None or self._shm.size < size:
            self.close()
            self._shm = shared_memory.SharedMemory(create=True, size=max(size, 1))
        layout, offset = [], 0
        for a in arrays:
            np.ndarray(a.shape, a.dtype, self._shm.buf, offset)[...] = a
            layout.append((a.shape, a.dtype.str, offset))
            offset += a.nbytes
        return self._shm.name, layout

    def close(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm.unlink()
            self._shm = None


class SharedFrameReader:
    """The child's side: attaches to the parent's block (again when it is replaced)."""

    def __init__(self) -> None:
        self._shm: shared_memory.SharedMemory | None = None

    def get(self, name: str, layout: list) -> list[np.ndarray]:
        if self._shm is None or self._shm.name != name:
            if self._shm is not None:
                self._shm.close()
            self._shm = shared_memory.SharedMemory(name=name)
        # copies: nothing may point into the block once the parent writes the next frame
        return [np.ndarray(shape, np.dtype(dtype), self._shm.buf, offset).copy()
                for shape, dtype, offset in layout]


def _child_main(conn, spec: PipelineSpec) -> None:
    die_with_parent()  # a node ended at once (os._exit) runs no multiprocessing cleanup
    frames = SharedFrameReader()
    try:
        pipeline = build_pipeline(spec)
        conn.send(("ready", pipeline.referrer_name, pipeline.load_error))
        conn.send(("warm", *timed_warm_up(pipeline, spec)))
        while True:
            job = conn.recv()
            if job is None:
                return
            (name, layout), *rest = job
            conn.send(pipeline.run(*frames.get(name, layout), *rest).to_dict())
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return  # the parent went away or is shutting down


class PipelineProcess:
    """``run(...)`` like ``PerceptionPipeline.run``, executed in a child process."""

    def __init__(self, spec: PipelineSpec, timeout_s: float = 30.0,
                 start_timeout_s: float = 180.0) -> None:
        self.spec = spec
        self.timeout_s = timeout_s
        self.start_timeout_s = start_timeout_s
        self.referrer_name = spec.referrer
        self.load_error: str | None = None
        self.restarts = 0
        # the running child's timed_warm_up result; None until it has warmed up
        self.warm_up_report: tuple[bool, float, str] | None = None
        self._ctx = mp.get_context("spawn")
        self._lock = threading.Lock()
        self._proc = None
        self._conn = None
        self._frames = SharedFrames()
        try:
            self._start()
        except (RuntimeError, EOFError, OSError) as exc:  # keep serving: results say why
            self.load_error = f"inference process did not start: {exc}"
            log.error(self.load_error)

    @property
    def extrinsics(self) -> CameraToBase | None:
        return self.spec.extrinsics

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_child_main, args=(child, self.spec),
                                       name="perception-inference", daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            if not parent.poll(self.start_timeout_s):
                raise RuntimeError(f"no answer within {self.start_timeout_s:.0f} s")
            _, self.referrer_name, self.load_error = parent.recv()
        except (RuntimeError, EOFError, OSError):
            self._kill()
            raise
        self.warm_up_report = None

    def _await_warm_up(self) -> None:
        """Requests wait for the child's warm-up (model compilation can take a minute) instead
        of timing out on it; the lock is held by the caller."""
        if self.warm_up_report is not None:
            return
        if not self._conn.poll(self.start_timeout_s):
            raise RuntimeError(f"warm-up not finished within {self.start_timeout_s:.0f} s")
        _, *report = self._conn.recv()
        self.warm_up_report = tuple(report)

    def wait_warm_up(self) -> tuple[bool, float, str] | None:
        """Blocks until the child is warm (for logging at start-up); None if it failed."""
        with self._lock:
            try:
                if self._conn is not None:
                    self._await_warm_up()
            except (RuntimeError, EOFError, OSError) as exc:
                log.error("inference process: %s", exc)
                self._kill()
                return None
            return self.warm_up_report

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5.0)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def run(self, rgb, depth_m, intrinsics, instruction: str, request_id: str = "",
            stamp_ns: int = 0, camera_frame: str = "",
            extrinsics: CameraToBase | None = None) -> PerceptionResult:
        with self._lock:
            try:
                job = (self._frames.put(rgb, depth_m), intrinsics, instruction, request_id,
                       stamp_ns, camera_frame, extrinsics)
                if self._proc is None or not self._proc.is_alive():
                    log.warning("inference process not running (exit code %s); starting a "
                                "new one", self._proc.exitcode if self._proc else None)
                    self._kill()
                    self.restarts += 1
                    self._start()
                self._await_warm_up()
                t0 = time.monotonic()
                self._conn.send(job)
                if not self._conn.poll(self.timeout_s):
                    self._kill()
                    return self._error(request_id, instruction, stamp_ns, (
                        f"inference process gave no answer within {self.timeout_s:.0f} s; "
                        f"it was stopped and restarts on the next request"))
                data = self._conn.recv()
                log.debug("inference round trip %.1f ms", (time.monotonic() - t0) * 1e3)
                return PerceptionResult.from_dict(data)
            except (EOFError, OSError, RuntimeError) as exc:  # OSError: broken pipe, reset
                code = self._proc.exitcode if self._proc is not None else None
                self._kill()
                return self._error(request_id, instruction, stamp_ns, (
                    f"inference process failed ({type(exc).__name__}: {exc}; exit code "
                    f"{code}); it restarts on the next request"))

    def _error(self, request_id: str, instruction: str, stamp_ns: int,
               error: str) -> PerceptionResult:
        return PerceptionResult(request_id=request_id, instruction=str(instruction)[:512],
                                error=error, referrer=self.referrer_name,
                                stamp_ns=int(stamp_ns))

    def close(self, wait_s: float = 2.0) -> None:
        """Asks the child to stop; a request still running (it holds the lock for up to
        ``timeout_s``) is not waited for longer than ``wait_s``: its child is killed and the
        request gets an error result."""
        if not self._lock.acquire(timeout=wait_s):
            log.warning("closing while a request runs: stopping the inference process")
            proc = self._proc
            if proc is not None and proc.is_alive():
                proc.kill()  # the request's poll/recv then fails and it releases the lock
            self._lock.acquire()
        try:
            if self._conn is not None:
                with contextlib.suppress(BrokenPipeError, OSError):
                    self._conn.send(None)
            if self._proc is not None:
                self._proc.join(timeout=3.0)
            self._kill()
            self._frames.close()
        finally:
            self._lock.release()
