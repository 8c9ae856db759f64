"""Instructions that ask nothing of the scene: the negatives an instruction gate learns from.

The data engine writes only requests about the table (every prompt names an object or a
place), so a model trained on them alone answers "qwv zzk plonk" as confidently as "the red
cup" (docs/model.md, "Instruction gate"). Four families of text that is not such a request:
letter strings, keyboard mash, strings of unrelated dictionary words and off-task requests
(chit-chat, other assistants' jobs). Each family has a held-out part for evaluation: the
word pool splits by a stable hash of the word, the off-task requests are lists written
apart, and the random strings differ by seed. ``FREE_REQUESTS`` are requests about the scene
worded as an operator might, none of them in the generator's templates: held out too, they
check that the gate does not close on words it never saw in a prompt.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from spatial_ros.data.vocab import CATEGORY_NOUNS, COLOURS

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
    "colour": COLOURS,
    "object": tuple(n for nouns in CATEGORY_NOUNS.values() for n in nouns),
    "side": ("left", "right"),
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
    "i feel tired {when}", "do you like {topic}", "start a timer for {time}",
    # the scene's own words in text that asks nothing of the scene: a colour or an object
    # word alone must not make a request (the gates read "tell me about a red cup" as one
    # before these were added; docs/model.md, "Instruction gate")
    "tell me a story about a {colour} {object}", "what is a {object} made of",
    "how much does a {object} cost online", "write a song about a {colour} {object}",
    "what does the colour {colour} mean", "is {colour} a warm colour",
    "my favourite colour is {colour}", "what is the history of the {object}",
    "do you like {colour} {object}s", "search online for a {colour} {object}",
    "how do you say {object} in spanish", "name something that is {colour}",
    "i painted my room {colour} {when}", "buy a {colour} shirt", "turn {side} at the next street",
    "how many {object}s fit in a car", "the {colour} team won the game {when}",
    "what rhymes with {object}", "is a {object} a good present for {person}",
    "keep {side} on the highway")
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
    "what does a robot eat", "sing happy birthday",
    # twenty-seventh session, written as the free requests' third to fifth lists
    "what is the temperature outside", "tell me a bedtime story", "how do i reset my password",
    "play some relaxing jazz", "what's the best pizza place nearby",
    "book a table for two at eight", "how many legs does a spider have",
    "who painted the mona lisa", "turn the lights off in the kitchen", "what's my heart rate",
    "i need a vacation", "how do magnets work", "tell me something interesting about cubes",
    "what color is the sky", "do you dream", "open youtube", "how much does a tesla cost",
    "let's play chess", "read my last message", "what is the speed of light",
    "order a box of chocolates", "how do i fix a leaky tap", "what time does the bank close",
    "are you a robot", "write a haiku about the ocean", "pause the movie",
    "what's the distance to the moon", "count to ten", "who invented the light bulb",
    "what is machine learning", "call my mother", "find a cheap hotel in madrid",
    "how do i cook rice", "describe your feelings", "what's the latest on the elections",
    "is it safe to swim today", "buy a new phone case", "what movies are playing tonight",
    "how many cups in a liter", "thanks, that's all for now",
    "what's the wifi password", "how do you make pancakes", "play rock music loud",
    "who won the world cup in 2018", "text my boss i'm late", "how many calories in an apple",
    "is it going to snow", "tell me your favorite color", "what is the tallest building",
    "set the thermostat to twenty degrees", "what's the meaning of this word",
    "open the window", "i had a long day", "recommend a podcast", "how do airplanes fly",
    "what's a good name for a cat", "play a game with me", "how much is bitcoin worth",
    "turn on the tv in the living room", "what's the time in new york", "make me a sandwich",
    "show me a map of europe", "what's your favorite food", "can you dance",
    "write a story about a dragon", "who is your creator", "how many planets are there",
    "tell me the news headlines", "what should i wear today", "let's talk about movies",
    "what's the weather like in paris this week", "what is the biggest animal in the world",
    "can you sing me a song", "how do i change a flat tire",
    "who wrote the harry potter books", "what's the green card process",
    "tell me about the red planet", "how many players on a team",
    "set up a meeting with the team", "what's a black hole", "i want to learn to play guitar",
    "read me the news", "how big is the pacific ocean", "which is faster, a cheetah or a car",
    "what should i cook tonight", "the sky is blue today", "what do you think about art",
    "roll a dice", "flip a coin", "draw me a circle", "lock the car",
    "what's your favourite shape", "are cats better than dogs", "give me a compliment",
    "what's the tallest mountain in europe", "how many grams in a cup of flour",
    "play the blues", "what's the box office record", "is a tomato a fruit", "goodbye")
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
    "get the cube that is not red", "bring the brown cylinder over here",
    # twenty-seventh session: a third list written before any sentence gate was measured, a
    # fourth before the first trainer run (runs/instruction_gate_s27a), a fifth after it and
    # before run 19's scene-word negatives were written (docs/model.md, "Instruction gate")
    "could you please pick up the green mug", "put the red cube behind the bowl",
    "grab the ball that's furthest from you", "which cylinder is the shortest",
    "move the white block to the front", "pass me the tray",
    "the cube on the left, pick it up", "place the yellow ball inside the box",
    "i'd like the orange cup", "pick up the smaller of the two balls",
    "get rid of the purple block", "put the mug next to the bowl",
    "take the blue sphere out of the tray", "point at the biggest object on the table",
    "lift up the gray cylinder slowly", "set the cube down in the empty spot",
    "grasp the brick by its side", "pick up anything green", "bring the closest cup to me",
    "move the box a bit to the right", "put the pink ball between the mug and the cube",
    "which object is in front of the bowl", "grab the black cylinder and put it in the box",
    "please fetch the second ball from the left", "take hold of the red mug", "find me a cube",
    "pick up the object next to the yellow ball", "drop the ball on the tray",
    "the brown cup please", "can you reach the blue block", "put the cylinder in the bowl",
    "collect the small cubes", "hand me the one that is not a cube",
    "grab the thing on the far right", "move the green ball in front of the box",
    "pick the tallest cylinder", "take the cup off the tray",
    "is the white ball left of the mug?", "place it on the table near the edge",
    "robot, get the orange block now",
    "yo robot grab the green thing", "can u pick up the red ball", "move that cup over there",
    "put the small cube onto the tray", "i want the cylinder that's behind the mug",
    "snag the yellow block for me", "please relocate the bowl to the right side",
    "the pink one. pick it up", "go get the ball nearest the box",
    "place the cup in the middle", "pick whichever cube is biggest", "hand the white mug over",
    "could you lift the brown box", "gently put the sphere in the bowl",
    "take the leftmost cup", "which block is closest to the camera?",
    "get the orange thing out of the box", "move the blue cylinder behind the tray",
    "pick up one of the cubes", "put the ball back where it was",
    "grab the gray object next to the green cube", "set the mug down beside the ball",
    "pick up the second cylinder from the front", "can you point to the purple mug",
    "bring me the black ball", "pick something up",
    "put the red block to the left of the yellow one", "lift the bowl", "where is the tray",
    "grab the tiny sphere",
    "pick up the purple cylinder please", "could you move the bowl closer to the cube",
    "grab any ball", "put the small mug inside the big box", "which mug is the farthest away",
    "take the red one", "lift the block behind the cup",
    "hand me the second cube from the right", "robot, place the ball on the left of the tray",
    "i need something to drink from", "fetch the item in front of the bowl",
    "set the green block next to the white one", "get the shortest cylinder",
    "pick up the ball and drop it in the bowl",
    "move the orange cube between the tray and the mug", "pick up whatever is in the box",
    "point to the gray sphere", "where is the yellow cylinder?", "grab the brick on the right",
    "put the cup upside down on the tray", "take the biggest thing on the table",
    "pick up the pink block, please", "slide the box to the left",
    "grasp the mug by the handle", "give me the black cube",
    "choose the ball nearest to the bowl", "please pick up the tray",
    "move the cylinder away from the cup", "place the cube beside the ball", "pick it up")


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
        # worded as the positives are (vary_prompt), so "Could you ... ?" says nothing
        return vary_prompt(_fill(TRAIN_OFF_TASK[rng.integers(len(TRAIN_OFF_TASK))], rng), rng)
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
