"""machine_info.py: what the PyTorch benchmark scripts print about the host they ran on.

Shared by bench/pytorch_rnn.py and bench/pytorch_baseline.py; standard library only, so that
`pytorch_baseline.py --list-configs` still works without torch."""


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or "unknown CPU"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") or line.startswith("Model\t"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def loaded_openblas():
    """Path of the libopenblas this process has loaded (Debian's torch reaches it through libblas.so.3), or None."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "libopenblas" in path and path.startswith("/"):
                    return path
    except OSError:
        pass
    return None
