"""Instructions that ask nothing of the scene: the negatives an instruction gate learns from.

The data engine writes only requests about the table (every prompt names an object or a
place), so a model trained on them alone answers "qwv zzk plonk" as confidently as "the red
cup" (docs/model.md, "Instruction gate"). Four families of text that is not such a request:
letter strings, keyboard mash, strings of unrelated dictionary words and off-task requests
(chit-chat, other assistants' jobs). Each family has a held-out part for evaluation: the
word pool splits by a stable hash of the word, the off-task requests are two lists written
apart, and the random strings differ by seed. ``FREE_REQUESTS`` are requests about the scene
worded as an operator might, none of them in the generator's templates: held out too, they
check that the gate does not close on words it never saw in a prompt.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

FAMILIES = ("letters", "keyboard", "words", "off_task")
HELD_OUT_SHARE = 0.2  # of the word pool: words whose hash falls here appear only in "test"

_TOPICS = ("dinosaurs", "the moon", "taxes", "football", "cats", "the ocean", "history",
           "my birthday", "space travel", "the election", "cooking", "jazz")
_PEOPLE = ("mom", "my brother", "the office", "john", "the doctor", "grandma", "alex")
_WHEN = ("", "today", "tomorrow", "tonight", "this weekend", "next week", "right now")
_FILLS = {
    "topic": _TOPICS, "person": _PEOPLE, "when": _WHEN,
    "place": ("paris", "the airport", "tokyo", "the beach", "berlin", "the gym", "home"),
    "thing": ("the lights", "the radio", "the heating", "the tv", "the fan", "the alarm"),
    "food": ("a pizza", "sushi", "pasta", "a burger", "soup", "coffee", "tacos"),
    "time": ("six", "seven thirty", "noon", "midnight", "9 am", "a quarter past eight"),
    "word": ("serendipity", "ubiquitous", "ephemeral", "quixotic", "laconic"),
}
TRAIN_OFF_TASK = (
    "what is the weather like {when}", "tell me a joke about {topic}", "play some music",
    "what time is it in {place}", "set an alarm for {time}", "remind me to call {person} {when}",
    "how are you {when}", "call {person}", "send a text to {person}", "turn off {thing}",
    "turn on {thing}", "order {food} for dinner", "how do i make {food}", "book a flight to "
    "{place}", "what does {word} mean", "who won the game {when}", "tell me about {topic}",
    "good morning", "thank you very much", "i am hungry", "what is your name",
    "sing a song about {topic}", "how far is {place}", "is it going to rain {when}",
    "write an email to {person}", "search the web for {topic}", "what's the news {when}",
    "how many days until my birthday", "read me a story about {topic}", "hello robot",
    "what is the meaning of life", "navigate to {place}", "lock the front door",
    "show me pictures of {topic}", "find a recipe for {food}", "what is the population of "
    "{place}", "cancel my meeting {when}", "who is the president", "teach me about {topic}",
    "i feel tired {when}", "do you like {topic}", "start a timer for {time}")
HELD_OUT_OFF_TASK = (
    "can you recommend a good movie", "what's the score of the match", "how old is the universe",
    "wake me up at six", "what is two plus two", "i love you", "schedule a call with anna",
    "how do i get to the train station", "lorem ipsum dolor sit amet", "hey there",
    "what's for dinner tonight", "shut down the computer", "play the next episode",
    "where did i park the car", "tell me about black holes", "convert ten dollars to euros",
    "who wrote hamlet", "open the garage", "what's trending on the internet",
    "how tall is mount everest",
    # written after run 17 was trained, measured once (docs/model.md, "Instruction gate")
    "what's the weather in london", "tell me a fun fact", "play my workout playlist",
    "how many ounces in a pound", "set a reminder for the dentist", "call a taxi",
    "what year did the war end", "recommend a book about history",
    "what is the square root of nine", "translate thank you into german",
    "how do you spell necessary", "give me a pep talk", "what's on my calendar today",
    "turn up the volume", "who is the best football player", "i'm bored", "good night robot",
    "how much is a flight to rome", "explain quantum physics", "what should i name my dog",
    "write a poem about autumn", "is the store open on sunday", "how long do i boil an egg",
    "send my location to sarah", "what's the exchange rate", "start the vacuum cleaner",
    "check my email", "order more coffee beans", "how are the stock markets doing",
    "what's the capital of peru", "you are awesome", "asdf jkl semicolon",
    "the quick brown fox jumps over the lazy dog", "can you hear me", "what day is it",
    "remind me to water the plants", "show me the news", "how far away is the sun",
    "what does a robot eat", "sing happy birthday")
FREE_REQUESTS = (
    "hand me the blue block", "could you grab the cup for me", "put the ball in the bowl please",
    "where is the green cube?", "move the mug so it is left of the box", "fetch the yellow ball",
    "i need the red cylinder", "bring me that purple thing", "which one is the biggest cube",
    "the little white sphere, please", "get me the brown tray", "touch the orange block",
    "pick the second mug from the right", "drop the cube into the box",
    "lift the tall cylinder", "show where the pink ball is", "take the small cup next to "
    "the bowl", "grab whatever is closest to you", "tap the gray brick",
    "put it down between the two bowls", "would you pick up the black cube",
    "please take the mug that is behind the box", "select the leftmost object",
    "clear the red block off the table",
    # written after run 17 was trained, measured once
    "pick up the banana", "grab the bottle on the right",
    "can you move the green block closer to me", "i want the small red ball",
    "lift the box a little", "push the yellow cylinder to the left",
    "get the cup that's nearest the camera", "put the purple cube on top of the gray one",
    "hand over the mug please", "what's the tallest thing on the table?",
    "take the orange sphere and drop it in the tray", "show me the brown brick",
    "where's the black mug", "grab that big blue box", "pick the one in the middle",
    "place the ball next to the cup", "move the cube between the two cylinders",
    "give me something red", "stack the green cube on the blue cube", "find the pink object",
    "pick up the can", "fetch me the white cup on the left", "the biggest ball please",
    "put everything red in the bowl", "tidy up the cubes into the box",
    "grab the third block from the left", "could you pass the yellow mug",
    "pick up the item behind the bowl", "is there a purple sphere?", "point out the smallest cube",
    "select the cylinder closest to the robot", "take the little gray ball",
    "put the cup down to the right of the tray", "hold the orange block", "grab the apple",
    "pick up the toy car", "move the red mug away from the edge", "nudge the blue ball forward",
    "get the cube that is not red", "bring the brown cylinder over here")


def _fill(template: str, rng: np.random.Generator) -> str:
    keys = [k for _, k, _, _ in string.Formatter().parse(template) if k]
    text = template.format(**{k: _FILLS[k][rng.integers(len(_FILLS[k]))] for k in keys})
    return " ".join(text.split())


def split_word_pool(words: Iterable[str], exclude: Iterable[str]) -> dict[str, list[str]]:
    """Dictionary words for the "words" family, by split: alphabetic, three letters or more,
    none of ``exclude`` (the words of the scene prompts, so a negative never says "cup")."""
    banned = {w.lower() for w in exclude}
    pool = sorted({w.lower() for w in words if w.isalpha() and len(w) >= 3} - banned)
    test = [w for w in pool if zlib.crc32(w.encode()) % 1000 < HELD_OUT_SHARE * 1000]
    return {"train": sorted(set(pool) - set(test)), "test": test}


def prompt_words(prompts: Iterable[str]) -> set[str]:
    """The lowercase alphabetic words of ``prompts``."""
    out: set[str] = set()
    for p in prompts:
        out.update("".join(c if c.isalpha() else " " for c in p.lower()).split())
    return out


def sample_off_task(rng: np.random.Generator, n: int, split: str, word_pool: Sequence[str],
                    families: Sequence[str] = FAMILIES) -> list[tuple[str, str]]:
    """``n`` (family, text) negatives for ``split`` ("train" or "test"), families in turn."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not word_pool and "words" in families:
        raise ValueError("the 'words' family needs a non-empty word pool")
    out = []
    for i in range(n):
        family = families[i % len(families)]
        out.append((family, _sample_one(rng, family, split, word_pool)))
    return out


