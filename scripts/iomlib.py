# SPDX-License-Identifier: MIT
"""What scripts/bench and scripts/compare-fio share: fio's like-for-like command line and its
JSON, the page cache's residency of a file (and keeping it there), the CPUs' busy time, runs.csv
rows, sizes and durations. One copy each, so the two never drift apart.

fio's like-for-like options (fio_command), each chosen to match what iomodels does:
  --thread         iomodels runs pthreads in one process; fio's default forks a process per job
                   (with pti=on every switch between processes also switches page tables).
  --norandommap    iomodels draws every offset independently (a hash of the task number); fio's
                   default random map also tracks which blocks were read. Same draw.
  --invalidate=0   fio's default drops the file's page cache at job start: "cached" would be cold.
  --ramp_time      the same unmeasured warm-up as iomodels: 10% of the runtime, at most 1 s.
  io_uring         iodepth_batch_submit=DEPTH iodepth_batch_complete_min=1
                   iodepth_batch_complete_max=DEPTH: iomodels queues every free slot and submits
                   them in one io_uring_enter that waits for at least one completion, then drains
                   every ready CQE. fio's default submit batch (1) costs an enter per I/O, and with
                   complete_min=1 alone it reaps ONE CQE per loop (measured: 283k IOPS instead of
                   464k, cached, depth 8, one CPU). registerfiles=1 always and fixedbufs=1 with
                   O_DIRECT, as iomodels registers; hipri=0 sqthread_poll=0 (fio's defaults,
                   explicit): no polling on either side.
  --lat_percentiles=1 --clat_percentiles=0   p50 from submission to completion, as iomodels
                   measures (fio's clat starts after the submitting enter returned).
"""
import csv
import ctypes
import json
import os
import re

PROT_READ, MAP_SHARED = 1, 1


def ramp_s(runtime_s):
    """iomodels' default warm-up: 10% of the window, at most 1 s."""
    return min(runtime_s / 10, 1.0)


def fio_command(file, fsize, runtime_s, engine, jobs=1, depth=1, direct=False, cpus=None,
                bs="4k", name="iomodels"):
    """fio reading FILE (random, BS blocks) the way an iomodels file cell does: engine psync
    (JOBS threads) or io_uring (JOBS rings of DEPTH each); CPUS a --cpus_allowed list or None."""
    cmd = ["fio", f"--name={name}", "--thread", "--group_reporting", "--output-format=json",
           "--time_based", f"--runtime={round(runtime_s * 1000)}ms",
           f"--ramp_time={round(ramp_s(runtime_s) * 1000)}ms", "--rw=randread", f"--bs={bs}",
           f"--size={fsize}", "--norandommap", "--lat_percentiles=1", "--clat_percentiles=0",
           "--filename=" + file.replace(":", "\\:"),  # fio splits --filename on ':'
           "--readonly", "--invalidate=0"]
    if direct:
        cmd.append("--direct=1")
    if engine == "psync":
        cmd += ["--ioengine=psync", f"--numjobs={jobs}"]
    elif engine == "io_uring":
        cmd += ["--ioengine=io_uring", f"--iodepth={depth}", f"--iodepth_batch_submit={depth}",
                "--iodepth_batch_complete_min=1", f"--iodepth_batch_complete_max={depth}",
                "--registerfiles=1", f"--fixedbufs={1 if direct else 0}", "--hipri=0",
                "--sqthread_poll=0", f"--numjobs={jobs}"]
    else:
        raise ValueError(f"unknown fio engine '{engine}'")
    if cpus is not None:
        cmd.append(f"--cpus_allowed={cpus}")
    return cmd


def parse_fio_json(text):
    """fio's --output-format=json (warnings may come first) -> ops_per_s, ios, cpu_ns_per_op,
    lat_p50_ns (None unless one job). CPU: sum over jobs of (usr+sys)/100 x job_runtime, fio's
    percentages being of job_runtime from the end of the ramp. ValueError when unusable."""
    try:
        jobs = json.loads(text[text.index("{"):])["jobs"]
        bad = [j["error"] for j in jobs if j.get("error")]
        if bad:
            raise ValueError(f"fio job error {bad[0]}")
        ios = sum(j["read"]["total_ios"] for j in jobs)
        cpu_s = sum((j["usr_cpu"] + j["sys_cpu"]) / 100.0 * j["job_runtime"] / 1000.0
                    for j in jobs)
        pct = jobs[0]["read"].get("lat_ns", {}).get("percentile", {})
        return dict(ops_per_s=sum(j["read"]["iops"] for j in jobs), ios=ios,
                    cpu_ns_per_op=cpu_s / ios * 1e9 if ios else None,
                    lat_p50_ns=pct.get("50.000000") if len(jobs) == 1 else None)
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f"unreadable fio output ({e!r})") from None


