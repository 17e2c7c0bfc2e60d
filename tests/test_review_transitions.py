"""The review state machine against a real SQLite database: every action from every status.

Items are put into a status directly (test setup); the actions of `service.review` then run for
real, with their audit events, their knowledge-base entries (learn / unlearn) and the workspace
revision that tells caches the entries changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from service import audit, review
from service.accounts import User, create_user, set_role
from service.audit import AuditEvent
from service.db import session_scope
from service.knowledge_base import Entry, Source, Workspace, get_workspace
from service.questionnaires import (
    ACCEPTED,
    DRAFTED,
    EDITED,
    FAILED,
    NEEDS_EXPERT,
    NO_EVIDENCE,
    PENDING,
    REJECTED,
    Item,
    Questionnaire,
    create_questionnaire,
    list_items,
)
from service.review import InvalidTransition, ReviewError, StaleVersion
from service.settings import Settings

PASSWORD = "a long enough password"
QUESTIONS = [
    "サーバーの時刻はNTP等で同期されていますか。",
    "データのバックアップは何世代保管されていますか。",
    "管理者ログインに多要素認証を利用できますか。",
    "Is customer data encrypted in transit?",
    "Do you notify customers of security incidents?",
    "ご契約終了時のデータ消去方法を教えてください。",
    "脆弱性診断を定期的に実施していますか。",
    "Do you keep access logs for one year?",
    "データセンターは国内にありますか。",
    "Is there a documented incident response plan?",
    "パスワードの最低文字数を教えてください。",
    "Do you run background checks on employees?",
]


def questionnaire_csv(questions: list[str]) -> bytes:
    return ("No,質問,回答\n" + "".join(f"{n},{q},\n" for n, q in enumerate(questions, start=1))).encode()


@dataclass
class World:
    url: str
    session: Session
    reviewer: User
    expert: User
    workspace: Workspace
    questionnaire: Questionnaire

    @property
    def items(self) -> list[Item]:
        return list_items(self.session, self.questionnaire)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int, int]:
    """One SQLite database for the module, with its two users (password hashing is slow on purpose)."""
    url = Settings(home=tmp_path_factory.mktemp("review") / "home").resolved_database_url
    with session_scope(url) as session:
        reviewer = create_user(session, "rev@acme.test", PASSWORD)
        expert = create_user(session, "expert@acme.test", PASSWORD)
        return url, reviewer.id, expert.id


@pytest.fixture
def world(database: tuple[str, int, int]) -> Iterator[World]:
    """A workspace of its own for each test: its entries, revision and audit trail start empty."""
    url, reviewer_id, expert_id = database
    with session_scope(url) as session:
        reviewer, expert = session.get(User, reviewer_id), session.get(User, expert_id)
        name = f"acme-{uuid.uuid4().hex[:12]}"
        set_role(session, reviewer, name, "reviewer")
        set_role(session, expert, name, "admin")
        workspace = get_workspace(session, name)
        questionnaire = create_questionnaire(session, workspace, "customer.csv", questionnaire_csv(QUESTIONS), reviewer)
        yield World(url, session, reviewer, expert, workspace, questionnaire)


# ---------------------------------------------------------------- starting states (test setup)

DRAFT = "NTPサーバーと時刻を同期しています。"
CITATIONS = [
    {"entry_id": "e" * 32, "source": "000_seed.txt", "locator": "No.27", "text": "時刻\n同期", "product": None}
]
DRAFTED_FIELDS: dict[str, Any] = {
    "draft_choice": "はい",
    "draft_answer": DRAFT,
    "choice": "はい",
    "answer": DRAFT,
    "confidence": 0.8,
    "drafter": "offline",
    "citations": CITATIONS,
}
NOTHING_FOUND: dict[str, Any] = {
    "draft_choice": None,
    "draft_answer": "",
    "choice": None,
    "answer": "",
    "confidence": 0.1,
}

# name -> (status, fields): every status, and the statuses an answer may or may not come with.
STARTS: dict[str, tuple[str, dict[str, Any]]] = {
    "pending": (PENDING, {}),
    "drafted": (DRAFTED, DRAFTED_FIELDS),
    "drafted_choice_only": (DRAFTED, DRAFTED_FIELDS | {"draft_answer": "", "answer": ""}),
    "no_evidence": (NO_EVIDENCE, NOTHING_FOUND),
    "accepted": (ACCEPTED, DRAFTED_FIELDS),
    "edited": (EDITED, DRAFTED_FIELDS | {"choice": "いいえ", "answer": "手動で時刻を合わせています。"}),
    "rejected": (REJECTED, DRAFTED_FIELDS),
    "rejected_unanswered": (REJECTED, NOTHING_FOUND),
    "needs_expert": (NEEDS_EXPERT, NOTHING_FOUND),
    "needs_expert_drafted": (NEEDS_EXPERT, DRAFTED_FIELDS),
    "failed": (FAILED, {"error": "RuntimeError: the drafter crashed"}),
}


def put(session: Session, item: Item, start: str) -> Item:
    status, fields = STARTS[start]
    item.status = status
    for key, value in fields.items():
        setattr(item, key, value)
    session.flush()
    return item


# ---------------------------------------------------------------- the actions

EDIT_CHOICE = "いいえ"
EDIT_ANSWER = "  社内のNTPサーバーとは同期していません。  "


def _accept(w: World, item: Item, version: int) -> Item:
    return review.accept(w.session, item, w.reviewer, version)


def _edit(w: World, item: Item, version: int) -> Item:
    return review.edit(w.session, item, w.reviewer, version, EDIT_CHOICE, EDIT_ANSWER)


def _reject(w: World, item: Item, version: int) -> Item:
    return review.reject(w.session, item, w.reviewer, version)


def _needs_expert(w: World, item: Item, version: int) -> Item:
    return review.needs_expert(w.session, item, w.reviewer, version)


def _assign(w: World, item: Item, version: int) -> Item:
    return review.assign(w.session, item, w.reviewer, version, w.expert)


ACTIONS: dict[str, Callable[[World, Item, int], Item]] = {
    "accept": _accept,
    "edit": _edit,
    "reject": _reject,
    "needs_expert": _needs_expert,
    "assign": _assign,
}

NO = "refused"  # InvalidTransition, nothing written
# start -> the status each action leads to:  accept     edit     reject     needs_expert  assign
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    "pending": (NO, NO, NO, NO, PENDING),
    "drafted": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, DRAFTED),
    "drafted_choice_only": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, DRAFTED),
    "no_evidence": (NO, EDITED, REJECTED, NEEDS_EXPERT, NO_EVIDENCE),
    "accepted": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, ACCEPTED),
    "edited": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, EDITED),
    "rejected": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, REJECTED),
    "rejected_unanswered": (NO, EDITED, REJECTED, NEEDS_EXPERT, REJECTED),
    "needs_expert": (NO, EDITED, REJECTED, NEEDS_EXPERT, NEEDS_EXPERT),
    "needs_expert_drafted": (ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, NEEDS_EXPERT),
    "failed": (NO, EDITED, REJECTED, NEEDS_EXPERT, FAILED),
}
CASES = [(start, action, TABLE[start][n]) for start in TABLE for n, action in enumerate(ACTIONS)]


# ---------------------------------------------------------------- what the database holds


def item_events(w: World, item: Item) -> list[AuditEvent]:
    return [e for e, _ in audit.for_questionnaire(w.session, item.questionnaire_id) if e.item_id == item.id]


def review_entries(w: World) -> list[Entry]:
    query = (
        select(Entry)
        .join(Source, Source.id == Entry.source_id)
        .where(Entry.workspace_id == w.workspace.id, Source.kind == "review")
        .order_by(Entry.locator)
    )
    return list(w.session.scalars(query))


def revision(w: World) -> int:
    """Read from the database, not from the loaded Workspace object."""
    return w.session.scalar(select(Workspace.revision).where(Workspace.id == w.workspace.id))


def state(item: Item) -> dict[str, Any]:
    return review.snapshot(item) | {"updated_by": item.updated_by, "draft_answer": item.draft_answer}


def assert_learned(w: World, item: Item) -> Entry:
    """The approved answer is one knowledge-base entry, with where it came from and who approved it."""
    (entry,) = [e for e in review_entries(w) if e.provenance and e.provenance["item_id"] == item.id]
    assert entry.question == item.question and entry.locator == item.ref
    assert entry.answer == (item.answer or item.choice)
    assert entry.language == item.language and entry.workspace_id == w.workspace.id
    assert entry.source.name == f"review #{w.questionnaire.id}: customer.csv"
    provenance = entry.provenance
    assert provenance["questionnaire_id"] == w.questionnaire.id and provenance["questionnaire"] == "customer.csv"
    assert provenance["reviewer"] == "rev@acme.test" and provenance["approved_at"]
    return entry


# ---------------------------------------------------------------- every (status, action)


@pytest.mark.parametrize(("start", "action", "expected"), CASES, ids=[f"{s}-{a}" for s, a, _ in CASES])
def test_every_action_from_every_status(world: World, start: str, action: str, expected: str) -> None:
    item = put(world.session, world.items[0], start)
    before = review.snapshot(item)
    draft_before = (item.draft_choice, item.draft_answer, item.citations, item.confidence)
    revision_before = revision(world)

    if expected == NO:
        with pytest.raises(InvalidTransition):
            ACTIONS[action](world, item, item.version)
        world.session.refresh(item)
        assert review.snapshot(item) == before
        assert item_events(world, item) == []
        assert review_entries(world) == [] and revision(world) == revision_before
        return

    assert ACTIONS[action](world, item, before["version"]) is item
    world.session.refresh(item)  # what was written, not what is held in memory
    assert item.status == expected
    assert item.version == before["version"] + 1 and item.updated_by == world.reviewer.id
    if action == "edit":
        assert (item.choice, item.answer) == (EDIT_CHOICE, EDIT_ANSWER.strip())
    else:
        assert (item.choice, item.answer) == (before["choice"], before["answer"])
    assert item.assignee_id == (world.expert.id if action == "assign" else before["assignee_id"])
    # The draft as the drafter made it, with its citations, is never rewritten by review.
    assert (item.draft_choice, item.draft_answer, item.citations, item.confidence) == draft_before

    (event,) = item_events(world, item)
    assert event.action == f"item.{action}" and event.user_id == world.reviewer.id
    assert event.workspace_id == world.workspace.id and event.questionnaire_id == world.questionnaire.id
    assert event.before == before and event.after == review.snapshot(item)

    if action in ("accept", "edit"):
        assert_learned(world, item)
        assert revision(world) == revision_before + 1
    else:  # nothing was learned from this item, so nothing is withdrawn and no cache goes stale
        assert review_entries(world) == [] and revision(world) == revision_before


def test_the_table_starts_from_every_status() -> None:
    statuses = {PENDING, DRAFTED, NO_EVIDENCE, ACCEPTED, EDITED, REJECTED, NEEDS_EXPERT, FAILED}
    assert {status for status, _ in STARTS.values()} == statuses and set(TABLE) == set(STARTS)


@pytest.mark.parametrize("start", ["drafted", "no_evidence", "failed", "accepted"])
@pytest.mark.parametrize(("choice", "answer"), [(None, ""), (None, "   \n "), ("", "  ")])
def test_an_edit_needs_a_choice_or_a_text(world: World, start: str, choice: str | None, answer: str) -> None:
    item = put(world.session, world.items[0], start)
    before = review.snapshot(item)
    with pytest.raises(InvalidTransition):
        review.edit(world.session, item, world.reviewer, item.version, choice, answer)
    world.session.refresh(item)
    assert review.snapshot(item) == before and item_events(world, item) == [] and review_entries(world) == []


def test_an_edit_with_only_a_choice_teaches_the_choice(world: World) -> None:
    item = put(world.session, world.items[0], "no_evidence")
    review.edit(world.session, item, world.reviewer, item.version, "いいえ", "  ")
    assert (item.status, item.choice, item.answer) == (EDITED, "いいえ", "")
    assert assert_learned(world, item).answer == "いいえ"


# ---------------------------------------------------------------- optimistic locking


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("offset", [-1, 1])
def test_a_stale_version_changes_nothing(world: World, action: str, offset: int) -> None:
    item = put(world.session, world.items[0], "drafted")
    before = state(item)
    revision_before = revision(world)
    with pytest.raises(StaleVersion) as raised:
        ACTIONS[action](world, item, item.version + offset)
    assert raised.value.item_id == item.id and raised.value.status_code == 409
    world.session.refresh(item)
    assert state(item) == before
    assert item_events(world, item) == [] and review_entries(world) == [] and revision(world) == revision_before


@pytest.mark.parametrize("start", ["pending", "no_evidence"])
def test_a_stale_version_is_reported_before_an_invalid_transition(world: World, start: str) -> None:
    """The client's view is out of date: it must reload before being told what the item allows."""
    item = put(world.session, world.items[0], start)
    with pytest.raises(StaleVersion):
        review.accept(world.session, item, world.reviewer, item.version - 1)


