"""Issue 21: hostile inputs on sweeps, the sweep store, `cimsim report` and their flags. Every case ends in
exit 0 with sane output or in one line and exit 2; no command writes, overwrites or deletes anything outside
the output it was given or created; the sweep lock cannot be held twice."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import sys
import threading
import warnings
from pathlib import Path

import pytest
import yaml

from cimsim.cli import main
from cimsim.dse import load, run_sweep
from cimsim.dse.points import load_sweep
from cimsim.dse.store import DB_NAME, LOCK_NAME, Lock
from cimsim.errors import ConfigError

from .helpers import cli, one_line_exit_2

ROOT = Path(__file__).resolve().parent.parent
ARCH = ROOT / "arch_configs" / "spindrop.yaml"
MLP = ROOT / "workloads" / "digits_mlp.yaml"


def write(tmp: Path, name: str = "t", **spec) -> Path:
    doc = {"name": name, "arch": str(ARCH), "workload": str(MLP), "timing_inputs": 2, **spec}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


AXES = [{"path": "crossbar.rows_active", "values": [4, 8]}, {"path": "mc_passes", "values": [5, 10]}]




def snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every entry below ``directory``: (mtime_ns, sha256 or link target)."""
    out = {}
    for root, dirs, files in os.walk(directory):
        for name in files + dirs:
            p = Path(root) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p)] = (st.st_mtime_ns, os.readlink(p))
            elif p.is_file():
                out[str(p)] = (st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[str(p)] = (st.st_mtime_ns, "dir")
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile_sweep")
    run_sweep(write(tmp, axes=AXES, constraints=["area_m2 <= 1"]), tmp / "out", workers=1)
    return tmp / "out"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hostile_run") / "run"
    main(["run", "--hardware-only", "--timing-inputs", "2", "--out", str(out)])
    return out


# ============================================================================ writes only what it owns
def test_report_refuses_a_symlinked_report_folder(sweep_dir, tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    d = tmp_path / "sweep"
    d.mkdir()
    (d / DB_NAME).write_bytes((sweep_dir / DB_NAME).read_bytes())
    (d / "report").symlink_to(victim, target_is_directory=True)
    before = snapshot(victim)
    one_line_exit_2(capsys, "report", str(d), needles=("symbolic link",))
    assert snapshot(victim) == before and sorted(p.name for p in victim.iterdir()) == ["keep.txt"]


def test_report_never_writes_through_a_planted_file_link(sweep_dir, tmp_path, capsys):
    out = tmp_path / "rep"
    code, _, err = cli(capsys, "report", str(sweep_dir), "--out", str(out))
    assert code == 0, err
    assert (out / "manifest.json").is_file()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / "results.csv").unlink()
    (out / "results.csv").symlink_to(victim)  # a hostile link where the report writes a file it owns
    code, _, err = cli(capsys, "report", str(sweep_dir), "--out", str(out))
    assert code == 0, err
    assert victim.read_text() == "precious"
    assert not (out / "results.csv").is_symlink() and (out / "results.csv").read_text().startswith("key")


def test_report_refuses_to_overwrite_user_files(sweep_dir, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.csv").write_text("my data")
    (out / "figures").mkdir()
    (out / "figures" / "pareto.png").write_text("my figure")
    before = snapshot(out)
    one_line_exit_2(capsys, "report", str(sweep_dir), "--out", str(out), needles=("did not write",))
    assert snapshot(out) == before


def test_report_in_a_run_dir_does_not_block_the_next_run(run_dir, capsys):
    code, _, err = cli(capsys, "report", str(run_dir))
    assert code == 0, err
    assert (run_dir / "report" / "manifest.json").is_file()
    code, _, err = cli(capsys, "run", "--hardware-only", "--timing-inputs", "2", "--out", str(run_dir))
    assert code == 0, err
    assert not (run_dir / "report").exists()  # the old run's report went with the old run
    from cimsim.atomic_io import verify_output_dir

    verify_output_dir(run_dir)


def test_run_out_never_deletes_a_folder_it_does_not_own(tmp_path, capsys):
    out = tmp_path / "old"
    out.mkdir()
    for name in ("result.json", "report.txt", "layers.csv"):  # names cimsim used to write, no manifest
        (out / name).write_text("user data")
    before = snapshot(out)
    one_line_exit_2(capsys, "run", "--hardware-only", "--timing-inputs", "2", "--out", str(out), needles=("did not write",))
    assert snapshot(out) == before


@pytest.mark.parametrize("name", ["..", ".", "..."])
def test_sweep_name_of_dots_is_refused(tmp_path, capsys, name):
    spec = write(tmp_path, name="s", axes=AXES[:1])
    doc = yaml.safe_load(spec.read_text())
    doc["name"] = name
    spec.write_text(yaml.safe_dump(doc))
    one_line_exit_2(capsys, "sweep", str(spec), needles=("name", "dots"))


def test_status_and_report_only_read_the_sweep_dir(sweep_dir, tmp_path, capsys):
    d = tmp_path / "copy"
    d.mkdir()
    (d / DB_NAME).write_bytes((sweep_dir / DB_NAME).read_bytes())
    before = snapshot(d)
    code, out, err = cli(capsys, "sweep", str(d), "--status")
    assert code == 0, err
    assert "4 planned, 4 done, 0 failed, 0 pending, 4 feasible" in out
    code, _, err = cli(capsys, "report", str(d), "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert snapshot(d) == before  # no -wal/-shm, no table, no journal-mode switch, no report folder


def test_status_leaves_a_non_wal_store_as_it_is(sweep_dir, tmp_path, capsys):
    d = tmp_path / "plain"
    d.mkdir()
    src = sqlite3.connect(sweep_dir / DB_NAME)
    dst = sqlite3.connect(d / DB_NAME)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    code, _, err = cli(capsys, "sweep", str(d), "--status")
    assert code == 0, err
    assert sorted(p.name for p in d.iterdir()) == [DB_NAME]
    with sqlite3.connect(d / DB_NAME) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.mark.skipif(sys.platform != "linux", reason="Linux permissions / mount namespaces")
def test_status_and_report_work_on_a_read_only_directory(sweep_dir, tmp_path):
    """The sweep directory is read-only: by permissions for a normal user; for root (who ignores them) by a
    read-only bind mount in a private mount namespace (``unshare -m``)."""
    import shlex
    import shutil
    import subprocess

    d = tmp_path / "ro"
    d.mkdir()
    (d / DB_NAME).write_bytes((sweep_dir / DB_NAME).read_bytes())
    out = tmp_path / "w"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmds = [[sys.executable, "-m", "cimsim", "sweep", str(d), "--status"],
            [sys.executable, "-m", "cimsim", "report", str(d), "--out", str(out / "rep")],
            [sys.executable, "-m", "cimsim", "report", str(d)]]  # DIR/report in a read-only DIR: exit 2
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("no unshare")
        script = f"mount --bind {shlex.quote(str(d))} {shlex.quote(str(d))} && " \
                 f"mount -o remount,ro,bind {shlex.quote(str(d))} && touch {shlex.quote(str(d))}/probe 2>/dev/null " \
                 "&& exit 99; " + "; ".join(shlex.join(c) + "; echo \"rc=$?\"" for c in cmds)
        r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                           timeout=600)
        if r.returncode == 99 or "rc=" not in r.stdout:
            pytest.skip(f"cannot make a read-only mount here: {r.stderr.strip()[:200]}")
        codes = [int(x) for x in __import__("re").findall(r"rc=(\d+)", r.stdout)]
        errs = r.stderr
    else:
        os.chmod(d / DB_NAME, 0o444)
        os.chmod(d, 0o555)
        try:
            runs = [subprocess.run(c, env=env, capture_output=True, text=True, timeout=300) for c in cmds]
        finally:
            os.chmod(d, 0o755)
        codes = [x.returncode for x in runs]
        errs = "".join(x.stderr for x in runs)
    assert codes == [0, 0, 2], errs
    assert "internal error" not in errs and "Traceback" not in errs
    assert sorted(p.name for p in d.iterdir()) == [DB_NAME]
    assert (out / "rep" / "results.csv").is_file()


# ================================================================================== the lock, race-free
def _dead_pid() -> int:
    import subprocess

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_two_takers_of_a_dead_owners_lock_never_both_win(tmp_path):
    """Both threads open the stale lock of the same dead pid, then pause (the injected delay) before locking:
    exactly one takes it over, the other is refused."""
    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": os.uname().nodename}))
    barrier = threading.Barrier(2, timeout=10)

    def pause(stage: str) -> None:
        if stage == "opened":
            barrier.wait()  # both have the same stale file open, have read nothing yet, and go on together

    results: list[object] = [None, None]
    locks = [Lock(tmp_path, pause=pause), Lock(tmp_path, pause=pause)]

    def take(i: int) -> None:
        try:
            results[i] = locks[i].acquire() or "taken"
        except ConfigError as exc:
            results[i] = exc

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    won = [r for r in results if isinstance(r, str)]
    lost = [r for r in results if isinstance(r, ConfigError)]
    assert len(won) == 1 and len(lost) == 1, results
    assert "stale" in won[0]
    assert "another sweep is writing" in str(lost[0])
    for lk in locks:
        lk.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_taker_that_locked_a_released_file_retries_on_the_new_one(tmp_path):
    """A opens the lock file, B takes and releases (unlinks) it, C takes a new file: A, resuming after its
    delay, must not believe it holds the old, unlinked file while C holds the new one."""
    (tmp_path / LOCK_NAME).write_text("{}")
    gate, go = threading.Event(), threading.Event()

    def pause(stage: str) -> None:
        if stage == "opened" and not gate.is_set():
            gate.set()
            go.wait(10)

    a = Lock(tmp_path, pause=pause)
    result: list[object] = []
    t = threading.Thread(target=lambda: result.append(_try(a)))
    t.start()
    gate.wait(10)
    b = Lock(tmp_path)
    b.acquire()
    b.release()  # unlinks the file A has open
    c = Lock(tmp_path)
    c.acquire()  # a new file at the same path
    go.set()
    t.join(20)
    assert isinstance(result[0], ConfigError), result  # A retried on C's file and was refused
    assert c.held and (tmp_path / LOCK_NAME).is_file()
    c.release()


def _try(lock: Lock) -> object:
    try:
        return lock.acquire() or "taken"
    except ConfigError as exc:
        return exc


def test_release_only_unlinks_its_own_lock(tmp_path):
    a = Lock(tmp_path)
    a.acquire()
    (tmp_path / LOCK_NAME).unlink()  # someone removed it by hand
    b = Lock(tmp_path)
    b.acquire()
    a.release()
    assert (tmp_path / LOCK_NAME).is_file() and b.held  # B's lock survives A's release
    b.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_two_processes_taking_over_the_same_stale_lock(tmp_path):
    """Two processes read the same dead owner, wait 0.5 s (injected), then try: one wins."""
    import subprocess

    (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": os.uname().nodename}))
    code = ("import sys, time\nfrom pathlib import Path\nfrom cimsim.dse.store import Lock\nfrom cimsim.errors "
            "import ConfigError\nlk = Lock(Path(sys.argv[1]), pause=lambda s: time.sleep(0.5) if s == 'opened' "
            "else None)\ntry:\n    lk.acquire()\n    print('won', flush=True)\n    time.sleep(1.5)\n"
            "except ConfigError:\n    print('refused', flush=True)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outs == ["refused", "won"]


@pytest.mark.parametrize("content", [json.dumps({"pid": 2**40, "host": "x"}), "[1, 2, 3]", "\x00\xff garbage",
                                     "", json.dumps({"pid": True}), "9" * 5000])
def test_malformed_lock_files_are_taken_over(tmp_path, content):
    (tmp_path / LOCK_NAME).write_text(content, errors="surrogateescape") if "\xff" not in content else \
        (tmp_path / LOCK_NAME).write_bytes(b"\x00\xff garbage")
    lk = Lock(tmp_path)
    lk.acquire()  # nobody holds the flock: free, whatever the file says
    other = Lock(tmp_path)
    with pytest.raises(ConfigError, match=rf"pid {os.getpid()}"):
        other.acquire()
    lk.release()


def test_a_symlinked_lock_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("x")
    d = tmp_path / "d"
    d.mkdir()
    (d / LOCK_NAME).symlink_to(target)
    with pytest.raises(ConfigError, match="symbolic link"):
        Lock(d).acquire()
    assert target.read_text() == "x"


# ============================================================================ store files: one line, exit 2
def _store_copy(sweep_dir: Path, tmp: Path, sql: str | None = None, data: bytes | None = None) -> Path:
    d = tmp / "s"
    d.mkdir()
    if data is not None:
        (d / DB_NAME).write_bytes(data)
        return d
    src = sqlite3.connect(sweep_dir / DB_NAME)
    dst = sqlite3.connect(d / DB_NAME)
    src.backup(dst)
    src.close()
    if sql:
        dst.execute(sql)
        dst.commit()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.close()
    return d


BAD_STORES = {
    "truncated": lambda b: b[: len(b) // 3],
    "garbage": lambda b: b"not a database at all " * 100,
    "empty": lambda b: b"",
    "header only": lambda b: b[:100],
}


@pytest.mark.parametrize("kind", sorted(BAD_STORES))
def test_damaged_store_is_one_line(sweep_dir, tmp_path, capsys, kind):
    d = _store_copy(sweep_dir, tmp_path, data=BAD_STORES[kind]((sweep_dir / DB_NAME).read_bytes()))
    for args in (["sweep", str(d), "--status"], ["report", str(d), "--out", str(tmp_path / "r")]):
        one_line_exit_2(capsys, *args, needles=(DB_NAME,))


@pytest.mark.parametrize("sql, needle", [
    ("UPDATE meta SET v = '" + "9" * 4300 + "' WHERE k = 'planned'", "meta.planned"),
    ("UPDATE meta SET v = '[1' WHERE k = 'spec'", "meta.spec"),
    ("UPDATE meta SET v = '5' WHERE k = 'axes'", "meta.axes"),
    ("UPDATE points SET axes = '[1, 2]'", "points.axes"),
    ("UPDATE points SET result = '{\"a\": ' || '[' || '1]'", "points.result"),
    ("DROP TABLE planned", "planned"),
])
def test_malformed_store_values_are_one_line(sweep_dir, tmp_path, capsys, sql, needle):
    d = _store_copy(sweep_dir, tmp_path, sql)
    one_line_exit_2(capsys, "report", str(d), "--out", str(tmp_path / "r"), needles=(needle,))


def test_huge_integers_in_results_do_not_break_the_report(sweep_dir, tmp_path, capsys):
    """A result value beyond int64 (e.g. a seed ≥ 2**63 from a hand-edited store) is not Parquet's: the report
    writes the CSV and says why the Parquet file is missing."""
    d = _store_copy(sweep_dir, tmp_path, "UPDATE points SET result = json_set(result, '$.seed', "
                                         "CAST('18446744073709551616' AS REAL))")
    with sqlite3.connect(d / DB_NAME) as c:
        rows = c.execute("SELECT key, result FROM points").fetchall()
        for key, res in rows:
            doc = json.loads(res)
            c.execute("UPDATE points SET result = ? WHERE key = ?",
                      (json.dumps(doc).replace('"seed": 1.8446744073709552e+19', f'"seed": {2**64}'), key))
    code, _, err = cli(capsys, "report", str(d), "--out", str(tmp_path / "r"))
    assert code == 0, err
    assert (tmp_path / "r" / "results.csv").is_file()


# ================================================================================ sweep spec values
SPEC_CASES = [
    ({"axes": [{"path": "crossbar.rows_active", "linear": {"start": float("nan"), "stop": 8, "num": 3,
                                                             "integer": True}}]}, "axes"),
    ({"axes": [{"path": "crossbar.rows_active", "log": {"start": 1, "stop": float("inf"), "num": 3,
                                                          "integer": True}}]}, "axes"),
    ({"search": "optuna", "samples": 4, "seed": 2**32, "objectives": ["min latency_s"], "axes": AXES}, "seed"),
    ({"seed": 2**63, "axes": AXES}, "seed"),
    ({"constraints": ["area_m2 <= nan"], "axes": AXES}, "constraints"),
    ({"constraints": ["area_m2 <= inf"], "axes": AXES}, "constraints"),
    ({"search": "random", "samples": 10**7, "axes": AXES}, "samples"),
    # 10^12 points of individually valid values: refused with the count before a single point is built
    ({"axes": [{"path": "mc_passes", "label": f"p{i}", "values": list(range(1, 11))} for i in range(12)]},
     "1,000,000,000,000 points"),
]


@pytest.mark.parametrize("spec, needle", SPEC_CASES)
def test_bad_sweep_values_are_one_line(tmp_path, capsys, spec, needle):
    path = write(tmp_path, **spec)
    one_line_exit_2(capsys, "sweep", str(path), "--workers", "1", "--out", str(tmp_path / "o"), needles=(needle,))
    assert not (tmp_path / "o").exists()


def test_random_search_over_a_grid_beyond_int64(tmp_path):
    """64 two-valued axes: 2**64 points. The sample is drawn per axis, distinct, and a prefix-stable sequence."""
    axes = [{"path": "mc_passes", "label": f"p{i}", "values": [5, 6]} for i in range(64)]
    a = load_sweep(write(tmp_path, search="random", samples=5, seed=3, axes=axes))
    assert a.grid_size == 2**64
    pts = a.points()
    assert len({p.index for p in pts}) == 5 and all(0 <= p.index < 2**64 for p in pts)
    b = load_sweep(write(tmp_path, name="u", search="random", samples=9, seed=3, axes=axes))
    assert [p.index for p in b.points()[:5]] == [p.index for p in pts]


@pytest.mark.parametrize("scheduler", ["", "not-a-url", "ucx://127.0.0.1:8786", "tcp://", "tcp://h:1/x"])
def test_bad_scheduler_is_one_line(tmp_path, capsys, scheduler):
    one_line_exit_2(capsys, "sweep", str(write(tmp_path, axes=AXES)), "--scheduler", scheduler, needles=("--scheduler",))


@pytest.mark.parametrize("cmd", ["run", "sweep", "report"])
def test_nul_byte_in_out_is_one_line(tmp_path, capsys, cmd, run_dir):
    args = {"run": ["run", "--hardware-only", "--timing-inputs", "2"], "sweep": ["sweep", str(write(tmp_path, axes=AXES))],
            "report": ["report", str(run_dir)]}[cmd]
    one_line_exit_2(capsys, *args, "--out", str(tmp_path / "a\x00b"), needles=("--out",))


def test_optuna_missing_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    path = write(tmp_path, search="optuna", samples=4, objectives=["min latency_s"], axes=AXES)
    one_line_exit_2(capsys, "sweep", str(path), "--workers", "1", "--out", str(tmp_path / "o"), needles=("cimsim[dse]",))
    assert not (tmp_path / "o").exists()


def test_matplotlib_missing_names_the_extra(run_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    one_line_exit_2(capsys, "report", str(run_dir), needles=("cimsim[report]",))


def test_warnings_before_an_error_are_not_printed(tmp_path, capsys, monkeypatch):
    import cimsim.dse.runner as runner

    def noisy(*a, **k):
        warnings.warn("divide by zero encountered", RuntimeWarning, stacklevel=1)
        raise ConfigError("the real problem", file="x.yaml")

    monkeypatch.setattr(runner, "run_sweep", noisy)
    line = one_line_exit_2(capsys, "sweep", str(write(tmp_path, axes=AXES)), needles=("the real problem",))
    assert "RuntimeWarning" not in line


# ========================================================================== run folders given to report
@pytest.mark.parametrize("name, content, needle", [
    ("result.json", "{not json", "result.json"),
    ("result.json", "[1, 2]", "result.json"),
    ("result.json", '{"latency_s": "fast"}', "latency_s"),
    ("result.json", "9" * 5000, "result.json"),
    ("layers.csv", "a,b\n1,2\n", "layers.csv"),
    ("layers.csv", "layer,energy_per_inference_j\nfc1,lots\n", "layers.csv"),
    ("layers.csv", "\x00\x01\x02", "layers.csv"),
])
def test_malformed_run_folder_is_one_line(run_dir, tmp_path, capsys, name, content, needle):
    d = tmp_path / "run"
    d.mkdir()
    for f in ("result.json", "layers.csv"):
        (d / f).write_bytes((run_dir / f).read_bytes())
    (d / name).write_text(content)
    one_line_exit_2(capsys, "report", str(d), needles=(needle,))
    assert not (d / "report").exists()


# ======================================================================================== nonsense
def test_k_sigma_nan_is_refused(capsys):
    one_line_exit_2(capsys, "faults", "test", "--k-sigma", "nan", needles=("--k-sigma",))


@pytest.mark.parametrize("flag, value", [("--temperature", "nan"), ("--pulse", "inf"), ("--current-ratio", "nan")])
def test_mtj_non_finite_flags_are_refused(capsys, flag, value):
    one_line_exit_2(capsys, "mtj", flag, value, needles=(flag,))


def _strict(text: str):
    def no(c):
        raise AssertionError(f"non-JSON constant {c}")

    return json.loads(text, parse_constant=no)


def test_lifetime_at_a_tiny_rate_writes_strict_json(tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, err = cli(capsys, "run", "--hardware-only", "--timing-inputs", "2", "--format", "json",
                            "--set", "faults.lifetime.inference_rate_per_s=1e-300", "--out", str(out))
    assert code == 0, err
    for text in (stdout, (out / "result.json").read_text()):
        lt = _strict(text)["lifetime"]
        assert lt["lifetime_s"] is None and "null" in lt["note"]
    code, stdout, err = cli(capsys, "run", "--hardware-only", "--timing-inputs", "2",
                            "--set", "faults.lifetime.inference_rate_per_s=1e-300")
    assert code == 0 and "never" in stdout


def test_lifetime_lines_are_in_time_order():
    from cimsim.report.text import lifetime_lines

    lt = {"writes_per_module_per_inference": 1.0, "resets_per_module_per_inference": 1.0,
          "writes_per_module_per_s": 1.0, "inference_rate_per_s": 1.0, "rate_source": "throughput",
          "endurance_cycles": 1e12, "weibull_shape": 1.0, "counted": "writes", "modules": 1, "regenerate": "per_pass",
          "granularity": "row", "failed_fraction": 0.01,
          "lifetime_s": 6.9e11, "lifetime_fraction_s": 1.0e10, "module_characteristic_life_s": 1e12}
    lines = lifetime_lines(lt)[2:]
    assert "0.01 of the modules failed" in lines[0] and "first module failure" in lines[1]


# ========================================================================================= rough edges
def test_random_search_extends_its_sample(tmp_path, capsys):
    axes = [{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]}, {"path": "mc_passes", "values": [5, 10, 20]}]
    out = tmp_path / "o"
    first = [p.index for p in load_sweep(write(tmp_path, search="random", samples=4, seed=1, axes=axes)).points()]
    run_sweep(write(tmp_path, search="random", samples=4, seed=1, axes=axes), out, workers=1)
    more = load_sweep(write(tmp_path, search="random", samples=6, seed=1, axes=axes)).points()
    assert [p.index for p in more[:4]] == first
    s = run_sweep(write(tmp_path, search="random", samples=6, seed=1, axes=axes), out, workers=1)
    assert (s.computed, s.reused, s.status.planned, s.status.done, s.status.stored) == (2, 4, 6, 6, 6)
    code, text, _ = cli(capsys, "sweep", str(out), "--status")
    assert text.strip() == "t: 6 planned, 6 done, 0 failed, 0 pending"
    run_sweep(write(tmp_path, search="random", samples=3, seed=1, axes=axes), out, workers=1)
    code, text, _ = cli(capsys, "sweep", str(out), "--status")
    assert "3 planned, 3 done" in text and "3 more stored from an earlier plan" in text


def test_optuna_status_names_trials_and_distinct_points():
    from cimsim.cli.sweep import status_text
    from cimsim.dse.store import Status

    st = Status(name="o", planned=96, done=90, failed=6, distinct=61, stored=61)
    assert status_text(st, "optuna") == "o: 96 trials (61 distinct points), 90 done, 6 failed, 0 pending"


def test_infeasible_sweep_says_so_and_reports_the_nearest(tmp_path, capsys):
    axes = [{"path": "crossbar.rows_active", "values": [1, 4, 32]}, {"path": "mc_passes", "values": [5, 10]}]
    spec = write(tmp_path, axes=axes, constraints=["area_m2 <= 1e-12"], color_by="crossbar.rows_active")
    code, out, err = cli(capsys, "sweep", str(spec), "--workers", "1", "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "0 feasible" in out and "no finished point meets the constraints" in err
    code, out, err = cli(capsys, "report", str(tmp_path / "o"), "--html", "--color-by", "crossbar.rows_active")
    assert code == 0, err
    assert "0 feasible" in err and "No artists" not in err and "Warning" not in err
    page = (tmp_path / "o" / "report" / "report.html").read_text()
    assert "Nearest points" in page


def test_sweep_without_a_terminal_prints_progress_lines(tmp_path, capsys):
    code, _, err = cli(capsys, "sweep", str(write(tmp_path, axes=AXES)), "--workers", "1", "--out", str(tmp_path / "o"))
    assert code == 0
    lines = [ln for ln in err.splitlines() if ln.startswith("sweep: ")]
    assert lines and lines[-1].startswith("sweep: 4/4 points (0 failed)")


def test_each_point_is_committed_on_its_own(tmp_path):
    """Every executor sends one point per task, so the store gains one committed row per finished point."""
    from cimsim.dse.runner import _Executor, _InProcess, _LocalPool

    assert _Executor.batch_max == _LocalPool.batch_max == 1
    ex = _InProcess()
    assert [len(c) for c in ex.chunks(list(range(7)))] == [1] * 7
    seen: list[int] = []
    run_sweep(write(tmp_path, axes=AXES), tmp_path / "o", workers=1,
              progress=lambda done, failed, total: seen.append(done))
    assert seen == [0, 1, 2, 3, 4]


def test_limit_with_hardware_only_is_refused(capsys):
    one_line_exit_2(capsys, "run", "--hardware-only", "--limit", "3", needles=("--limit",))


def test_chip_tiles_error_suggests_auto(capsys):
    one_line_exit_2(capsys, "run", "--hardware-only", "--set", "chip.tiles=1", needles=("chip.tiles=auto",))


def test_mtj_prints_micro_amps(capsys):
    code, out, _ = cli(capsys, "mtj", "--current-ratio", "1.0")
    assert code == 0 and "µA" in out and "uA" not in out


def test_sweep_report_figures_are_readable(sweep_dir, tmp_path):
    """Zipped axes share one sensitivity panel; front bars are labelled by settings; objective labels are words."""
    from cimsim.report.html import write_report

    rep, out = write_report(sweep_dir, tmp_path / "r", html=True)
    assert (out / "report.html").is_file() and all(f.files["svg"].is_file() for f in rep.figures)
    svg = (out / "figures" / "pareto.svg").read_text()
    assert "energy per inference" in svg and "energy_per_inference_j" not in svg


def test_zipped_axes_are_one_sensitivity_panel():
    import pandas as pd

    from cimsim.report import plots
    from cimsim.spec.sweep import Objective

    df = pd.DataFrame({"a": [1, 2, 1, 2], "b": ["x", "y", "x", "y"], "c": [1, 1, 2, 2], "latency_s": [1e-6, 2e-6, 3e-6, 4e-6]})
    fig = plots.sensitivity(df, [["a", "b"], ["c"]], [Objective("latency_s", "min")])
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xlabel() == "a / b"
    rows = pd.DataFrame({"index": [3], "crossbar.rows_active": [16], "column_periphery.bits": [None]})
    assert plots.setting_labels(rows, ["crossbar.rows_active", "column_periphery.bits"]) == ["rows_active=16, bits=null"]


def _group(pgid: int) -> set[int]:
    """Live processes of process group ``pgid`` other than its leader (Linux /proc)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == pgid:
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.add(int(d))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_die_with_a_killed_sweep(tmp_path):
    """kill -9 of `cimsim sweep --workers 2` leaves no forkserver, resource tracker or worker behind."""
    import signal
    import subprocess
    import time

    spec = write(tmp_path, axes=[{"path": "crossbar.rows_active", "values": [4, 8, 16, 32]},
                                 {"path": "mc_passes", "values": [3, 4, 5, 6, 7, 8]}], timing="engine",
                 timing_inputs=48)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "cimsim", "sweep", str(spec), "--workers", "2", "--out",
                             str(tmp_path / "o")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(_group(proc.pid)) < 3:
            time.sleep(0.2)
        assert proc.poll() is None and len(_group(proc.pid)) >= 3, "no pool to kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _group(proc.pid):
            time.sleep(0.2)
        assert not _group(proc.pid), "processes outlived the killed sweep"
    finally:
        for pid in _group(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("data", [b"garbage " * 50, b""])
def test_sweep_into_a_folder_with_a_damaged_store_is_one_line(tmp_path, capsys, data):
    out = tmp_path / "o"
    out.mkdir()
    (out / DB_NAME).write_bytes(data)
    if data:
        one_line_exit_2(capsys, "sweep", str(write(tmp_path, axes=AXES)), "--workers", "1", "--out", str(out),
               needles=(DB_NAME,))
        assert (out / DB_NAME).read_bytes() == data
    else:  # an empty file is a new SQLite database: the sweep fills it
        code, _, err = cli(capsys, "sweep", str(write(tmp_path, axes=AXES)), "--workers", "1", "--out", str(out))
        assert code == 0, err


def test_a_store_path_that_cannot_be_opened_is_one_line(tmp_path, capsys):
    out = tmp_path / "o"
    (out / DB_NAME).mkdir(parents=True)  # sqlite cannot open a folder as its database
    one_line_exit_2(capsys, "sweep", str(write(tmp_path, axes=AXES)), "--workers", "1", "--out", str(out),
           needles=(DB_NAME,))


def test_non_utf8_text_in_the_store_is_one_line(sweep_dir, tmp_path, capsys):
    d = _store_copy(sweep_dir, tmp_path, "UPDATE meta SET v = CAST(X'22ff8022' AS TEXT) WHERE k = 'name'")
    one_line_exit_2(capsys, "sweep", str(d), "--status", needles=(DB_NAME,))


def test_list_valued_axes_are_categories_in_the_report(tmp_path, capsys):
    """An axis over a list field (workload.ood) is legal; the report treats each list as one category."""
    spec = write(tmp_path, axes=[{"path": "workload.ood", "values": [[], ["uniform_noise"]]},
                                 {"path": "mc_passes", "values": [5, 10]}])
    code, _, err = cli(capsys, "sweep", str(spec), "--workers", "1", "--out", str(tmp_path / "o"))
    assert code == 0, err
    df = load(tmp_path / "o")
    assert set(df["workload.ood"]) == {"[]", '["uniform_noise"]'}
    code, _, err = cli(capsys, "report", str(tmp_path / "o"))
    assert code == 0, err
