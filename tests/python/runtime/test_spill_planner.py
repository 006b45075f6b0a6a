"""The activation spill planner (r1/memory/spill_planner.h) against its model and an exhaustive search.

From the planner's answer alone the test re-derives every buffer's memory (the original slot until the step after
the write, the read-back slot from the step before the read) and checks that buffers live at the same step never
share bytes, that every cut lies in a real gap between two reads, and that the arena fits the limit whenever it
says so. On small cases an exhaustive search over every set of cuts finds the least bytes moved that fits: the
greedy planner must fit whenever a fitting set exists that frees the peak, and stay close to the optimum.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepseek_r1 import InputError, _core

KIB = 1024


def align(n: int) -> int:
    return (n + 63) // 64 * 64


@st.composite
def lifetimes(draw, max_buffers: int = 12, max_steps: int = 24):
    """Buffers (size, first, last) with their reads: sizes from 64 KiB up (the planner ignores smaller)."""
    steps = draw(st.integers(6, max_steps))
    n = draw(st.integers(1, max_buffers))
    bufs, reads = [], []
    for _ in range(n):
        first = draw(st.integers(0, steps - 2))
        later = draw(st.lists(st.integers(first + 1, steps - 1), min_size=1, max_size=4, unique=True))
        size = draw(st.integers(64, 4096)) * KIB
        bufs.append((size, first, max(later)))
        reads.append(sorted(later))
    return bufs, reads


def check_valid(bufs, reads, plan, made=()):
    """The planner's own answer, re-derived: cuts in real gaps, no two live buffers overlap."""
    n = len(bufs)
    out = plan["buffers"]
    assert len(out) == n + len(plan["spills"])
    cut = set()
    leads = {lead for _, _, _, lead in plan["spills"]}
    assert len(leads) <= 1, "one lead for every copy of a plan"
    for k, (b, after, use, lead) in enumerate(plan["spills"]):
        assert b not in cut, "a buffer is cut once"
        cut.add(b)
        size, first, last = bufs[b]
        points = [made[b] if made else first] + reads[b]
        assert (after, use) in list(itertools.pairwise(points)), "a cut lies between two consecutive reads"
        assert lead in (0, 1) and use - after >= 2 + 2 * lead, "a cut frees at least one step"
        assert size >= _core.MIN_SPILL_BYTES
        assert out[b] == (size, first, after + lead)
        assert out[n + k] == (size, use - lead, last)
    for i in range(n):
        if i not in cut:
            assert out[i] == bufs[i]
    offs = plan["offsets"]
    arena = 0
    for i, (si, fi, li) in enumerate(out):
        arena = max(arena, offs[i] + align(si))
        for j in range(i):
            sj, fj, lj = out[j]
            if li < fj or lj < fi:
                continue
            assert offs[i] + align(si) <= offs[j] or offs[j] + align(sj) <= offs[i], (i, j, out, offs)
    assert plan["arena_bytes"] == arena
    assert plan["bytes_moved"] == sum(2 * bufs[b][0] for b, _, _, _ in plan["spills"])


@settings(max_examples=300, deadline=None)
@given(lifetimes(), st.floats(0.0, 1.2))
def test_plans_are_valid_and_fit_when_they_say_so(case, frac):
    bufs, reads = case
    base = _core.plan_memory(bufs)["arena_bytes"]
    limit = int(base * frac)
    plan = _core.plan_spills(bufs, reads, limit)
    check_valid(bufs, reads, plan)
    assert plan["fits"] == (plan["arena_bytes"] <= limit)
    assert plan["arena_bytes"] <= base, "spilling never makes the arena larger than not spilling"
    if base <= limit:
        assert plan["spills"] == [] and plan["fits"]


def exhaustive(bufs, reads, limit, leads=(1, 0)):
    """The least bytes moved over every set of cuts (one gap per buffer at most, one lead for all) that fits."""
    best = None
    for lead in leads:
        options = []
        for (size, first, _), r in zip(bufs, reads):
            pts = [first] + r
            ok = size >= _core.MIN_SPILL_BYTES
            options.append([None] + [(a, b) for a, b in itertools.pairwise(pts) if ok and b - a >= 2 + 2 * lead])
        for combo in itertools.product(*options):
            out, extra, moved = [], [], 0
            for (size, first, last), g in zip(bufs, combo):
                if g is None:
                    out.append((size, first, last))
                else:
                    out.append((size, first, g[0] + lead))
                    extra.append((size, g[1] - lead, last))
                    moved += 2 * size
            if best is not None and moved >= best:
                continue
            if _core.plan_memory(out + extra)["arena_bytes"] <= limit:
                best = moved
    return best


