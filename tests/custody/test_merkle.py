"""RFC 6962 hashing and proofs against published vectors, exhaustively for small trees."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bwc_custody.custody import merkle, verify_package

# The Certificate Transparency reference vectors (RFC 6962 test data).
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
          "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def test_reference_roots() -> None:
    hashed = [merkle.leaf_hash(bytes.fromhex(x)) for x in LEAVES]
    for n, expected in enumerate(ROOTS, start=1):
        assert merkle.root(hashed[:n]).hex() == expected


def test_empty_tree_and_prefixes() -> None:
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    # Leaf and node hashing are domain-separated: a leaf holding two hashes is not a node.
    a, b = _leaves(2)
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


@pytest.mark.parametrize("n", range(1, 34))
def test_every_inclusion_proof_verifies_and_no_other(n: int) -> None:
    tree = _leaves(n)
    root = merkle.root(tree)
    for i in range(n):
        proof = merkle.inclusion_proof(i, tree)
        assert merkle.verify_inclusion(i, n, tree[i], proof, root)
        assert verify_package.verify_inclusion(i, n, tree[i], proof, root)
        assert not merkle.verify_inclusion(i, n, tree[(i + 1) % n], proof, root) or n == 1
        if proof:
            bad = [bytes(32), *proof[1:]]
            assert not merkle.verify_inclusion(i, n, tree[i], bad, root)


@pytest.mark.parametrize("n", range(1, 34))
def test_every_consistency_proof_verifies(n: int) -> None:
    tree = _leaves(n)
    second = merkle.root(tree)
    for m in range(1, n + 1):
        first = merkle.root(tree[:m])
        proof = merkle.consistency_proof(m, tree)
        assert merkle.verify_consistency(m, n, first, second, proof)
        if m < n:
            assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"x"), second, proof)
            assert not merkle.verify_consistency(m, n, first, merkle.leaf_hash(b"x"), proof)
            assert not merkle.verify_consistency(m, n, first, second, [])


@pytest.mark.parametrize("n", [*range(1, 70), 127, 128, 129, 1000])
def test_a_proof_from_a_frontier_is_the_proof_from_every_leaf(n: int) -> None:
    """What the log serves from a checkpoint's frontier and the entries after it is exactly
    RFC 6962's proof over the whole tree, for every old size."""
    tree = _leaves(n)
    sizes = range(1, n + 1) if n < 100 else [1, 2, 63, 64, 65, n // 2, n - 1, n]
    for m in sizes:
        start = merkle.Frontier()
        for leaf in tree[:m]:
            start.append(leaf)
        assert merkle.consistency_proof_from(start, tree[m:]) == \
            merkle.consistency_proof(m, tree), (m, n)


def test_consistency_fails_when_history_changes() -> None:
    tree = _leaves(13)
    forked = list(tree)
    forked[4] = merkle.leaf_hash(b"rewritten")
    proof = merkle.consistency_proof(7, forked)
    assert not merkle.verify_consistency(7, 13, merkle.root(tree[:7]), merkle.root(forked), proof)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_random_proofs_property(n: int, data: st.DataObject) -> None:
    tree = _leaves(n)
    i = data.draw(st.integers(0, n - 1))
    m = data.draw(st.integers(1, n))
    root = merkle.root(tree)
    assert merkle.verify_inclusion(i, n, tree[i], merkle.inclusion_proof(i, tree), root)
    assert merkle.verify_consistency(m, n, merkle.root(tree[:m]), root,
                                     merkle.consistency_proof(m, tree))