def test_a_concurrent_writer_cannot_overwrite(world: World) -> None:
    """Two reviewers read version v; the second one's write fails instead of overwriting the first."""
    item_id = put(world.session, world.items[0], "drafted").id
    world.session.commit()
    url = world.url
    with session_scope(url) as first, session_scope(url) as second:
        reviewer_1, reviewer_2 = first.get(User, world.reviewer.id), second.get(User, world.expert.id)
        mine, theirs = first.get(Item, item_id), second.get(Item, item_id)
        version = mine.version
        assert theirs.version == version
        review.accept(first, mine, reviewer_1, version)
        first.commit()
        with pytest.raises(StaleDataError):
            review.reject(second, theirs, reviewer_2, version)  # its loaded copy still says version v
        second.rollback()
    with session_scope(url) as check:
        item = check.get(Item, item_id)
        assert item.status == ACCEPTED and item.version == version + 1
        actions = [e.action for e, _ in audit.for_questionnaire(check, item.questionnaire_id) if e.item_id == item_id]
        assert actions == ["item.accept"]


# ---------------------------------------------------------------- learning and unlearning


@pytest.mark.parametrize("approve", ["accept", "edit"])
@pytest.mark.parametrize("withdraw", ["reject", "needs_expert"])
def test_withdrawing_an_approved_answer_unlearns_it(world: World, approve: str, withdraw: str) -> None:
    item = put(world.session, world.items[0], "drafted")
    start = revision(world)
    ACTIONS[approve](world, item, item.version)
    entry_id = assert_learned(world, item).id
    assert revision(world) == start + 1
    ACTIONS[withdraw](world, item, item.version)
    assert world.session.get(Entry, entry_id) is None and review_entries(world) == []
    assert revision(world) == start + 2
    # Withdrawn twice: nothing left to remove, so the caches are not told of a change.
    ACTIONS[withdraw](world, item, item.version)
    assert revision(world) == start + 2


