#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write iomodels(1) in roff on stdout, made from the binary's own help text.

    dist/man.py BIN

`BIN help` gives the synopsis (the usage lines), the run options ("  --opt ARG  text" lines
with indented continuations) and the exit codes; `BIN --version` the version. The page is
never edited by hand, so it cannot drift from the help.
"""
import datetime
import re
import subprocess
import sys


def roff(text):
    """Text safe for roff: backslashes, hyphens of options, a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def main(argv):
    if len(argv) != 2:
        print("usage: man.py BIN", file=sys.stderr)
        return 2
    run = lambda *a: subprocess.run([argv[1], *a], capture_output=True, text=True, check=True)
    help_text = run("help").stdout
    version = run("--version").stdout.splitlines()[0].split(" ", 1)[1]
    usage, rest = help_text.split("\n\n", 1)
    options, exits = rest.split("\nexit codes:\n", 1)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    out = ['.TH IOMODELS 1 "%s" "iomodels %s" "User Commands"' % (date, roff(version)),
           ".SH NAME", "iomodels \\- one workload through several I/O models, measured alike",
           ".SH SYNOPSIS", ".nf"]
    for line in usage.splitlines():
        out.append(roff(re.sub(r"^(usage: |       )", "", line)))
    out += [".fi", ".SH DESCRIPTION",
            "iomodels runs one workload (tasks, each submitted and later completed) through "
            "several I/O models (threads, epoll, io_uring, a user-space queue with workers) "
            "and reports throughput, latency and CPU per task for each. "
            "Every command takes \\fB\\-h\\fR or \\fB\\-\\-help\\fR.",
            ".SH OPTIONS"]
    head, *lines = options.splitlines()
    out.append(roff(head))
    for line in lines:
        m = re.match(r"^  (-\S+(?: [A-Z][^ ]*)?(?: \| -\S+ \S+)?)\s{2,}(.*)$", line)
        if m:
            out += [".TP", "\\fB%s\\fR" % roff(m.group(1)), roff(m.group(2))]
        elif line.strip():
            # A sub-item ("errno:E@P  what it does") starts a line of its own.
            if re.match(r"^\S+  \S", line.strip()):
                out.append(".br")
            out.append(roff(line.strip()))
    out.append(".SH EXIT STATUS")
    for line in exits.splitlines():
        m = re.match(r"^\s+(\d+)\s+(.*)$", line)
        if m:
            out += [".TP", "\\fB%s\\fR" % m.group(1), roff(m.group(2))]
    out += [".SH FILES", "results/<UTC>\\-<host>/runs.csv, run.json: each run's rows and metadata.",
            ".SH SEE ALSO", "fio(1), io_uring(7), epoll(7)"]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
