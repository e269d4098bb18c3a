# SPDX-License-Identifier: MIT
"""A running `iomodels serve`, seen from outside: start it, read its /proc, stop it.

Shared by scripts/bench (section server) and scripts/soak. The server models come from the
binary's own table (`serve --help`), so a model added there is benchmarked without an edit here.
"""
import os
import re
import signal
import subprocess
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def server_models(binary):
    """The names after "M is" in `serve --help`: "threads, epoll (default), uring or kernel_free"."""
    text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True).stdout
    m = re.search(r"M is\s+(.*?)(?:\n\s*\n|$)", text, re.S)
    if not m:
        return []
    names = re.sub(r"\(default\)|\s+or\s+|\s+", " ", m.group(1).replace(",", " ")).split()
    return [n for n in names if re.fullmatch(r"[a-z_]+", n)]


class Server:
    """`iomodels serve --model M ARGS` on 127.0.0.1, an ephemeral port; .error says why not."""

    def __init__(self, binary, model, args=(), cpus=None, timeout_s=5.0):
        self.dir = tempfile.mkdtemp(prefix="iom-serve-")
        self.port_file = os.path.join(self.dir, "port")
        self.stats_file = os.path.join(self.dir, "stats")
        self.err_file = os.path.join(self.dir, "stderr")
        cmd = [binary, "serve", "--model", model, "--listen", "127.0.0.1:0", "--quiet",
               "--port-file", self.port_file, "--stats-file", self.stats_file, *args]
        if cpus is not None:
            cmd += ["--cpus", str(cpus)]
        self.cmd, self.port, self.error, self.stats = cmd, None, "", {}
        with open(self.err_file, "w") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                         stdin=subprocess.DEVNULL)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.proc.poll() is None:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    self.port = int(f.read().strip() or 0) or None
                if self.port:
                    return
            time.sleep(0.02)
        self.stop()
        self.error = self.stderr_line() or f"no port within {timeout_s:.0f} s"

    @property
    def pid(self):
        return self.proc.pid

    @property
    def addr(self):
        return f"127.0.0.1:{self.port}"

    def stderr_line(self):
        try:
            with open(self.err_file) as f:
                lines = [x.strip() for x in f if x.strip()]
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def sample(self):
        """RSS (bytes), threads, open fds and CPU (s, user+sys) now; {} when it is gone."""
        return proc_sample(self.pid)

    def stop(self, timeout_s=10.0):
        """SIGTERM, wait, read --stats-file; the exit code (None: had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        try:
            with open(self.stats_file) as f:
                pairs = [line.strip().split("=", 1) for line in f if "=" in line]
            # Counts, and the model's variant (what it was granted) as text.
            self.stats = {k: v if k == "variant" else int(v) for k, v in pairs}
        except (OSError, ValueError):
            pass
        return self.proc.returncode

    def cleanup(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)


def proc_sample(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # Fields after the command (which may hold spaces): utime, stime are 14, 15.
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/statm") as f:
            rss_pages = int(f.read().split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, IndexError, ValueError):
        return {}
    return dict(rss_bytes=rss_pages * PAGE, threads=int(fields[17]), fds=fds,
                cpu_s=(int(fields[11]) + int(fields[12])) / CLK_TCK)