def test_an_edit_after_an_accept_updates_the_same_entry(world: World) -> None:
    item = put(world.session, world.items[0], "drafted")
    start = revision(world)
    review.accept(world.session, item, world.reviewer, item.version)
    accepted = assert_learned(world, item)
    assert accepted.answer == DRAFT and accepted.choice == "yes"
    review.edit(world.session, item, world.reviewer, item.version, EDIT_CHOICE, EDIT_ANSWER)
    (edited,) = review_entries(world)
    assert edited.id == accepted.id and edited.answer == EDIT_ANSWER.strip() and edited.choice == "no"
    assert revision(world) == start + 2


def test_each_approval_is_its_own_entry_and_its_own_revision(world: World) -> None:
    first, second, third = (put(world.session, item, "drafted") for item in world.items[:3])
    start = revision(world)
    for number, item in enumerate((first, second, third), start=1):
        review.accept(world.session, item, world.reviewer, item.version)
        assert revision(world) == start + number
    assert sorted(e.provenance["item_id"] for e in review_entries(world)) == sorted([first.id, second.id, third.id])


def test_the_loaded_workspace_sees_the_new_revision(world: World) -> None:
    """The bump is an UPDATE in the database; a Workspace object already loaded must not keep the old value."""
    start = world.workspace.revision
    item = put(world.session, world.items[0], "drafted")
    review.accept(world.session, item, world.reviewer, item.version)
    assert world.workspace.revision == start + 1 == revision(world)


