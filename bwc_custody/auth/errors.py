"""Authentication errors (each a 401 or 422 with a stable code)."""

from bwc_custody.errors import BwcError, Forbidden, Unauthenticated


class InvalidCredentials(Unauthenticated):
    """Wrong username, password or one-time code; deliberately does not say which."""

    code = "invalid_credentials"
    audited = True  # the login flow has already written its own custody entry


class AccountLocked(Unauthenticated):
    """Too many failed logons: locked for a while (CJIS Security Policy)."""

    code = "account_locked"
    audited = True


class TokenExpired(Unauthenticated):
    code = "token_expired"


class InvalidRefreshToken(Unauthenticated):
    code = "invalid_refresh_token"
    audited = True


class WeakPassword(BwcError):
    code = "weak_password"
    status = 422


class MfaNotProvisioned(BwcError):
    """The password was right, but the user's roles need a one-time code and no key has been
    provisioned for them yet (an administrator runs `bwc users mfa NAME`)."""

    code = "mfa_not_provisioned"
    status = 403
    audited = True


class UnknownOperator(BwcError):
    """`bwc --as NAME`: no user of that name; the command does nothing."""

    code = "unknown_operator"
    status = 422


class OperatorDisabled(BwcError):
    """`bwc --as NAME`: the user is disabled; the command does nothing."""

    code = "operator_disabled"
    status = 403


class OperatorLacksRole(Forbidden):
    """`bwc --as NAME`: the command acts with a role the user does not hold."""

    code = "operator_lacks_role"


class OwnAccount(BwcError):
    """An administrator may not disable their own account or take away their own admin
    role: another administrator does it, so no one locks the last door from inside."""

    code = "own_account"
    status = 409
