"""Test-session setup: an isolated DDS domain on localhost for every test session."""

from __future__ import annotations

import os
import random

# Must happen before any rclpy participant exists, and is inherited by child processes.
os.environ["ROS_DOMAIN_ID"] = str(random.Random(os.getpid() ^ int.from_bytes(os.urandom(4)))
                                  .randint(10, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest
from ros_harness import RosTestContext


@pytest.fixture
def ros():
    """An rclpy context of its own with a background executor; see ros_harness.RosTestContext."""
    with RosTestContext() as ctx:
        yield ctx


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models: one torch thread is as fast, and far faster on an oversubscribed CI
    machine (OpenMP threads spin-wait for each other when cores are shared)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