def test_two_sessions_approving_at_once_lose_no_revision(world: World) -> None:
    """Both sessions loaded the workspace at revision r before either wrote: the atomic UPDATE ends at r+2."""
    first_id, second_id = (put(world.session, item, "drafted").id for item in world.items[:2])
    world.session.commit()
    url = world.url
    start = revision(world)
    with session_scope(url) as one, session_scope(url) as two:
        # Each request holds its own loaded copy of the workspace, read before either one wrote.
        loaded = [s.get(Workspace, world.workspace.id) for s in (one, two)]
        assert [w.revision for w in loaded] == [start, start]
        item_one, item_two = one.get(Item, first_id), two.get(Item, second_id)
        review.accept(one, item_one, one.get(User, world.reviewer.id), item_one.version)
        one.commit()
        review.accept(two, item_two, two.get(User, world.expert.id), item_two.version)
        two.commit()
        assert loaded[1].revision == start + 2
    with session_scope(url) as check:
        assert check.get(Workspace, world.workspace.id).revision == start + 2


def test_an_answer_the_workspace_already_holds_is_not_stored_twice(world: World) -> None:
    same = world.items[0].question
    other = create_questionnaire(
        world.session, world.workspace, "next-year.csv", questionnaire_csv([same]), world.reviewer
    )
    original = put(world.session, world.items[0], "drafted")
    repeat = put(world.session, other.items[0], "drafted")
    review.accept(world.session, original, world.reviewer, original.version)
    start = revision(world)

    review.accept(world.session, repeat, world.reviewer, repeat.version)  # the very same answer again
    assert repeat.status == ACCEPTED
    assert [e.provenance["item_id"] for e in review_entries(world)] == [original.id]
    assert revision(world) == start  # no entry changed

    review.edit(world.session, repeat, world.reviewer, repeat.version, "いいえ", "今年から同期していません。")
    assert sorted(e.provenance["item_id"] for e in review_entries(world)) == sorted([original.id, repeat.id])
    assert revision(world) == start + 1

    # Edited back to the answer the workspace holds: its own entry goes, the original stays.
    review.edit(world.session, repeat, world.reviewer, repeat.version, "はい", f"  {DRAFT} ")
    assert [e.provenance["item_id"] for e in review_entries(world)] == [original.id]
    assert revision(world) == start + 2


