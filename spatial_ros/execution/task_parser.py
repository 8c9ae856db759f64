"""Splits an operator's instruction into pick / place / home steps.

Rule-based on purpose: the grammar of commands to a manipulator is small, the result must be
predictable, and every step is grounded afterwards by perception on a fresh frame anyway.

- clauses split at ", then", "then", "and then", "after that", ";", "." and at "and" when a
  verb follows ("pick the red cube and put it in the bowl");
- "put/place/move/stack X <relation> Y" -> pick X, place <relation> Y (X may be "it");
- "pick (up) X" -> pick X; "go home" -> home;
- "put all (the) X <relation> Y" -> a ``for_all`` step, expanded by the runner;
- "the green one" borrows the noun of the previous object ("the green block");
  "it" is the last object, "them"/"there" (as a place anchor) is the last placed object.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

RELATIONS: dict[str, tuple[str, ...]] = {
    "in": ("into", "inside of", "inside", "in"),
    "on": ("on top of", "onto", "on"),
    "left_of": ("to the left of", "on the left of", "left of"),
    "right_of": ("to the right of", "on the right of", "right of"),
    "in_front_of": ("in front of",),
    "behind": ("behind", "in back of"),
    "next_to": ("next to", "beside", "near", "by"),
}
RELATION_TEXT = {"in": "in", "on": "on", "left_of": "to the left of",
                 "right_of": "to the right of", "in_front_of": "in front of",
                 "behind": "behind", "next_to": "next to"}
_PREP = sorted(((p, r) for r, ps in RELATIONS.items() for p in ps), key=lambda x: -len(x[0]))
_PREP_RE = "|".join(re.escape(p) for p, _ in _PREP)
_PICK_VERBS = ("pick up", "pick", "grab", "grasp", "take", "lift", "get")
_PLACE_VERBS = ("put", "place", "move", "bring", "drop", "set", "stack", "transfer", "carry")
_HOME = re.compile(r"^(?:go|return|move|come)?\s*(?:back\s+)?(?:to\s+)?(?:the\s+)?"
                   r"(?:home|start|rest)(?:\s+(?:position|pose))?$")
_ALL = re.compile(r"^(?:all|every|each)(?:\s+of)?\s+(?:the\s+)?(.+)$")
_VERB_START = re.compile(r"^(?:" + "|".join(_PICK_VERBS + _PLACE_VERBS) +
                         r"|go|return|come)\b")
_PRONOUNS_OBJ = {"it", "that", "this", "them", "those", "these"}


class ParseError(ValueError):
    """The instruction could not be turned into steps; the message says which part."""


@dataclass
class Step:
    kind: str  # "pick" | "place" | "home" | "for_all"
    target: str = ""  # object phrase (pick, for_all) e.g. "the red cube", "red objects"
    relation: str = ""  # place / for_all: key of RELATIONS
    anchor: str = ""  # place / for_all: reference object phrase, e.g. "the bowl"
    text: str = ""  # the clause this step came from

    def describe(self) -> str:
        if self.kind == "pick":
            return f"pick {self.target}"
        if self.kind == "place":
            return f"place {RELATION_TEXT[self.relation]} {self.anchor}"
        if self.kind == "for_all":
            return f"for all {self.target}: place {RELATION_TEXT[self.relation]} {self.anchor}"
        return "home"

    @property
    def place_phrase(self) -> str:
        return f"{RELATION_TEXT[self.relation]} {self.anchor}" if self.relation else ""


@dataclass
class TaskPlan:
    instruction: str
    steps: list[Step] = field(default_factory=list)

    def describe(self) -> list[str]:
        return [s.describe() for s in self.steps]


def _normalize(text: str) -> str:
    text = text.lower().strip()
    text = re.sub(r"[!?]+", ".", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"^(?:please|could you|can you|would you)\s+", "", text)
    return text.strip(" .")


def split_clauses(text: str) -> list[str]:
    parts = re.split(r"\s*(?:;|\.\s+|,?\s*\band then\b|,?\s*\bthen\b|,?\s*\bafter that\b|"
                     r",?\s*\bfinally\b|,?\s*\band finally\b)\s*", text)
    clauses: list[str] = []
    for part in parts:
        part = part.strip(" ,.")
        if not part:
            continue
        # "and" / "," followed by a verb starts a new clause
        pieces = re.split(r"\s*(?:,\s*and|,|\band)\s+(?=(?:" + "|".join(
            _PICK_VERBS + _PLACE_VERBS + ("go", "return")) + r")\b)", part)
        clauses += [p.strip(" ,.") for p in pieces if p.strip(" ,.")]
    return clauses


def _clean_np(phrase: str) -> str:
    phrase = re.sub(r"\s+(?:up|down)$", "", phrase.strip(" ,."))
    phrase = re.sub(r"\s+(?:to|to the|on the)$", "", phrase)
    return phrase.strip()


def _head_noun(phrase: str) -> str:
    words = phrase.split()
    return words[-1] if words else ""


class TaskParser:
    """Stateless per call; resolves "it" / "one" / "them" inside one instruction."""

    def parse(self, instruction: str) -> TaskPlan:
        if not isinstance(instruction, str) or not instruction.strip():
            raise ParseError("empty instruction")
        text = _normalize(instruction)
        plan = TaskPlan(instruction=instruction.strip())
        self._last_object = ""
        self._last_placed = ""
        self._holding = False
        for clause in split_clauses(text):
            plan.steps += self._clause(clause)
        if not plan.steps:
            raise ParseError(f"no actionable step in '{instruction}'")
        return plan

    # ---- noun phrases ----------------------------------------------------------------
    def _resolve_object(self, phrase: str, clause: str) -> str:
        phrase = _clean_np(phrase)
        if phrase in _PRONOUNS_OBJ:
            if not self._last_object:
                raise ParseError(f"'{phrase}' in '{clause}' refers to nothing said before")
            return self._last_object
        if re.search(r"\bones?$", phrase) and self._last_object:
            phrase = re.sub(r"\bones?$", _head_noun(self._last_object), phrase)
        if not phrase or phrase in {"the", "a"}:
            raise ParseError(f"missing object in '{clause}'")
        return phrase

    def _resolve_anchor(self, phrase: str, clause: str) -> str:
        phrase = _clean_np(phrase)
        if phrase in {"them", "those", "these", "there", "it", "that"}:
            ref = self._last_placed or self._last_object
            if not ref:
                raise ParseError(f"'{phrase}' in '{clause}' refers to nothing said before")
            return ref
        if re.search(r"\bones?$", phrase) and self._last_object:
            phrase = re.sub(r"\bones?$", _head_noun(self._last_object), phrase)
        if not phrase:
            raise ParseError(f"missing reference object in '{clause}'")
        return phrase

    # ---- clauses -----------------------------------------------------------------
    def _clause(self, clause: str) -> list[Step]:
        if _HOME.match(clause):
            return [Step("home", text=clause)]
        for verb in _PLACE_VERBS:
            m = re.match(rf"^{verb}\s+(?P<obj>.+)\s+(?P<prep>{_PREP_RE})\s+(?P<anc>.+)$", clause)
            if m:
                return self._place_clause(clause, m.group("obj"), m.group("prep"),
                                          m.group("anc"))
        for verb in _PLACE_VERBS:
            m = re.match(rf"^{verb}\s+(?:it\s+|them\s+)?(?P<prep>{_PREP_RE})\s+(?P<anc>.+)$",
                         clause)
            if m:
                return self._place_clause(clause, "it", m.group("prep"), m.group("anc"))
        for verb in _PICK_VERBS:
            m = re.match(rf"^{verb}\s+(?P<obj>.+)$", clause)
            if m:
                obj = re.sub(r"^up\s+", "", m.group("obj"))
                if _ALL.match(_clean_np(obj)):
                    raise ParseError(f"'{clause}': say where to put them (e.g. 'put all the "
                                     "red objects in the box')")
                target = self._resolve_object(obj, clause)
                self._last_object = target
                self._holding = True
                return [Step("pick", target=target, text=clause)]
        raise ParseError(f"cannot understand '{clause}': expected 'pick X', "
                         "'put X in/on/next to/left of Y' or 'go home'")

    def _place_clause(self, clause: str, obj: str, prep: str, anchor: str) -> list[Step]:
        relation = next(r for p, r in _PREP if p == prep)
        obj = _clean_np(obj)
        all_match = _ALL.match(obj)
        if all_match:
            anchor_np = self._resolve_anchor(anchor, clause)
            self._last_placed = anchor_np
            return [Step("for_all", target=_clean_np(all_match.group(1)), relation=relation,
                         anchor=anchor_np, text=clause)]
        steps: list[Step] = []
        if obj in _PRONOUNS_OBJ and self._holding:
            target = self._last_object
        else:
            targets = [self._resolve_object(o, clause) for o in re.split(r"\s+and\s+", obj)]
            if len(targets) > 1:
                anchor_np = self._resolve_anchor(anchor, clause)
                for t in targets:
                    steps += [Step("pick", target=t, text=clause),
                              Step("place", relation=relation, anchor=anchor_np, text=clause)]
                self._last_object, self._last_placed = targets[-1], targets[-1]
                self._holding = False
                return steps
            target = targets[0]
            steps.append(Step("pick", target=target, text=clause))
        self._last_object = target
        anchor_np = self._resolve_anchor(anchor, clause)
        steps.append(Step("place", relation=relation, anchor=anchor_np, text=clause))
        self._last_object = target
        self._last_placed = target
        self._holding = False
        return steps


def parse_task(instruction: str) -> TaskPlan:
    return TaskParser().parse(instruction)
