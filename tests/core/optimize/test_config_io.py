"""Parsing like Ollama, reading the real sources, writing safely, applying with backup and undo."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess

import pytest

from velollm_desktop.core.optimize import writers
from velollm_desktop.core.optimize.apply import Applier
from velollm_desktop.core.optimize.parse import parse_go_duration_s, parse_value
from velollm_desktop.core.optimize.sources import parse_environment_lines, read_current

HOSTILE = [
    "it's",
    'say "hi"',
    "$(touch PWNED)",
    "`touch PWNED`",
    "a;touch PWNED",
    "100%",
    "back\\slash",
    "ünïcødé ✓",
    "x" * 4000,
    " spaced  value ",
    "$HOME",
    "a'b\"c`d$e\\f",
]


@pytest.mark.parametrize(
    ("name", "raw", "value", "warns"),
    [
        ("OLLAMA_NUM_PARALLEL", " '4' ", 4, False),
        ("OLLAMA_NUM_PARALLEL", "128k", 1, True),
        ("OLLAMA_FLASH_ATTENTION", "True", True, False),
        ("OLLAMA_FLASH_ATTENTION", "0", False, False),
        ("OLLAMA_FLASH_ATTENTION", "yes", True, True),  # non-empty non-bool counts as true
        ("OLLAMA_KEEP_ALIVE", "1h30m", 5400.0, False),
        ("OLLAMA_KEEP_ALIVE", "-1", -1.0, False),
        ("OLLAMA_KEEP_ALIVE", "forever", 300.0, True),
        ("OLLAMA_NUM_GPU", "999", None, True),  # never existed
    ],
)
def test_parse_like_ollama(name, raw, value, warns):
    p = parse_value(name, raw)
    assert p.value == value and bool(p.warning) == warns


def test_durations():
    assert parse_go_duration_s("5m") == 300 and parse_go_duration_s("300") == 300
    assert parse_go_duration_s("1.5h") == 5400 and parse_go_duration_s("10") == 10
    assert parse_go_duration_s("5 minutes") is None


def test_systemd_unit_dropins_and_precedence(tmp_path):
    lib, etc = tmp_path / "lib", tmp_path / "etc"
    (lib / "ollama.service.d").mkdir(parents=True)
    (etc / "ollama.service.d").mkdir(parents=True)
    (lib / "ollama.service").write_text(
        '[Service]\nEnvironment="PATH=/usr/bin"\nEnvironment="OLLAMA_HOST=0.0.0.0"\n'
    )
    (etc / "ollama.service.d" / "10-a.conf").write_text(
        '[Service]\nEnvironment="OLLAMA_NUM_PARALLEL=2" "OLLAMA_NUM_GPU=99"\n'
    )
    (etc / "ollama.service.d" / "20-b.conf").write_text(
        "[Service]\nEnvironment=OLLAMA_NUM_PARALLEL=3\n"
    )
    cfg = read_current(
        environ={"OLLAMA_KEEP_ALIVE": "1h", "OLLAMA_NUM_PARALLEL": "9"},
        systemd_dirs=(etc, lib),
        server_environ={},
        platform="linux",
    )
    assert cfg.get("OLLAMA_NUM_PARALLEL") == 3  # the last drop-in wins over the shell
    assert "20-b.conf" in cfg.values["OLLAMA_NUM_PARALLEL"].source
    assert cfg.get("OLLAMA_HOST") == "0.0.0.0"
    assert (
        cfg.get("OLLAMA_KEEP_ALIVE") == 3600.0 and "shell" in cfg.values["OLLAMA_KEEP_ALIVE"].source
    )
    assert any("OLLAMA_NUM_GPU is not read by Ollama" in w for w in cfg.warnings)
    running = read_current(
        environ={},
        systemd_dirs=(etc, lib),
        server_environ={"OLLAMA_NUM_PARALLEL": "1"},
        platform="linux",
    )
    assert (
        running.get("OLLAMA_NUM_PARALLEL") == 1
        and "running server" in running.values["OLLAMA_NUM_PARALLEL"].source
    )


def test_empty_environment_line_resets():
    assert parse_environment_lines(
        '[Service]\nEnvironment="A=1"\nEnvironment=\nEnvironment="B=2"\n'
    ) == {"B": "2"}


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_output_is_inert_and_exact(tmp_path, value):
    script = tmp_path / "env.sh"
    script.write_text(writers.render_shell({"OLLAMA_ORIGINS": value}))
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    out = subprocess.run(
        ["sh", "-c", f'. "{script}"; printf %s "$OLLAMA_ORIGINS"'],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out == value
    assert not (tmp_path / "PWNED").exists()


def test_shellcheck_passes(tmp_path):
    if not shutil.which("shellcheck"):
        pytest.fail("shellcheck is missing: run bash build_scripts/setup.sh test")
    script = tmp_path / "env.sh"
    script.write_text(writers.render_shell({f"OLLAMA_V{i}": v for i, v in enumerate(HOSTILE)}))
    res = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout


@pytest.mark.parametrize("value", HOSTILE)
def test_systemd_dropin_round_trips(value):
    text = writers.render_systemd({"OLLAMA_ORIGINS": value})
    assert parse_environment_lines(text.replace("%%", "%"))["OLLAMA_ORIGINS"] == value


def test_systemd_analyze_verify_accepts_the_dropin(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: run bash build_scripts/setup.sh test")
    unit_dir = tmp_path / "units"
    (unit_dir / "ollama.service.d").mkdir(parents=True)
    (unit_dir / "ollama.service").write_text(
        "[Unit]\nDescription=Ollama\n[Service]\nExecStart=/bin/true\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    (unit_dir / "ollama.service.d" / "override.conf").write_text(
        writers.render_systemd({"OLLAMA_ORIGINS": "a'b\"c`d$e\\f 100%", "OLLAMA_NUM_PARALLEL": "2"})
    )
    env = dict(os.environ, SYSTEMD_UNIT_PATH=f"{unit_dir}:")
    res = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit_dir / "ollama.service")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_systemd_merge_keeps_unrelated_lines():
    existing = '[Service]\nEnvironment="OLLAMA_HOST=0.0.0.0"\nEnvironment="OLLAMA_NUM_PARALLEL=8"\nLimitNOFILE=65536\n'
    text = writers.render_systemd({"OLLAMA_NUM_PARALLEL": "2"}, existing)
    env = parse_environment_lines(text)
    assert env == {"OLLAMA_HOST": "0.0.0.0", "OLLAMA_NUM_PARALLEL": "2"}
    assert "LimitNOFILE=65536" in text


def test_launchd_windows_modelfile_and_refusals():
    plist = plistlib.loads(writers.render_launchd({"OLLAMA_ORIGINS": "$(x) <&>"}).encode())
    assert plist["ProgramArguments"] == ["/bin/launchctl", "setenv", "OLLAMA_ORIGINS", "$(x) <&>"]
    assert "'it''s'" in writers.render_windows({"OLLAMA_ORIGINS": "it's"})
    assert (
        writers.render_modelfile("llama3.1:8b", {"num_ctx": 8192})
        == "FROM llama3.1:8b\nPARAMETER num_ctx 8192\n"
    )
    for bad in (
        {"OLLAMA_NUM_GPU": "1"},
        {"OLLAMA_X": "a\nb"},
        {"bad name": "1"},
        {"OLLAMA_X": "x" * 5000},
    ):
        with pytest.raises(writers.UnsafeValue):
            writers.render_shell(bad)
    with pytest.raises(writers.UnsafeValue):
        writers.render_modelfile("x; rm -rf /", {"num_ctx": 1})


class Recorder:
    def __init__(self, fail_on: str | None = None):
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, argv):
        self.calls.append(list(argv))
        rc = 1 if self.fail_on and self.fail_on in argv else 0
        return subprocess.CompletedProcess(argv, rc, "", "boom" if rc else "")


def test_apply_backup_and_undo_byte_for_byte(tmp_path):
    dropin = tmp_path / "ollama.service.d" / "override.conf"
    dropin.parent.mkdir()
    original = b'[Service]\r\nEnvironment="OLLAMA_HOST=0.0.0.0"\r\n# keep me \xc3\xa9\n'
    dropin.write_bytes(original)
    rec = Recorder()
    applier = Applier(
        runner=rec, journal=tmp_path / "journal.json", platform="linux", dropin=dropin
    )
    plan = applier.plan({"OLLAMA_NUM_PARALLEL": "2"})
    assert not plan.privileged and "systemctl daemon-reload" in plan.describe()
    backup = applier.apply(plan)
    assert backup.read_bytes() == original
    assert parse_environment_lines(dropin.read_text())["OLLAMA_NUM_PARALLEL"] == "2"
    assert ["systemctl", "restart", "ollama"] in rec.calls
    assert applier.can_undo()
    applier.undo()
    assert dropin.read_bytes() == original
    assert not applier.can_undo()


def test_apply_new_file_then_undo_removes_it(tmp_path):
    dropin = tmp_path / "d" / "override.conf"
    applier = Applier(
        runner=Recorder(), journal=tmp_path / "j.json", platform="linux", dropin=dropin
    )
    assert applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"})) is None
    assert dropin.exists()
    assert "removed" in applier.undo()
    assert not dropin.exists()


def test_failed_restart_restores_previous_config(tmp_path):
    dropin = tmp_path / "override.conf"
    dropin.write_text("[Service]\n")
    applier = Applier(
        runner=Recorder(fail_on="restart"),
        journal=tmp_path / "j.json",
        platform="linux",
        dropin=dropin,
    )
    with pytest.raises(RuntimeError, match="previous configuration was restored"):
        applier.apply(applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}))
    assert dropin.read_text() == "[Service]\n"


def test_interrupted_write_leaves_old_file(tmp_path, monkeypatch):
    dropin = tmp_path / "override.conf"
    dropin.write_text("old\n")
    applier = Applier(
        runner=Recorder(), journal=tmp_path / "j.json", platform="linux", dropin=dropin
    )
    plan = applier.plan({"OLLAMA_KEEP_ALIVE": "30m"})
    monkeypatch.setattr(
        os, "replace", lambda *a: (_ for _ in ()).throw(OSError("crash before rename"))
    )
    with pytest.raises(OSError):
        applier.apply(plan)
    assert dropin.read_text() == "old\n"
    assert sorted(
        p.name for p in tmp_path.iterdir() if not p.name.startswith("override.conf.bak")
    ) == ["j.json.lock", "override.conf"]  # the apply lock's (empty) file stays; no temp file


def test_verify_reports_mismatches_against_a_running_server():
    from tests.ollama_fake import FakeOllama
    from velollm_desktop.core.optimize.verify import verify

    with FakeOllama() as fake:
        ok = verify(
            {"OLLAMA_NUM_PARALLEL": "2"},
            fake.url,
            server_environ={"OLLAMA_NUM_PARALLEL": "'2'"},
            wait_s=5,
        )
        bad = verify(
            {"OLLAMA_NUM_PARALLEL": "2"},
            fake.url,
            server_environ={"OLLAMA_NUM_PARALLEL": "1"},
            wait_s=5,
        )
    assert ok.ok and any("OLLAMA_NUM_PARALLEL=2" in c for c in ok.checks)
    assert not bad.ok and "runs with '1', expected '2'" in bad.mismatches[0]
    down = verify({}, "http://127.0.0.1:9", server_environ={}, wait_s=1)
    assert not down.server_up and "did not come back" in down.mismatches[0]


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_desktop_app_overrides_are_warned_about(tmp_path, platform):
    applier = Applier(runner=Recorder(), journal=tmp_path / "j.json", platform=platform)
    plan = applier.plan({"OLLAMA_CONTEXT_LENGTH": "8192", "OLLAMA_KEEP_ALIVE": "30m"})
    assert "desktop app sets OLLAMA_CONTEXT_LENGTH" in plan.describe()
    assert "desktop app" not in applier.plan({"OLLAMA_KEEP_ALIVE": "30m"}).describe()
