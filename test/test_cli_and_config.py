"""CLI skeleton, doctor and the YAML dataclass loader."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from spatial_ros.cli.main import build_parser, main
from spatial_ros.common.config import ConfigError, from_dict, load_config


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "doctor" in out


def test_doctor_prints_table_and_exits_zero():
    proc = subprocess.run([sys.executable, "-m", "spatial_ros.cli.main", "doctor"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("rclpy + RMW", "torch", "pyrealsense2", "MuJoCo", "moveit_py", "unitree_sdk2py"):
        assert name in proc.stdout
    assert "all required components present" in proc.stdout


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert sub.choices, "no subcommands registered"
    for name, p in sub.choices.items():
        assert p.format_help(), name


@dataclass
class _Gripper:
    width: float = 0.08
    force: float = 20.0


@dataclass
class _Robot:
    name: str
    joints: list[str] = field(default_factory=list)
    gripper: _Gripper = field(default_factory=_Gripper)
    limits: tuple[float, float] = (-1.0, 1.0)
    backend: str | None = None


def test_config_loads_nested_dataclasses(tmp_path):
    path = tmp_path / "robot.yaml"
    path.write_text("robot:\n  name: ur5\n  joints: [a, b]\n  gripper: {width: 0.085}\n"
                    "  limits: [-2, 2]\n")
    cfg = load_config(_Robot, path, section="robot")
    assert cfg.name == "ur5" and cfg.joints == ["a", "b"]
    assert cfg.gripper.width == pytest.approx(0.085) and cfg.gripper.force == 20.0
    assert cfg.limits == (-2.0, 2.0)


@pytest.mark.parametrize("data,match", [
    ({"name": "ur5", "jionts": []}, "unknown key"),
    ({"name": 5}, "expected a string"),
    ({"name": "x", "gripper": {"width": "wide"}}, "gripper.width"),
    ({"name": "x", "limits": [1, 2, 3]}, "expected 2 items"),
    ({}, "name"),
])
def test_config_errors_name_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(_Robot, data)


def test_config_missing_file_is_clear(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(_Robot, tmp_path / "nope.yaml")
