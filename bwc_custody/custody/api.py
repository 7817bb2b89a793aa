"""Custody routes: the log, checkpoints, proofs and verification for auditors."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from bwc_custody.auth.service import Principal
from bwc_custody.custody import service
from bwc_custody.custody.models import EntryRead
from bwc_custody.deps import Auditor, ClientAddr, Count, Offset, RowId, SessionDep, allow
from bwc_custody.flows.verify_state import request_verification
from bwc_custody.jobs.models import JobRead
from bwc_custody.roles import Role
from bwc_custody.vault.service import get_signer, get_store

router = APIRouter(tags=["custody"])
Checkpointer = Annotated[Principal, Depends(allow(Role.auditor, Role.admin))]


class CheckpointRead(BaseModel):
    format: str
    index: int
    tree_size: int
    root_hash: str
    created_at: str
    key_id: str
    signature: str


class ProofRead(BaseModel):
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]


class ConsistencyRead(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    path: list[str]


@router.get("/custody/entries", response_model=list[EntryRead])
def list_entries(
    session: SessionDep, _auditor: Auditor,
    target_id: str | None = None,
    after_seq: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryRead]:
    """Custody entries in order (one target's, or all after `after_seq`)."""
    if target_id is not None:
        rows = service.entries_for(session=session, target_id=target_id)
    else:
        rows = service.entries_after(session=session, after_seq=after_seq, limit=limit)
    return [EntryRead.model_validate(r) for r in rows[:limit]]


@router.get("/custody/checkpoints", response_model=list[CheckpointRead])
def list_checkpoints(session: SessionDep, _auditor: Auditor) -> list[CheckpointRead]:
    """Every signed checkpoint, oldest first."""
    return [CheckpointRead(**service.checkpoint_document(c))
            for c in service.list_checkpoints(session=session)]


@router.post("/custody/checkpoints", response_model=CheckpointRead, status_code=201)
def create_checkpoint(session: SessionDep, _actor: Checkpointer) -> CheckpointRead:
    """Sign a checkpoint over the log so far (WORM copy in the object store)."""
    cp = service.create_checkpoint(session=session, signer=get_signer(), store=get_store())
    return CheckpointRead(**service.checkpoint_document(cp))


@router.get("/custody/entries/{seq}/inclusion", response_model=ProofRead)
def inclusion(seq: RowId, session: SessionDep, _auditor: Auditor,
              tree_size: Count | None = None) -> ProofRead:
    """Audit path of entry `seq` to a tree (default: the newest checkpoint)."""
    return ProofRead(**asdict(service.inclusion_proof(session=session, seq=seq,
                                                      tree_size=tree_size)))


@router.get("/custody/consistency", response_model=ConsistencyRead)
def consistency(session: SessionDep, _auditor: Auditor,
                first: Count, second: Count,
                ) -> ConsistencyRead:
    """Proof that the log of `first` entries is a prefix of the log of `second`."""
    return ConsistencyRead(**asdict(service.consistency_proof(session=session, first=first,
                                                              second=second)))


@router.post("/custody/verify", response_model=JobRead, status_code=202)
def verify(session: SessionDep, auditor: Auditor, addr: ClientAddr,
           fixity: bool = False) -> JobRead:
    """Queue the verification `bwc verify` runs (chain, checkpoints, witness cosignatures,
    the database's state against the log; stored objects when `fixity`): a `verify` job
    whose result (`GET /jobs/{id}`) is the report; who asked and what it found land in the
    log. A verification already waiting or running that checks as much is answered instead
    of queueing another."""
    return JobRead.model_validate(request_verification(
        session=session, actor=auditor, fixity=fixity, client_addr=addr))