# ---------------------------------------------------------------- bulk accept


def test_bulk_accept_takes_only_untouched_unflagged_drafts_at_or_above_the_confidence(world: World) -> None:
    items = world.items
    setups: list[tuple[str, float, list[str]]] = [
        ("drafted", 0.9, []),  # taken
        ("drafted", 0.5, []),  # taken: at the bar
        ("drafted", 0.4999, []),
        ("drafted_choice_only", 0.7, []),  # taken: a choice is an answer
        ("drafted", 0.95, ["conflicting_evidence"]),  # a flagged draft needs a person's eye
        ("no_evidence", 0.9, []),
        ("accepted", 0.95, []),
        ("edited", 0.9, []),
        ("rejected", 0.9, []),
        ("needs_expert_drafted", 0.9, []),
        ("failed", 0.9, []),
        ("pending", 0.9, []),
    ]
    assert len(items) == len(setups)
    for item, (start, confidence, flags) in zip(items, setups, strict=True):
        put(world.session, item, start)
        item.confidence, item.flags = confidence, flags
    world.session.flush()
    before = {item.id: review.snapshot(item) for item in items}
    start_revision = revision(world)

    accepted = review.bulk_accept(world.session, world.questionnaire, world.reviewer, 0.5)

    taken = [items[0], items[1], items[3]]
    assert accepted == taken  # in questionnaire order
    for item in items:
        world.session.refresh(item)
        events = item_events(world, item)
        if item in taken:
            assert item.status == ACCEPTED and item.version == before[item.id]["version"] + 1
            (event,) = events
            assert event.action == "item.accept" and event.before == before[item.id]
            assert event.after == review.snapshot(item)
            assert_learned(world, item)
        else:
            assert review.snapshot(item) == before[item.id] and events == []
    assert len(review_entries(world)) == len(taken)
    assert revision(world) == start_revision + len(taken)


