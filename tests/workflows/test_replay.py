"""Every saved history (``tests/histories/``) replays on the current code.

A change to a journey, or to the runtime under it, that would break journeys already running
fails here, naming the journey and the history file. Regenerate the histories with
``python -m tests.histories.record`` after a change that is safe (new branches, or a change
behind ``workflow.patched()``); the old files stay and must keep replaying.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from temporalio.workflow import NondeterminismError

from journeys.registry import ALL
from journeys.welcome import Welcome
from tests.histories.recorder import COMMAND_EVENTS, ROOT, save
from tests.histories.variants import PatchedWelcome, PausedWelcome
from tests.segments.journey_fixture import WaitingJourney
from tests.segments.verbs_fixture import Probe
from tests.workflows.sample_journeys import SAMPLES
from worker.registry import WORKFLOWS
from worker.replay import Replayed, load, replay
from worker.temporal import replay_converter

# The registry's workflows, and the test-only ones whose histories are saved too.
EVERY = (*WORKFLOWS, *SAMPLES, WaitingJourney, Probe)


def saved(journey: str | None = None) -> list[Path]:
    folder = ROOT / journey if journey else ROOT
    return sorted(folder.rglob("*.json"))


async def replay_files(paths: list[Path], workflows: Sequence[type]) -> list[Replayed]:
    return await replay(
        ((str(p.relative_to(ROOT.parent.parent)), load(p)) for p in paths),
        workflows,
        replay_converter(),
    )


async def test_every_saved_history_replays_on_the_current_code() -> None:
    outcomes = await replay_files(saved(), EVERY)
    broken = [o.describe() for o in outcomes if not o.ok]
    assert not broken, (
        "these histories no longer replay, so running journeys would break: guard the change "
        "with workflow.patched() (README, 'Changing a running journey')\n" + "\n".join(broken)
    )


def test_every_registered_journey_has_saved_histories() -> None:
    missing = [j.spec.name for j in ALL if not saved(j.spec.name)]
    assert not missing, (
        f"no saved histories for {missing}: test the journey's branches in the time-skipping "
        "environment, then run `python -m tests.histories.record`"
    )


async def test_a_new_step_before_the_first_send_breaks_welcome_naming_each_history() -> None:
    paths = saved("welcome")
    others = [w for w in EVERY if w is not Welcome]
    outcomes = await replay_files(paths, [PausedWelcome, *others])
    assert len(outcomes) == len(paths) > 0
    for path, outcome in zip(paths, outcomes, strict=True):
        assert isinstance(outcome.error, NondeterminismError), outcome.describe()
        assert path.name in outcome.describe() and "welcome" in outcome.describe()


async def test_the_same_step_behind_patched_replays_every_welcome_history() -> None:
    others = [w for w in EVERY if w is not Welcome]
    outcomes = await replay_files(saved("welcome"), [PatchedWelcome, *others])
    assert [o.describe() for o in outcomes if not o.ok] == []


async def test_a_history_of_a_journey_the_code_no_longer_has_is_reported() -> None:
    [path, *_] = saved("welcome")
    others = [w for w in EVERY if w is not Welcome]
    [outcome] = await replay_files([path], others)
    assert isinstance(outcome.error, LookupError)
    assert "'welcome'" in outcome.describe() and path.name in outcome.describe()


def test_recording_never_overwrites_and_adds_only_changed_histories(tmp_path: Path) -> None:
    [path, *_] = saved("welcome")
    original = load(path)
    assert save(original, tmp_path, "branch", "v1") == tmp_path / "branch.v1.json"
    # Same commands again (a later recording of unchanged code): nothing new.
    assert save(original, tmp_path, "branch", "v2") is None
    changed = load(path)
    while changed.events[-1].event_type not in COMMAND_EVENTS:
        del changed.events[-1]
    del changed.events[-1]  # one command fewer: a history of different behaviour
    written = save(changed, tmp_path, "branch", "v1")
    assert written == tmp_path / "branch.v1~2.json"
    assert load(tmp_path / "branch.v1.json").events == original.events