def busy_s(cpu=None):
    """user+nice+system seconds of one CPU (None: all) from /proc/stat; irq and softirq are
    left out, as a run's own I/O lands there."""
    tick = os.sysconf("SC_CLK_TCK")
    want = "cpu" if cpu is None else f"cpu{cpu}"
    with open("/proc/stat") as f:
        for line in f:
            v = line.split()
            if v[0] == want:
                return (int(v[1]) + int(v[2]) + int(v[3])) / tick
    return 0.0


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


def _map(libc, path):
    """(address, size) of FILE mapped read-only, or (None, size)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        addr = libc.mmap(None, size, PROT_READ, MAP_SHARED, fd, 0) if size else None
    finally:
        os.close(fd)
    return (None if addr in (None, ctypes.c_void_p(-1).value) else addr), size


def resident(path):
    """Fraction of the file's pages in the page cache (mmap + mincore; nothing is read); 0.0
    when it cannot be told."""
    libc = _libc()
    try:
        addr, size = _map(libc, path)
    except OSError:
        return 0.0
    if addr is None:
        return 0.0
    n = (size + os.sysconf("SC_PAGESIZE") - 1) // os.sysconf("SC_PAGESIZE")
    vec = (ctypes.c_ubyte * n)()
    ok = libc.mincore(addr, size, vec) == 0
    libc.munmap(addr, size)
    return sum(1 for b in bytes(vec) if b & 1) / n if ok else 0.0


def warm(path):
    """Read the file whole until (nearly) every page is cached: clean pages can leave the cache
    here with no memory pressure (proactive reclaim), which would make a "cached" cell cold."""
    buf = bytearray(1 << 20)
    for _ in range(3):
        if resident(path) >= 0.999:
            return
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass


class CacheLock:
    """The whole file mapped and mlocked (read in and kept) while it lives: locked pages are
    not reclaimed, clean page cache otherwise can be, even with no memory pressure (DAMON).
    .error says why not (e.g. RLIMIT_MEMLOCK); then callers fall back to warm() before runs."""

    def __init__(self, path):
        self.libc, self.addr, self.size, self.error = _libc(), None, 0, ""
        try:
            self.addr, self.size = _map(self.libc, path)
        except OSError as e:
            self.error = f"open: {e.strerror}"
            return
        if self.addr is None:
            self.error = f"mmap: {os.strerror(ctypes.get_errno())}"
        elif self.libc.mlock(self.addr, self.size) != 0:
            self.error = f"mlock: {os.strerror(ctypes.get_errno())}"
            self.close()

    def close(self):
        if self.addr is not None:
            self.libc.munmap(self.addr, self.size)  # unlocks too
            self.addr = None


def read_rows(path):
    """The rows of a CSV with a header (iomodels' runs.csv) as dicts; [] when it is missing."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return []


def size_bytes(text):
    """Like iomodels' --size: K, M, G are powers of 1024. ValueError when it is not a size."""
    m = re.fullmatch(r"(\d{1,15})([kKmMgG]?)(i?B)?", text)
    if not m:
        raise ValueError(f"want a size such as 256M or 1G (got '{text}')")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]


def seconds(text):
    """A duration: 0.5, 0.5s, 500ms, 500us. ValueError when it is not one."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|ms|us)?", text)
    if not m:
        raise ValueError(f"want a duration such as 0.5s or 500ms (got '{text}')")
    return float(m.group(1)) / {"s": 1, None: 1, "ms": 1e3, "us": 1e6}[m.group(2)]


def make_unique_dir(base):
    """base, or base-2, base-3 ... (iomodels run's rule): made atomically, so that runs started
    in the same second each get a directory of their own. OSError when all are taken."""
    os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
    for n in range(1, 10000):
        path = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise OSError(f"cannot make a directory {base}-N: all taken")
