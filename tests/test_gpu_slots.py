"""GPU choice per job: the least busy GPU, freed when the job's process ends."""

import subprocess
import sys
import textwrap

from snacs.engine import gpu_slots


def _claim_in_child(folder, count: int, hold: bool) -> subprocess.Popen:
    """A separate process that claims a GPU, prints it, and keeps running while ``hold``."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from snacs.engine.gpu_slots import claim_gpu
        print(claim_gpu({count}, Path({str(folder)!r})), flush=True)
        if {hold}:
            sys.stdin.read()
    """)
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_jobs_spread_over_gpus_and_ended_jobs_free_theirs(tmp_path):
    holders, chosen = [], []
    try:
        for _ in range(4):  # one after the other
            holders.append(_claim_in_child(tmp_path, 3, hold=True))
            chosen.append(int(holders[-1].stdout.readline()))
        assert chosen == [0, 1, 2, 0]  # the least busy, the lowest index among equals
        assert gpu_slots.busy_jobs(3, tmp_path) == [2, 1, 1]
        holders[1].stdin.close()  # the job on GPU 1 ends
        holders[1].wait(timeout=30)
        assert gpu_slots.busy_jobs(3, tmp_path) == [2, 0, 1]
        assert len(list(tmp_path.glob("gpu1-*.slot"))) == 0  # its file was cleaned up
        late = _claim_in_child(tmp_path, 3, hold=False)
        assert int(late.stdout.readline()) == 1
        late.wait(timeout=30)
    finally:
        for process in holders:
            if process.poll() is None:
                process.stdin.close()
                process.wait(timeout=30)
    assert gpu_slots.busy_jobs(3, tmp_path) == [0, 0, 0]


def test_a_process_claims_once(tmp_path, monkeypatch):
    monkeypatch.setattr(gpu_slots, "_HELD", {})
    first = gpu_slots.claim_gpu(2, tmp_path)
    assert gpu_slots.claim_gpu(2, tmp_path) == first
    assert gpu_slots.busy_jobs(2, tmp_path)[first] == 1


def test_auto_and_cuda_claim_a_gpu_on_a_multi_gpu_machine(tmp_path, monkeypatch):
    import torch

    from snacs.engine.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setenv(gpu_slots.LOCK_FOLDER_VARIABLE, str(tmp_path))
    monkeypatch.setattr(gpu_slots, "_HELD", {})
    other = _claim_in_child(tmp_path, 3, hold=True)  # another job already runs on GPU 0
    try:
        assert int(other.stdout.readline()) == 0
        assert resolve_device("auto") == torch.device("cuda", 1)
        assert resolve_device("cuda") == torch.device("cuda", 1)  # claimed once per process
        assert resolve_device("cuda:2") == torch.device("cuda", 2)  # as given, no claim
        assert gpu_slots.busy_jobs(3, tmp_path) == [1, 1, 0]
    finally:
        other.stdin.close()
        other.wait(timeout=30)
