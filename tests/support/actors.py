"""Who acts in tests that call services directly (no route, no command to name anyone)."""

from __future__ import annotations

from bwc_custody.auth.service import Principal
from bwc_custody.roles import Role

# An administrator with no user row, as a command's operator is when not named by --as.
LOCAL_OPERATOR = Principal(user_id=None, username="test-operator", roles=frozenset({Role.admin}))
# A records custodian with no user row (the request and tag commands act as one).
TEST_CUSTODIAN = Principal(user_id=None, username="test-custodian",
                           roles=frozenset({Role.custodian}))
