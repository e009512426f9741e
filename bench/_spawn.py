"""Runs one command and reports its own wall time and peak RSS (run with ``python -I -S``).

A child's ``ru_maxrss`` starts at the peak of the process it was spawned from (Linux
records the old address space's high-water mark at exec, even after vfork), so spawning
imcli straight from the benchmark would report the benchmark's ~20 MiB as a floor. This
small launcher is exec'd fresh, spawns the command, reaps it with wait4 and writes
``started wall maxrss_kib exit_code`` to the file named by argv[1]. The floor is then this
launcher's own size (a bare interpreter), which the benchmark measures and prints.
"""

import os
import sys
import time

result, argv = sys.argv[1], sys.argv[2:]
started = time.monotonic()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.monotonic() - started
with open(result, "w") as fh:
    fh.write(f"{started!r} {wall!r} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
