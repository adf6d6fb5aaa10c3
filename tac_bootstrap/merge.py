"""Line-based three-way merge with diff3 conflict markers, written for tac-bootstrap (MIT).

The algorithm is the one ``git merge-file --diff3`` uses, so that a user who knows git's
merges knows ours: each side is diffed against the base with Myers' O(ND) algorithm (lines
found in only one file are set aside first, and each run of changed lines is slid down as
far as it goes, then back to line up with a change on the other side); changes of the two
sides that overlap or touch form one conflict, unless both made exactly the same change.
The test suite checks verdicts and results against ``git merge-file`` with Hypothesis.

Line endings are normalised first (CRLF read as LF; the result uses CRLF when every line of
*yours* did), and a last line without a newline is a line of its own, different from the
same text with one: where such a line ends inside a conflict, the markers still start on a
line of their own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

MARKER_SIZE = 7
_MAX_EQLIMIT = 1024
_SIMSCAN_WINDOW = 100
_KPDIS_RUN = 4
_MAX_COST_MIN = 256
_HEUR_MIN_COST = 256
_SNAKE_CNT = 20
_K_HEUR = 4
_LINE_MAX = 1 << 62

_CONFLICT, _YOURS, _THEIRS = 0, 1, 2


@dataclass(frozen=True)
class MergeResult:
    """The merged text and the number of conflicts written into it (0: a clean merge)."""

    text: str
    conflicts: int


@dataclass(frozen=True)
class Labels:
    """The names written after the conflict markers."""

    yours: str = "yours"
    base: str = "base"
    theirs: str = "theirs"


def split_lines(text: str) -> list[str]:
    """Split at newlines only, keeping the ends; a last line without one stays as it is."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def merge3(base: str, yours: str, theirs: str, labels: Labels | None = None) -> MergeResult:
    """Merge the changes from ``base`` to ``theirs`` into ``yours``.

    Returns:
        The merged text; conflicting regions hold ``<<<<<<< yours``, yours, ``||||||| base``,
        the base, ``=======``, theirs and ``>>>>>>> theirs`` (with ``labels``' names).
    """
    labels = labels or Labels()
    crlf = "\n" in yours and yours.count("\r\n") == yours.count("\n")
    lines0, lines1, lines2 = (split_lines(t.replace("\r\n", "\n")) for t in (base, yours, theirs))
    classes: dict[str, int] = {}
    ids0, ids1, ids2 = (
        [classes.setdefault(x, len(classes)) for x in ls] for ls in (lines0, lines1, lines2)
    )
    script1, script2 = diff(ids0, ids1), diff(ids0, ids2)
    if not script1:
        text, conflicts = "".join(lines2), 0
    elif not script2:
        text, conflicts = "".join(lines1), 0
    else:
        merges = _merges(
            script1, script2, ids1, ids2, len(lines1) - len(lines0), len(lines2) - len(lines0)
        )
        text = _fill(merges, lines0, lines1, lines2, labels)
        conflicts = sum(1 for m in merges if m.mode == _CONFLICT)
    if crlf:
        text = text.replace("\n", "\r\n")
    return MergeResult(text, conflicts)


# --- diff: Myers with git's preparation and compaction -------------------------------------


def _bogosqrt(n: int) -> int:
    i = 1
    while n > 0:
        n >>= 2
        i <<= 1
    return i