def _sample_one(rng: np.random.Generator, family: str, split: str,
                word_pool: Sequence[str]) -> str:
    if family == "letters":  # "qwv zzk plonk"
        return " ".join("".join(rng.choice(list(string.ascii_lowercase), rng.integers(2, 10)))
                        for _ in range(rng.integers(1, 7)))
    if family == "keyboard":  # "??? !!!", "asdf;lkj 123"
        chars = list(string.ascii_lowercase + string.digits + string.punctuation)
        return " ".join("".join(rng.choice(chars, rng.integers(1, 9)))
                        for _ in range(rng.integers(1, 5)))
    if family == "words":  # "xylophone tangerine aardvark"
        return " ".join(rng.choice(list(word_pool), rng.integers(1, 9)))
    if family == "off_task":
        if split == "test":
            return HELD_OUT_OFF_TASK[rng.integers(len(HELD_OUT_OFF_TASK))]
        text = _fill(TRAIN_OFF_TASK[rng.integers(len(TRAIN_OFF_TASK))], rng)
        return text.capitalize() if rng.random() < 0.5 else text
    raise ValueError(f"unknown family {family!r}; known: {FAMILIES}")


_WRAPS = (("Could you ", ""), ("Please ", ""), ("", " please"), ("Can you ", "?"),
          ("Robot, ", ""), ("", "."), ("", "!"))


def vary_prompt(text: str, rng: np.random.Generator, noise_words: Sequence[str] = ()) -> str:
    """A scene prompt as an operator might type it (training only; ``FREE_REQUESTS`` uses
    other wordings): lower-cased or politely wrapped, and sometimes with a word left out or
    an unrelated word (from ``noise_words``) put in: a request with a word the gate has not
    seen, or without one it has, is still a request."""
    words = text.split()
    if len(words) > 2 and rng.random() < 0.2:
        words.pop(rng.integers(len(words)))
    if len(noise_words) and rng.random() < 0.25:
        for _ in range(rng.integers(1, 3)):
            words.insert(rng.integers(len(words) + 1), noise_words[rng.integers(len(noise_words))])
    text = " ".join(words)
    r = rng.random()
    if r < 0.3:
        return text.lower()
    if r < 0.6:
        head, tail = _WRAPS[rng.integers(len(_WRAPS))]
        body = text[0].lower() + text[1:] if head else text
        return f"{head}{body}{tail}"
    return text
