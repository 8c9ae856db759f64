"""The executor's perception client over real DDS: it waits for discovery before it asks
(a request published to a reader not yet matched is lost) and says so when nobody answers."""

from __future__ import annotations

import json
import time

import pytest
from ros_harness import wait_for
from std_msgs.msg import String

from spatial_ros.nodes.ros_transport import RELIABLE, PerceptionClient

pytestmark = pytest.mark.ros


def test_no_perception_node_is_a_clear_error_not_a_hang(ros):
    client = PerceptionClient(ros.node("lonely_executor"), "/t_none/instruction",
                              "/t_none/result", timeout=0.5)
    t0 = time.monotonic()
    res = client.ask("Pick up the red cube")
    assert time.monotonic() - t0 < 3.0
    assert not res.ok and "no perception node on /t_none/instruction" in res.error


def test_questions_asked_the_moment_both_nodes_exist_are_answered(ros):
    """In one process discovery is near-instant; the cross-process race this guards against
    is exercised by test_executor_node's three-process test on a loaded machine."""
    responder = ros.node("fake_perception")
    pub = responder.create_publisher(String, "/t_ask/result", RELIABLE)
    heard: list[str] = []

    def answer(msg: String) -> None:
        req = json.loads(msg.data)
        heard.append(req["text"])
        pub.publish(String(data=json.dumps({"request_id": req["id"],
                                            "instruction": req["text"],
                                            "point_base": [0.4, 0.1, 0.05]})))

    responder.create_subscription(String, "/t_ask/instruction", answer, RELIABLE)
    client = PerceptionClient(ros.node("eager_executor"), "/t_ask/instruction",
                              "/t_ask/result", timeout=10.0)
    for prompt in ("Pick up the red cube", "Point to the bowl"):
        res = client.ask(prompt)
        assert res is not None and res.ok, res
        assert res.instruction == prompt and res.point_base == [0.4, 0.1, 0.05]
    assert wait_for(lambda: heard == ["Pick up the red cube", "Point to the bowl"], 2.0)