def diff(a: Sequence[int], b: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """Return the changes from ``a`` to ``b`` as ``(start_a, start_b, count_a, count_b)``."""
    n1, n2 = len(a), len(b)
    # rchg[i + 1] marks line i as changed; rchg[0] and rchg[n + 1] are sentinels.
    rchg1, rchg2 = [0] * (n1 + 2), [0] * (n2 + 2)
    start = 0
    while start < min(n1, n2) and a[start] == b[start]:
        start += 1
    tail = 0
    while tail < min(n1, n2) - start and a[n1 - 1 - tail] == b[n2 - 1 - tail]:
        tail += 1
    keep1 = _cleanup(a, b, start, n1 - tail - 1, rchg1)
    keep2 = _cleanup(b, a, start, n2 - tail - 1, rchg2)
    _Myers(a, b, keep1, keep2, rchg1, rchg2).compare()
    _compact(a, rchg1, rchg2)
    _compact(b, rchg2, rchg1)
    return _script(rchg1, rchg2, n1, n2)


def _cleanup(
    x: Sequence[int], other: Sequence[int], start: int, end: int, rchg: list[int]
) -> list[int]:
    """Set aside lines with no match in the other file (and runs of too common lines).

    Returns the indexes of the lines kept for the diff proper; the others are marked changed.
    """
    counts = Counter(other)
    limit = min(_bogosqrt(len(x)), _MAX_EQLIMIT)
    dis = {}
    for i in range(start, end + 1):
        matches = counts[x[i]]
        dis[i] = 0 if matches == 0 else 2 if matches >= limit else 1
    kept = []
    for i in range(start, end + 1):
        if dis[i] == 1 or (dis[i] == 2 and not _clean_mmatch(dis, i, start, end)):
            kept.append(i)
        else:
            rchg[i + 1] = 1
    return kept


def _clean_mmatch(dis: dict[int, int], i: int, s: int, e: int) -> bool:
    """Decide whether a line with many matches, among lines with none, is set aside too."""
    s, e = max(s, i - _SIMSCAN_WINDOW), min(e, i + _SIMSCAN_WINDOW)
    r, rdis0, rpdis0 = 1, 0, 1
    while i - r >= s:
        if not dis[i - r]:
            rdis0 += 1
        elif dis[i - r] == 2:
            rpdis0 += 1
        else:
            break
        r += 1
    if rdis0 == 0:
        return False
    r, rdis1, rpdis1 = 1, 0, 1
    while i + r <= e:
        if not dis[i + r]:
            rdis1 += 1
        elif dis[i + r] == 2:
            rpdis1 += 1
        else:
            break
        r += 1
    if rdis1 == 0:
        return False
    rdis1 += rdis0
    rpdis1 += rpdis0
    return rpdis1 * _KPDIS_RUN < rpdis1 + rdis1


class _Myers:
    """Myers' divide-and-conquer diff on the kept lines, with git's cost heuristics."""

    def __init__(
        self,
        a: Sequence[int],
        b: Sequence[int],
        keep1: list[int],
        keep2: list[int],
        rchg1: list[int],
        rchg2: list[int],
    ) -> None:
        self.ha1, self.ha2 = [a[i] for i in keep1], [b[i] for i in keep2]
        self.rindex1, self.rindex2 = keep1, keep2
        self.rchg1, self.rchg2 = rchg1, rchg2
        ndiags = len(keep1) + len(keep2) + 3
        self.kvdf = [0] * (2 * ndiags + 2)
        self.kvdb = [0] * (2 * ndiags + 2)
        self.zero = len(keep2) + 1  # the diagonal offset into the k-vectors
        self.mxcost = max(_bogosqrt(ndiags), _MAX_COST_MIN)

    def compare(self) -> None:
        """Mark every changed line, splitting boxes until one side of each is empty."""
        todo = [(0, len(self.ha1), 0, len(self.ha2), False)]
        ha1, ha2 = self.ha1, self.ha2
        while todo:
            off1, lim1, off2, lim2, need_min = todo.pop()
            while off1 < lim1 and off2 < lim2 and ha1[off1] == ha2[off2]:
                off1, off2 = off1 + 1, off2 + 1
            while off1 < lim1 and off2 < lim2 and ha1[lim1 - 1] == ha2[lim2 - 1]:
                lim1, lim2 = lim1 - 1, lim2 - 1
            if off1 == lim1:
                for i in range(off2, lim2):
                    self.rchg2[self.rindex2[i] + 1] = 1
            elif off2 == lim2:
                for i in range(off1, lim1):
                    self.rchg1[self.rindex1[i] + 1] = 1
            else:
                i1, i2, min_lo, min_hi = self.split(off1, lim1, off2, lim2, need_min)
                todo.append((i1, lim1, i2, lim2, min_hi))
                todo.append((off1, i1, off2, i2, min_lo))

    def split(  # noqa: C901 - one loop of Myers' algorithm, kept whole to follow it
        self, off1: int, lim1: int, off2: int, lim2: int, need_min: bool
    ) -> tuple[int, int, bool, bool]:
        """Find the middle snake of a box: ``(i1, i2, minimal below, minimal above)``."""
        ha1, ha2, z = self.ha1, self.ha2, self.zero
        kvdf, kvdb = self.kvdf, self.kvdb
        dmin, dmax = off1 - lim2, lim1 - off2
        fmid, bmid = off1 - off2, lim1 - lim2
        odd = (fmid - bmid) & 1
        fmin = fmax = fmid
        bmin = bmax = bmid
        kvdf[z + fmid] = off1
        kvdb[z + bmid] = lim1
        ec = 0
        while True:
            ec += 1
            got_snake = False
            if fmin > dmin:
                fmin -= 1
                kvdf[z + fmin - 1] = -1
            else:
                fmin += 1
            if fmax < dmax:
                fmax += 1
                kvdf[z + fmax + 1] = -1
            else:
                fmax -= 1
            for d in range(fmax, fmin - 1, -2):
                below, above = kvdf[z + d - 1], kvdf[z + d + 1]
                i1 = below + 1 if below >= above else above
                prev1 = i1
                i2 = i1 - d
                while i1 < lim1 and i2 < lim2 and ha1[i1] == ha2[i2]:
                    i1, i2 = i1 + 1, i2 + 1
                if i1 - prev1 > _SNAKE_CNT:
                    got_snake = True
                kvdf[z + d] = i1
                if odd and bmin <= d <= bmax and kvdb[z + d] <= i1:
                    return i1, i2, True, True
            if bmin > dmin:
                bmin -= 1
                kvdb[z + bmin - 1] = _LINE_MAX
            else:
                bmin += 1
            if bmax < dmax:
                bmax += 1
                kvdb[z + bmax + 1] = _LINE_MAX
            else:
                bmax -= 1
            for d in range(bmax, bmin - 1, -2):
                below, above = kvdb[z + d - 1], kvdb[z + d + 1]
                i1 = below if below < above else above - 1
                prev1 = i1
                i2 = i1 - d
                while i1 > off1 and i2 > off2 and ha1[i1 - 1] == ha2[i2 - 1]:
                    i1, i2 = i1 - 1, i2 - 1
                if prev1 - i1 > _SNAKE_CNT:
                    got_snake = True
                kvdb[z + d] = i1
                if not odd and fmin <= d <= fmax and i1 <= kvdf[z + d]:
                    return i1, i2, True, True
            if need_min:
                continue
            if got_snake and ec > _HEUR_MIN_COST:
                found = self._good_snake(
                    off1, lim1, off2, lim2, ec, (fmin, fmax, fmid), (bmin, bmax, bmid)
                )
                if found is not None:
                    return found
            if ec >= self.mxcost:
                return self._furthest(off1, lim1, off2, lim2, (fmin, fmax), (bmin, bmax))

    def _good_snake(
        self,
        off1: int,
        lim1: int,
        off2: int,
        lim2: int,
        ec: int,
        fwd: tuple[int, int, int],
        bwd: tuple[int, int, int],
    ) -> tuple[int, int, bool, bool] | None:
        """Past a high cost, settle for a diagonal that reached far along a long snake."""
        ha1, ha2, z = self.ha1, self.ha2, self.zero
        fmin, fmax, fmid = fwd
        best, split = 0, (0, 0)
        for d in range(fmax, fmin - 1, -2):
            i1 = self.kvdf[z + d]
            i2 = i1 - d
            v = (i1 - off1) + (i2 - off2) - abs(d - fmid)
            if (
                v > _K_HEUR * ec
                and v > best
                and off1 + _SNAKE_CNT <= i1 < lim1
                and off2 + _SNAKE_CNT <= i2 < lim2
                and all(ha1[i1 - k] == ha2[i2 - k] for k in range(1, _SNAKE_CNT + 1))
            ):
                best, split = v, (i1, i2)
        if best > 0:
            return split[0], split[1], True, False
        bmin, bmax, bmid = bwd
        for d in range(bmax, bmin - 1, -2):
            i1 = self.kvdb[z + d]
            i2 = i1 - d
            v = (lim1 - i1) + (lim2 - i2) - abs(d - bmid)
            if (
                v > _K_HEUR * ec
                and v > best
                and off1 < i1 <= lim1 - _SNAKE_CNT
                and off2 < i2 <= lim2 - _SNAKE_CNT
                and all(ha1[i1 + k] == ha2[i2 + k] for k in range(_SNAKE_CNT))
            ):
                best, split = v, (i1, i2)
        if best > 0:
            return split[0], split[1], False, True
        return None

    def _furthest(
        self, off1: int, lim1: int, off2: int, lim2: int, fwd: tuple[int, int], bwd: tuple[int, int]
    ) -> tuple[int, int, bool, bool]:
        """Past the cost limit, split at the path that got furthest."""
        z = self.zero
        fbest = fbest1 = -1
        for d in range(fwd[1], fwd[0] - 1, -2):
            i1 = min(self.kvdf[z + d], lim1)
            i2 = i1 - d
            if lim2 < i2:
                i1, i2 = lim2 + d, lim2
            if fbest < i1 + i2:
                fbest, fbest1 = i1 + i2, i1
        bbest = bbest1 = _LINE_MAX
        for d in range(bwd[1], bwd[0] - 1, -2):
            i1 = max(off1, self.kvdb[z + d])
            i2 = i1 - d
            if i2 < off2:
                i1, i2 = off2 + d, off2
            if i1 + i2 < bbest:
                bbest, bbest1 = i1 + i2, i1
        if (lim1 + lim2) - bbest < fbest - (off1 + off2):
            return fbest1, fbest - fbest1, True, False
        return bbest1, bbest - bbest1, False, True


class _Group:
    """A run of changed lines ``[start, end)`` (empty where a change of the other file is)."""

    def __init__(self, rchg: list[int]) -> None:
        self.start = self.end = 0
        while rchg[self.end + 1]:
            self.end += 1

    def next(self, rchg: list[int]) -> bool:
        if self.end == len(rchg) - 2:
            return False
        self.start = self.end = self.end + 1
        while rchg[self.end + 1]:
            self.end += 1
        return True

    def previous(self, rchg: list[int]) -> bool:
        if self.start == 0:
            return False
        self.end = self.start = self.start - 1
        while rchg[self.start]:
            self.start -= 1
        return True

    def slide_down(self, recs: Sequence[int], rchg: list[int]) -> bool:
        if self.end < len(recs) and recs[self.start] == recs[self.end]:
            rchg[self.start + 1] = 0
            rchg[self.end + 1] = 1
            self.start += 1
            self.end += 1
            while rchg[self.end + 1]:
                self.end += 1
            return True
        return False

    def slide_up(self, recs: Sequence[int], rchg: list[int]) -> bool:
        if self.start > 0 and recs[self.start - 1] == recs[self.end - 1]:
            self.start -= 1
            self.end -= 1
            rchg[self.start + 1] = 1
            rchg[self.end + 1] = 0
            while rchg[self.start]:
                self.start -= 1
            return True
        return False


def _compact(recs: Sequence[int], rchg: list[int], other: list[int]) -> None:
    """Slide each group of changes down as far as it goes, then up to meet the other side's."""
    g, go = _Group(rchg), _Group(other)
    while True:
        if g.end != g.start:
            earliest_end, end_matching_other = _slide(recs, rchg, other, g, go)
            if g.end != earliest_end and end_matching_other != -1:
                while go.end == go.start:
                    g.slide_up(recs, rchg)
                    go.previous(other)
        if not g.next(rchg):
            break
        go.next(other)


def _slide(
    recs: Sequence[int], rchg: list[int], other: list[int], g: _Group, go: _Group
) -> tuple[int, int]:
    """Slide a group up then down until it stops growing (it absorbs groups it meets).

    Returns the highest end it could take, and the last end where it lined up with a change
    of the other file (-1 if none).
    """
    while True:
        size = g.end - g.start
        end_matching_other = -1
        while g.slide_up(recs, rchg):
            go.previous(other)
        earliest_end = g.end
        if go.end > go.start:
            end_matching_other = g.end
        while g.slide_down(recs, rchg):
            go.next(other)
            if go.end > go.start:
                end_matching_other = g.end
        if size == g.end - g.start:
            return earliest_end, end_matching_other


def _script(
    rchg1: list[int], rchg2: list[int], n1: int, n2: int
) -> list[tuple[int, int, int, int]]:
    """Collect the groups of changed lines into ``(start1, start2, count1, count2)``."""
    changes = []
    i1, i2 = n1, n2
    while i1 >= 0 or i2 >= 0:
        if rchg1[i1] or rchg2[i2]:
            l1, l2 = i1, i2
            while rchg1[i1]:
                i1 -= 1
            while rchg2[i2]:
                i2 -= 1
            changes.append((i1, i2, l1 - i1, l2 - i2))
        i1, i2 = i1 - 1, i2 - 1
    changes.reverse()
    return changes


# --- merge ---------------------------------------------------------------------------------


@dataclass
class _Merge:
    """One region of the result: lines ``[i, i + chg)`` of base (0), yours (1) and theirs (2)."""

    mode: int
    i0: int
    chg0: int
    i1: int
    chg1: int
    i2: int
    chg2: int


def _append(
    merges: list[_Merge], mode: int, i0: int, chg0: int, i1: int, chg1: int, i2: int, chg2: int
) -> None:
    """Add a region, joining it to the previous one when they touch (a conflict if they differ)."""
    if merges and (i1 <= merges[-1].i1 + merges[-1].chg1 or i2 <= merges[-1].i2 + merges[-1].chg2):
        m = merges[-1]
        if mode != m.mode:
            m.mode = _CONFLICT
        m.chg0 = i0 + chg0 - m.i0
        m.chg1 = i1 + chg1 - m.i1
        m.chg2 = i2 + chg2 - m.i2
    else:
        merges.append(_Merge(mode, i0, chg0, i1, chg1, i2, chg2))


def _merges(
    script1: list[tuple[int, int, int, int]],
    script2: list[tuple[int, int, int, int]],
    ids1: Sequence[int],
    ids2: Sequence[int],
    grow1: int,
    grow2: int,
) -> list[_Merge]:
    """Walk both sides' changes in base order; overlapping or touching ones conflict."""
    merges: list[_Merge] = []
    p1 = p2 = 0
    while p1 < len(script1) and p2 < len(script2):
        a1, a2, ac1, ac2 = script1[p1]
        b1, b2, bc1, bc2 = script2[p2]
        if a1 + ac1 < b1:
            _append(merges, _YOURS, a1, ac1, a2, ac2, b2 - b1 + a1, ac1)
            p1 += 1
            continue
        if b1 + bc1 < a1:
            _append(merges, _THEIRS, b1, bc1, a2 - a1 + b1, bc1, b2, bc2)
            p2 += 1
            continue
        same = a1 == b1 and ac1 == bc1 and ac2 == bc2
        if not same or ids1[a2 : a2 + ac2] != ids2[b2 : b2 + bc2]:
            _append(merges, _CONFLICT, *_conflict(script1[p1], script2[p2]))
        end1, end2 = a1 + ac1, b1 + bc1
        if end1 >= end2:
            p2 += 1
        if end2 >= end1:
            p1 += 1
    for a1, a2, ac1, ac2 in script1[p1:]:
        _append(merges, _YOURS, a1, ac1, a2, ac2, a1 + grow2, ac1)
    for b1, b2, bc1, bc2 in script2[p2:]:
        _append(merges, _THEIRS, b1, bc1, b1 + grow1, bc1, b2, bc2)
    return merges


def _conflict(
    one: tuple[int, int, int, int], two: tuple[int, int, int, int]
) -> tuple[int, int, int, int, int, int]:
    """Return the region covering two overlapping changes: ``(i0, chg0, i1, chg1, i2, chg2)``."""
    a1, a2, ac1, ac2 = one
    b1, b2, bc1, bc2 = two
    off = a1 - b1
    ffo = off + ac1 - bc1
    i0, i1, i2 = a1, a2, b2
    if off > 0:
        i0 -= off
        i1 -= off
    else:
        i2 += off
    chg0, chg1, chg2 = a1 + ac1 - i0, a2 + ac2 - i1, b2 + bc2 - i2
    if ffo < 0:
        chg0 -= ffo
        chg1 -= ffo
    else:
        chg2 += ffo
    return i0, chg0, i1, chg1, i2, chg2


def _block(lines: list[str]) -> str:
    """Join lines for a conflict block, ending the last one so a marker can follow."""
    text = "".join(lines)
    return text if not text or text.endswith("\n") else text + "\n"


def _fill(
    merges: list[_Merge], base: list[str], yours: list[str], theirs: list[str], labels: Labels
) -> str:
    """Write the result: yours between regions, each region as its side or as a conflict."""
    out: list[str] = []
    i = 0
    for m in merges:
        out += yours[i : m.i1]
        if m.mode == _CONFLICT:
            out.append(f"{'<' * MARKER_SIZE} {labels.yours}\n")
            out.append(_block(yours[m.i1 : m.i1 + m.chg1]))
            out.append(f"{'|' * MARKER_SIZE} {labels.base}\n")
            out.append(_block(base[m.i0 : m.i0 + m.chg0]))
            out.append(f"{'=' * MARKER_SIZE}\n")
            out.append(_block(theirs[m.i2 : m.i2 + m.chg2]))
            out.append(f"{'>' * MARKER_SIZE} {labels.theirs}\n")
        elif m.mode == _YOURS:
            out += yours[m.i1 : m.i1 + m.chg1]
        else:
            out += theirs[m.i2 : m.i2 + m.chg2]
        i = m.i1 + m.chg1
    out += yours[i:]
    return "".join(out)


def has_markers(text: str, labels: Labels) -> bool:
    """Return whether ``text`` holds a conflict marker line written with these labels."""
    starts = (f"{'<' * MARKER_SIZE} {labels.yours}", f"{'>' * MARKER_SIZE} {labels.theirs}")
    return any(line.rstrip("\r").startswith(starts) for line in text.split("\n"))