def test_bulk_accept_above_every_confidence_accepts_nothing(world: World) -> None:
    for item in world.items:
        put(world.session, item, "drafted").confidence = 0.6
    world.session.flush()
    assert review.bulk_accept(world.session, world.questionnaire, world.reviewer, 0.61) == []
    assert {i.status for i in world.items} == {DRAFTED}
    assert review_entries(world) == [] and all(item_events(world, i) == [] for i in world.items)
    assert len(review.bulk_accept(world.session, world.questionnaire, world.reviewer, 0.0)) == len(QUESTIONS)


# ---------------------------------------------------------------- comments


@pytest.mark.parametrize("start", list(STARTS))
def test_anyone_reviewing_may_comment_in_any_status(world: World, start: str) -> None:
    item = put(world.session, world.items[0], start)
    before = state(item)
    revision_before = revision(world)
    comment = review.add_comment(world.session, item, world.reviewer, "  法務に確認中です。 ")
    assert comment.text == "法務に確認中です。" and comment.item_id == item.id
    review.add_comment(world.session, item, world.expert, "確認しました")
    assert [(c.text, email) for c, email in review.comments(world.session, item)] == [
        ("法務に確認中です。", "rev@acme.test"),
        ("確認しました", "expert@acme.test"),
    ]
    world.session.refresh(item)
    assert state(item) == before  # a comment is no change of the answer
    events = item_events(world, item)
    assert [(e.action, e.user_id) for e in events] == [
        ("item.comment", world.reviewer.id),
        ("item.comment", world.expert.id),
    ]
    assert events[0].before is None and events[0].after == {"text": "法務に確認中です。"}
    assert review_entries(world) == [] and revision(world) == revision_before


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_comment_is_refused(world: World, text: str) -> None:
    item = put(world.session, world.items[0], "drafted")
    with pytest.raises(ReviewError) as raised:
        review.add_comment(world.session, item, world.reviewer, text)
    assert not isinstance(raised.value, InvalidTransition) and raised.value.status_code == 400
    assert review.comments(world.session, item) == [] and item_events(world, item) == []


def test_assigning_nobody_clears_the_assignee(world: World) -> None:
    item = put(world.session, world.items[0], "drafted")
    review.assign(world.session, item, world.reviewer, item.version, world.expert)
    assert item.assignee_id == world.expert.id
    review.assign(world.session, item, world.reviewer, item.version, None)
    assert item.assignee_id is None and item.status == DRAFTED
    first, second = item_events(world, item)
    assert (first.after["assignee_id"], second.before["assignee_id"], second.after["assignee_id"]) == (
        world.expert.id,
        world.expert.id,
        None,
    )
