"""RFC 6962 Merkle tree hashing, inclusion and consistency proofs, RFC 9162 verification.

Pure functions over leaf hashes (stdlib only): the log computes with them, and
verify_package.py carries a copy of the two verifiers so it needs nothing from us.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the hash of one log entry's bytes."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right): an interior node."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    # The largest power of two strictly smaller than n (RFC 6962 §2.1).
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the empty tree hashes to SHA-256 of nothing."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) (RFC 6962 §2.1.1): the audit path of leaf `index`."""
    n = len(leaves)
    if not 0 <= index < n:
        raise ValueError(f"leaf {index} is outside a tree of size {n}")
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*inclusion_proof(index, leaves[:k]), root(leaves[k:])]
    return [*inclusion_proof(index - k, leaves[k:]), root(leaves[:k])]


def _subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, leaves[:k], complete), root(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), root(leaves[:k])]


def consistency_proof(first: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 6962 §2.1.2): the tree of size `first` is a prefix of `leaves`."""
    n = len(leaves)
    if not 0 < first <= n:
        raise ValueError(f"no consistency proof from size {first} to size {n}")
    return _subproof(first, leaves, True)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: True when `leaf` sits at `index` of the tree with `expected_root`."""
    if index >= size or index < 0:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: True when the tree (first, first_root) is a prefix of the second."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: first_root is itself a node on the path
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


class Frontier:
    """The roots of the perfect subtrees a tree of `size` leaves splits into, largest first:
    enough to extend the tree leaf by leaf and to give its RFC 6962 root at any size in
    O(log n), instead of hashing every leaf again for each checkpoint."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        if len(heights) != len(hashes):
            raise ValueError(f"a tree of size {size} has {len(heights)} perfect subtrees, "
                             f"not {len(hashes)}")
        self.size = size
        self._stack: list[tuple[int, bytes]] = list(zip(heights, hashes, strict=True))

    @property
    def hashes(self) -> list[bytes]:
        """The subtree roots, largest subtree first (what a checkpoint row keeps)."""
        return [h for _, h in self._stack]

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash at the right edge."""
        height, node = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node, height = node_hash(left, node), height + 1
        self._stack.append((height, node))
        self.size += 1

    def root(self) -> bytes:
        """MTH of the leaves so far: the subtrees folded from the right (RFC 6962 §2.1)."""
        if not self._stack:
            return hashlib.sha256(b"").digest()
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def consistency_proof_from(first: Frontier, later: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) (RFC 6962 §2.1.2) from the frontier of the first m leaves and the n - m
    leaf hashes after them, the same list `consistency_proof` gives from all n leaves. Every
    node of the proof inside the first m leaves is one of the frontier's perfect subtrees (the
    recursion only keeps a left subtree whole when m lies past it, and stops at m), and every
    other node lies wholly after m: so only the new leaves are hashed, not the whole log."""
    m, n = first.size, first.size + len(later)
    if not 0 < m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    kept: dict[tuple[int, int], bytes] = {}
    start = 0
    for height, subtree in first._stack:
        kept[(start, start + (1 << height))] = subtree
        start += 1 << height

    def node(lo: int, hi: int) -> bytes:
        if hi <= m:
            return kept[(lo, hi)]  # a KeyError here would be a bug in the reasoning above
        if lo < m:
            raise AssertionError(f"proof node {lo}..{hi} straddles the old size {m}")
        return root(later[lo - m:hi - m])

    def sub(lo: int, hi: int, complete: bool) -> list[bytes]:
        if m == hi:
            return [] if complete else [node(lo, hi)]
        k = _split(hi - lo)
        if m - lo <= k:
            return [*sub(lo, lo + k, complete), node(lo + k, hi)]
        return [*sub(lo + k, hi, False), node(lo, lo + k)]

    return sub(0, n, True)

