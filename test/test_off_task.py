"""data.off_task: the nonsense an instruction gate learns to refuse, with held-out parts."""

from __future__ import annotations

import numpy as np
import pytest

from spatial_ros.data import off_task


def test_the_word_pool_leaves_out_prompt_words_and_holds_a_fifth_out():
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "klmnp"] + ["cup", "##ing",
                                                                            "a1b", "to"]
    pools = off_task.split_word_pool(words, off_task.prompt_words(["Pick up the red cup."]))
    train, test = set(pools["train"]), set(pools["test"])
    assert not train & test and "cup" not in train | test
    assert not {"##ing", "a1b", "to"} & (train | test)  # not alphabetic, or under 3 letters
    assert 0.1 < len(test) / (len(train) + len(test)) < 0.3


def test_negatives_come_from_every_family_and_their_split_only():
    pools = {"train": ["alpha", "bravo"], "test": ["delta", "echo"]}
    rng = np.random.default_rng(0)
    train = off_task.sample_off_task(rng, 400, "train", pools["train"])
    test = off_task.sample_off_task(rng, 400, "test", pools["test"])
    assert {f for f, _ in train} == set(off_task.FAMILIES)
    train_words = {w for f, t in train if f == "words" for w in t.split()}
    assert train_words <= {"alpha", "bravo"}
    held_out = {t for f, t in test if f == "off_task"}
    assert held_out <= set(off_task.HELD_OUT_OFF_TASK)
    assert not held_out & {t.lower() for f, t in train if f == "off_task"}
    assert all(t.strip() for _, t in train + test)
    again = off_task.sample_off_task(np.random.default_rng(0), 400, "train", pools["train"])
    assert again == train  # seeded
    with pytest.raises(ValueError, match="split"):
        off_task.sample_off_task(rng, 1, "val", pools["train"])
    with pytest.raises(ValueError, match="word pool"):
        off_task.sample_off_task(rng, 1, "train", [])


def test_prompts_vary_in_wording_but_keep_all_but_one_word():
    rng = np.random.default_rng(3)
    varied = [off_task.vary_prompt("Pick up the red cup", rng, ["zebra"]) for _ in range(400)]
    assert "Pick up the red cup" in varied and "pick up the red cup" in varied
    for v in varied:
        kept = [w for w in ("pick", "up", "the", "red", "cup") if w in v.lower().split()
                or w + "." in v.lower().split() or w + "!" in v.lower().split()
                or w + "?" in v.lower().split()]
        assert len(kept) >= 4 and v.lower().count("zebra") <= 2, v
    assert any("zebra" in v for v in varied) and any(len(v.split()) == 4 for v in varied)


def test_side_grasp_rewording_keeps_the_object_and_other_uses_keep_the_prompt():
    from spatial_ros.data import grasp_wording

    rng = np.random.default_rng(0)
    reworded = {grasp_wording.reword_side_request("Grab the red mug from the side", rng)
                for _ in range(200)}
    assert reworded <= {f"Grab the red mug {p}" for p in grasp_wording.TRAIN_SIDE_PHRASES}
    assert len(reworded) > 5
    assert grasp_wording.reword_side_request("Grab the red mug", rng) == "Grab the red mug"
    other = grasp_wording.other_side_use("Pick up the red mug.", rng)
    assert other.startswith("Pick up the red mug ") and "{" not in other
    # the held-out phrasings are not among the trained ones
    trained = grasp_wording.TRAIN_SIDE_PHRASES + grasp_wording.TRAIN_OTHER_SIDE_USES
    for text in grasp_wording.HELD_OUT_SIDE + grasp_wording.HELD_OUT_OTHER:
        assert not any(text.endswith(" " + p) for p in trained if "{" not in p), text
