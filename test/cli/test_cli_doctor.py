"""`vla-ros doctor`: real checks on this machine, and a broken checkpoint is a failure."""

from __future__ import annotations

import argparse

from vla_ros.commands import doctor


def test_checks_report_this_machine(tmp_path):
    findings = {f.name: f for f in doctor.run_checks(tmp_path / "none")}
    assert findings["python"].status == doctor.OK
    assert findings["mujoco rendering"].status == doctor.OK  # CI renders offscreen too
    assert findings["QP IK"].status == doctor.OK
    missing = findings["policy checkpoint"]
    assert missing.status == doctor.WARN and "does not exist" in missing.detail
    for f in findings.values():
        assert f.status in (doctor.OK, doctor.WARN, doctor.FAIL)
        assert f.status == doctor.OK or f.fix, f"{f.name}: a problem without a fix hint"


def test_pickled_or_torn_checkpoint_fails_and_sets_the_exit_status(tmp_path, capsys):
    bad = tmp_path / "ckpt"
    bad.mkdir()
    (bad / "model.bin").write_bytes(b"\x80\x04pickle")
    finding = doctor.check_checkpoint(bad)
    assert finding.status == doctor.FAIL and str(bad) in finding.detail
    assert doctor.main(argparse.Namespace(checkpoint=bad)) == 1
    assert "policy checkpoint" in capsys.readouterr().out


def test_a_mujoco_other_than_the_pinned_one_is_a_warning_with_the_fix(monkeypatch):
    import mujoco

    assert doctor.check_mujoco().status == doctor.OK  # the venv has the pinned version
    monkeypatch.setattr(doctor, "pinned_version", lambda dist: "0.0.1")
    finding = doctor.check_mujoco()
    assert finding.status == doctor.WARN and mujoco.__version__ in finding.detail
    assert finding.fix == "pip install mujoco==0.0.1"
