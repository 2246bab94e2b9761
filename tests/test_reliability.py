"""Reliability: the bad-input corpus, fault tests (SIGKILL, disk full) and security checks."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from luab_hf import synthetic
from luab_hf.byproducts import ByproductError, parse_imagenet_ab_xml
from luab_hf.convert import imagenet_ab
from tests.corpus import BILLION_LAUGHS, CASES, clean_releases, run_case

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def clean(tmp_path_factory) -> dict[str, Path]:
    return clean_releases(tmp_path_factory.mktemp("clean"))


def test_every_corpus_case_is_in_the_reliability_table():
    """RELIABILITY.md lists each case the corpus runs, by name, in order: a case added, renamed or
    dropped without rerunning the table fails here."""
    rows = re.findall(r"^\| (\d+) \| (.+?) \| ", (REPO / "RELIABILITY.md").read_text(), re.M)
    assert [name for _, name in rows] == [case.name for case in CASES]
    assert [int(number) for number, _ in rows] == list(range(1, len(CASES) + 1))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(case, clean, tmp_path):
    observed = run_case(case, clean, tmp_path)
    assert observed["lost"] == 0


def test_billion_laughs_does_not_blow_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ByproductError, match="DTD"):
        parse_imagenet_ab_xml(BILLION_LAUGHS.encode(), source="lol.xml")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


# --------------------------------------------------------------------------- fault tests


def _train_command(dataset: Path, output: Path, steps: int) -> list[str]:
    return [sys.executable, str(REPO / "training" / "train.py"), "--dataset_name", str(dataset), "--backbone", "vit-micro",
            "--image_size", "32", "--per_device_train_batch_size", "4", "--max_train_steps", str(steps),
            "--checkpointing_steps", "2", "--eval_splits", "", "--report_to", "none", "--output_dir", str(output),
            "--learning_rate", "1e-3"]


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    raw = synthetic.write_imagenet_ab(tmp_path_factory.mktemp("raw"), classes=2, images_per_class=12, seed=5,
                                      style=synthetic.Style(image_size=32))
    out = tmp_path_factory.mktemp("data") / "small"
    assert imagenet_ab.main(["--xml", str(raw), "--images", str(raw), "--label-set", "present", "--output", str(out)]) == 0
    return out


def test_sigkill_after_a_checkpoint_then_resume_gives_the_same_weights(small_dataset, tmp_path, capsys):
    """A run killed outright (maybe mid-save) resumes from its last complete checkpoint with
    ``latest`` and ends with an uninterrupted run's weights (those two run in this process)."""
    from luab_hf import trainer

    steps = 16
    assert trainer.main(_train_command(small_dataset, tmp_path / "whole", steps)[2:]) == 0
    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_command(small_dataset, killed, steps), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    first = killed / "checkpoints" / "step_00000002"
    deadline = time.time() + 240
    while not first.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert first.exists() and not (killed / "model.safetensors").exists(), "the run was not killed mid-way"
    leftovers = [p.name for p in (killed / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    capsys.readouterr()
    assert trainer.main([*_train_command(small_dataset, killed, steps)[2:], "--resume_from_checkpoint", "latest"]) == 0
    assert re.search(r"resumed from \S+step_000000(0[2-9]|1[0-4]) at step", capsys.readouterr().out)
    whole, again = load_file(tmp_path / "whole" / "model.safetensors"), load_file(killed / "model.safetensors")
    assert all(torch.equal(whole[k], again[k]) for k in whole), f"weights differ (staging left: {leftovers})"


def test_sigkill_during_conversion_leaves_nothing_and_a_rerun_succeeds(tmp_path):
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=4, images_per_class=150, seed=6,
                                      style=synthetic.Style(image_size=32))
    output = tmp_path / "out"
    command = [sys.executable, str(REPO / "dataset_scripts" / "imagenet_ab.py"), "--xml", str(raw), "--images", str(raw),
               "--label-set", "present", "--output", str(output), "--num-workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".out.tmp-*/data")) and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not output.exists(), "a killed conversion left an output folder"
    assert list(tmp_path.glob(".out.tmp-*")), "the conversion finished before it could be killed"
    assert imagenet_ab.main(command[2:]) == 0  # the same command again, in this process
    assert (output / "README.md").exists() and not list(tmp_path.glob(".out.tmp-*"))
    assert "train rows: 600" in (output / "README.md").read_text()


def test_disk_full_during_conversion_is_a_clear_error(imagenet_release, tmp_path):
    script = f"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # files above 20 kB fail: a full disk
from luab_hf.convert import imagenet_ab
sys.exit(imagenet_ab.main(["--xml", {str(imagenet_release)!r}, "--images", {str(imagenet_release)!r},
                           "--label-set", "present", "--output", {str(tmp_path / 'out')!r}, "--num-workers", "1"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "could not write the output" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))


def test_unwritable_output_location_is_a_clear_error(imagenet_release, small_dataset, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert imagenet_ab.main(["--xml", str(imagenet_release), "--output", str(blocker / "out"), "--label-set", "present"]) == 1
    assert "cannot write the output here" in capsys.readouterr().err
    from luab_hf import trainer as train

    code = train.main(["--dataset_name", str(small_dataset), "--backbone", "vit-micro", "--image_size", "32",
                       "--max_train_steps", "1", "--eval_splits", "", "--report_to", "none",
                       "--output_dir", str(blocker / "run")])
    assert code == 2 and "cannot write" in capsys.readouterr().err


# --------------------------------------------------------------------------- security


def _sources() -> list[Path]:
    return [p for folder in ("luab_hf", "training", "dataset_scripts", "bench") for p in (REPO / folder).rglob("*.py")]


def test_no_pickle_loading_anywhere():
    for path in _sources():
        text = path.read_text()
        assert not re.search(r"^\s*(import pickle|from pickle|import dill)", text, re.M), path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"


def test_remote_code_instructions_pin_a_revision():
    from luab_hf.cards import TrainingSummary, model_card

    card = str(model_card(TrainingSummary("org/m", "org/d", None, "vit-micro", 1.0, ["click"], 0, "cmd", {}, {})))
    for text in ((REPO / "README.md").read_text(), card):
        for match in re.finditer(r"trust_remote_code=True", text):
            assert "revision=" in text[match.start(): match.start() + 200], text[match.start() - 100: match.start() + 200]


def test_ctrl_c_and_sigterm_stop_a_two_worker_conversion_cleanly_every_time(tmp_path):
    """SIGINT to the whole process group (what Ctrl-C sends) or SIGTERM to the converter, in the
    stage pass and in the write pass of a 2-worker run: it exits promptly with status 130, leaving
    neither output nor staging nor claim; never a hang."""
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=4, images_per_class=200, seed=7,
                                      style=synthetic.Style(image_size=32))
    output = tmp_path / "out"
    command = [sys.executable, str(REPO / "dataset_scripts" / "imagenet_ab.py"), "--xml", str(raw), "--images", str(raw),
               "--label-set", "present", "--output", str(output), "--num-workers", "2", "--shard-size", "40"]
    phases = {"stage": ".out.tmp-*/.rows-train/*.arrow", "write": ".out.tmp-*/data/*/train-*.parquet"}
    interrupted = 0
    attempts = [("stage", signal.SIGINT), ("stage", signal.SIGTERM), ("write", signal.SIGINT)]
    for attempt, (phase, kill) in enumerate(attempts):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 120
        while not list(tmp_path.glob(phases[phase])) and process.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        if kill == signal.SIGINT:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise AssertionError(f"attempt {attempt}: the conversion hung after the signal") from None
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
        assert not leftovers, f"attempt {attempt}: left {leftovers}"
        if process.returncode in (0, -signal.SIGTERM, -signal.SIGINT) and output.exists():  # it came after the finish
            assert (output / "README.md").is_file()
            shutil.rmtree(output)
            continue
        assert process.returncode == 130, f"attempt {attempt}: exit {process.returncode}: {stderr.decode()[-2000:]}"
        assert b"interrupted" in stderr and b"Traceback" not in stderr, stderr.decode()[-2000:]
        assert not output.exists()
        interrupted += 1
    assert interrupted >= 2


def _big_result(index: int) -> bytes:
    return bytes(4 << 20)  # 4 MiB per chunk, as a chunk with joined images may be


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_the_pool_keeps_memory_flat_behind_a_slow_writer():
    """Workers far faster than the writer: the pool reads no more than its in-flight bound ahead,
    so the parent's memory stays flat (unbounded, 150 chunks of 4 MiB would pile up: 600 MiB)."""
    from luab_hf.convert.pool import IN_FLIGHT_PER_WORKER, parallel_map

    pulled = []

    def inputs():
        for index in range(150):
            pulled.append(index)
            yield index

    ahead, start, peak = [], _rss_mib(), 0.0
    for taken, result in enumerate(parallel_map(_big_result, inputs(), 2, None), start=1):
        assert len(result) == 4 << 20
        time.sleep(0.01)  # the slow writer
        ahead.append(len(pulled) - taken)
        peak = max(peak, _rss_mib())
    assert max(ahead) <= IN_FLIGHT_PER_WORKER * 2 + 1
    assert peak - start < 100, (start, peak)


def _worker_pid(index: int) -> int:
    time.sleep(0.02)  # long enough that both workers take tasks
    return os.getpid()


def test_a_split_s_two_passes_run_in_the_same_workers():
    """The write pass runs in the workers the stage pass forked (so they do not inherit what the
    main process gathered in between); a failing map stops the pool for good."""
    from luab_hf.convert.pool import worker_pool

    with worker_pool(2, None) as pool:
        stage = set(pool.map(_worker_pid, range(40)))
        write = set(pool.map(_worker_pid, range(40)))
    assert len(stage) == 2 and write <= stage and os.getpid() not in stage

    def failing():
        yield 1
        raise OSError("unexpected end of data")

    seen = []
    with pytest.raises(OSError, match="unexpected end"), worker_pool(2, None) as pool:
        seen.extend(pool.map(_worker_pid, failing()))
    assert len(seen) == 1
    time.sleep(0.5)
    assert not any(_alive(pid) for pid in stage | set(seen))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGABRT], ids=["SIGKILL", "SIGABRT"])
def test_a_worker_killed_mid_run_stops_the_conversion_with_a_clear_message(tmp_path, kill):
    """SIGKILL (as the OOM killer sends) or SIGABRT (a crash in native code) to one worker: the
    conversion stops, says so, and leaves nothing beside the output."""
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=4, images_per_class=150, seed=6)
    out = tmp_path / "out"
    code = ("import sys\nfrom luab_hf.convert import imagenet_ab\nfrom luab_hf.convert import imagenet_ab as m\n"
            "import time\n_chunk = m.convert_xml_chunk\n"
            "def slow(job, chunk):\n    time.sleep(0.3)\n    return _chunk(job, chunk)\n"
            "m.convert_xml_chunk = slow\nm.CHUNK = 8\n"
            f"sys.exit(imagenet_ab.main(['--xml', {str(raw / 'train_xml')!r}, '--output', {str(out)!r}, "
            "'--label-set', 'present', '--num-workers', '2']))\n")
    import psutil

    parent = psutil.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    deadline = time.monotonic() + 60
    while len(parent.children()) < 2:
        assert parent.poll() is None and time.monotonic() < deadline, parent.communicate()[1][-2000:]
        time.sleep(0.05)
    time.sleep(0.5)
    parent.children()[0].send_signal(kill)
    _, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 1, stderr[-2000:]
    assert "a worker process died" in stderr and "Traceback" not in stderr
    assert not out.exists() and not list(tmp_path.glob(".out*"))