def test_close_to_the_exhaustive_optimum():
    """On 300 random small cases with a limit some set of cuts meets: how often greedy fits, and at what cost."""
    import random

    rng = random.Random(12)
    cases = fitted = optimal = 0
    worst = 1.0
    while cases < 300:
        steps = rng.randint(8, 16)
        n = rng.randint(2, 6)
        bufs, reads = [], []
        for _ in range(n):
            first = rng.randint(0, steps - 2)
            later = sorted(rng.sample(range(first + 1, steps), rng.randint(1, min(3, steps - 1 - first))))
            bufs.append((rng.randint(1, 16) * 64 * KIB, first, later[-1]))
            reads.append(later)
        base = _core.plan_memory(bufs)["arena_bytes"]
        limit = int(base * rng.uniform(0.3, 0.95))
        best = exhaustive(bufs, reads, limit)
        if best is None:
            continue
        cases += 1
        plan = _core.plan_spills(bufs, reads, limit)
        check_valid(bufs, reads, plan)
        if plan["fits"]:
            fitted += 1
            # Against the best with the plan's own lead (lead 1 moves more where it must, to overlap the copies).
            lead = plan["spills"][0][3] if plan["spills"] else 1
            best = exhaustive(bufs, reads, limit, (lead,)) if plan["spills"] else 0
            optimal += plan["bytes_moved"] == best
            worst = max(worst, plan["bytes_moved"] / best if best else 1.0)
    # Measured: fits 278 of the 300 where a plan exists, the least bytes for its lead on 264, 2.6x at worst.
    assert fitted >= 0.9 * cases, (fitted, cases)
    assert optimal >= 0.85 * cases, (optimal, cases)
    assert worst <= 3.0, worst


def test_skip_connections_spill_until_the_arena_fits():
    """U-Net-like: activations made at steps 0 and 1 and read at 20 and 19, a chain of 4 MiB buffers between.
    Without spills 16 MiB (two skips, two chain buffers); a 12 MiB limit fits only with copies that do not overlap
    the compute (lead 0: a read a step ahead would hold a fourth buffer at step 19), 16 MiB with no spill at all."""
    mib = 1 << 20
    bufs = [(4 * mib, 0, 20), (4 * mib, 1, 19)] + [(4 * mib, s, s + 1) for s in range(2, 20)]
    reads = [[20], [19]] + [[s + 1] for s in range(2, 20)]
    assert _core.plan_memory(bufs)["arena_bytes"] == 16 * mib
    plan = _core.plan_spills(bufs, reads, 12 * mib)
    assert plan["spills"] == [(0, 0, 20, 0)]  # the other skip is read back before the peak at step 20
    assert plan["fits"] and plan["arena_bytes"] == 12 * mib
    assert plan["bytes_moved"] == 8 * mib
    check_valid(bufs, reads, plan)
    assert _core.plan_spills(bufs, reads, 16 * mib)["spills"] == []
    # Room for the overlap: 14 MiB is not 16, so one skip spills (lead 1 where it fits).
    wide = _core.plan_spills(bufs, reads, 14 * mib)
    check_valid(bufs, reads, wide)
    assert wide["fits"] and len(wide["spills"]) >= 1


def test_nothing_to_cut_returns_the_plain_plan():
    mib = 1 << 20
    bufs = [(4 * mib, 0, 1), (4 * mib, 1, 2)]  # short lives, no gap to cut
    plan = _core.plan_spills(bufs, [[1], [2]], 1 * mib)
    assert plan["spills"] == [] and not plan["fits"] and plan["arena_bytes"] == 8 * mib


def test_in_place_and_small_buffers_are_never_cut():
    mib = 1 << 20
    bufs = [(4 * mib, 0, 3), (4 * mib, 3, 12, 0), (32 * KIB, 0, 12)] + [(4 * mib, s, s + 1) for s in range(4, 11)]
    reads = [[3], [12], [12]] + [[s + 1] for s in range(4, 11)]
    plan = _core.plan_spills(bufs, reads, 4 * mib)
    assert all(b not in (0, 1, 2) for b, _, _ in plan["spills"])


@pytest.mark.parametrize(
    "bufs, reads",
    [
        ([(65536, 0, 5)], []),  # a read list missing
        ([(65536, 0, 5)], [[0]]),  # a read at the step that makes it
        ([(65536, 0, 5)], [[6]]),  # a read after its last step
        ([(65536, 0, 5)], [[4, 2]]),  # not ascending
    ],
)
def test_malformed_reads_are_input_errors(bufs, reads):
    with pytest.raises(InputError):
        _core.plan_spills(bufs, reads, 0)


def test_a_write_out_never_starts_before_the_step_that_makes_the_buffer():
    """A buffer whose lifetime was widened to start at step 0 (a group) but which step 1 writes: cut only after 1."""
    mib = 1 << 20
    bufs = [(4 * mib, 0, 12), (4 * mib, 0, 2)] + [(4 * mib, s, s + 1) for s in range(2, 12)]
    reads = [[12], [2]] + [[s + 1] for s in range(2, 12)]
    for made in ([], [1, 0] + list(range(2, 12))):
        plan = _core.plan_spills(bufs, reads, 8 * mib, made)
        check_valid(bufs, reads, plan, made)
        cut = {b: after for b, after, _, _ in plan["spills"]}
        assert 0 in cut
        assert cut[0] >= (made[0] if made else 0)
    with pytest.raises(InputError, match="made at step"):
        _core.plan_spills(bufs, reads, 8 * mib, [13] + list(range(1, 12)))
