"""One settings object, read from the environment (prefix BWC_) and created lazily."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bwc_custody.errors import BwcError
from bwc_custody.roles import Role
from storage.signed_note import WitnessKey


class Settings(BaseSettings):
    """Everything configurable; the embedded default needs nothing set."""

    model_config = SettingsConfigDict(env_prefix="BWC_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path("~/.bwc").expanduser())
    database_url: str | None = None

    # Object store: a local directory unless an S3 endpoint is configured.
    store_dir: Path | None = None
    s3_endpoint: str | None = None
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_secure: bool = True
    s3_region: str | None = None
    s3_bucket: str = "evidence"
    s3_part_size: int = 16 * 1024 * 1024
    # Object-lock retention applied to each original on S3 (and mirrored locally), and the
    # days a non-evidentiary recording is kept before it is due for destruction (KDLA
    # L6707: 60). 0: the store sets no date of its own and recordings are due at once.
    retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"
    retention_days: int = Field(default=60, ge=0, le=36500)
    # Days a recording withheld by a response is kept for a possible appeal to the Attorney
    # General when none is recorded (the Act sets no limit: counsel's call).
    appeal_window_days: int = Field(default=60, ge=0, le=3650)

    # Key-encryption keys: a keyring directory of KEK files, one active.
    kek_dir: Path | None = None
    kek_active: str | None = None

    segment_size: int = 1024 * 1024
    staging_dir: Path | None = None

    # Who answers requests, as the letters name them (KRS 61.880(1): the response is the
    # agency's, signed by its official custodian of records).
    agency_name: str = Field(default="the law enforcement agency", min_length=1,
                             max_length=200)
    custodian_title: str = Field(default="Official Custodian of Records", min_length=1,
                                 max_length=200)
    # The console shows times in this zone (Kentucky has two: America/New_York for the east,
    # America/Chicago for the west); UTC stays one hover away.
    agency_timezone: str = "America/New_York"

    # RFC 3161 Time Stamping Authorities (comma-separated URLs, tried in order) that
    # timestamp each released file's C2PA signature, so the release stays verifiable after
    # its signing certificate expires, and each custody checkpoint, so its time is not only
    # the agency's word; none: neither is timestamped (provenance/README.md).
    tsa_url: str = ""
    # The CA certificate(s) (PEM: roots and intermediates) that a TSA's tokens must verify
    # under: a token that does not is refused when asked for and named by `bwc verify`.
    # Without it tokens are still asked for (nonce and imprint checked) but not trusted.
    tsa_ca_file: Path | None = None
    # Optional, off by default: witnesses or transparency logs (comma-separated URLs) that
    # each newest checkpoint head is POSTed to as a signed tlog-checkpoint note (C2SP), and
    # the log's name (origin line) in those notes; README "Threat model" says what it gives.
    witness_url: str = ""
    # The witnesses' verifier keys (comma-separated, C2SP signed-note form
    # `name+keyhash+base64key`, as a witness publishes it): a cosignature is kept only when
    # it verifies under one of them; none: kept as answered (not checked).
    witness_keys: str = ""
    log_origin: str = Field(default="bwc-custody", min_length=1, max_length=200, pattern=r"^\S+$")

    api_host: str = "127.0.0.1"
    api_port: int = 8400
    # PostgreSQL connections of one process: pool_size kept open, up to pool_overflow more
    # under load. 20 + 20 is the API's 40 worker threads (anyio's default): a request holds
    # its connection from its first query to its commit, so with fewer, threads waited on
    # the pool while the requests holding connections waited for a thread (SQLAlchemy's
    # default 5 + 10 gave 500s under 20 uploads and 50 readers, #22 finding 7).
    db_pool_size: int = Field(default=20, ge=1, le=1000)
    db_pool_overflow: int = Field(default=20, ge=0, le=1000)
    # Accept uploads up to this size; larger Upload-Length is refused (413).
    max_upload_bytes: int = 64 * 1024**3

    # Authentication: short-lived JWT access tokens, rotating refresh tokens, and the
    # CJIS lock-out (at most 5 failed logons, locked for at least 10 minutes).
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    # A console logon ends after this many hours however busy it is (a working shift); idle,
    # it ends with its access token (access_token_minutes).
    console_session_hours: int = Field(default=12, ge=1, le=24)
    lockout_threshold: int = Field(default=5, ge=1, le=5)
    lockout_minutes: int = Field(default=15, ge=10)
    min_password_length: int = 12
    # A password logon by a holder of any of these roles also needs a one-time code from the
    # user's authenticator (CJIS Security Policy v6: MFA for access to criminal-justice
    # information); comma-separated, empty for none. Requesters are the public, docks use
    # API tokens.
    mfa_roles: str = "admin,auditor,custodian,legal_reviewer,officer"

    # Queue a person-count analysis (auto tags) for every new video at ingest.
    auto_analyze: bool = True
    # Workers sign a custody checkpoint once entries are this many minutes unsigned, or as
    # soon as this many entries are (0 turns either off; both 0: run `bwc checkpoint` from
    # cron). Entries after the newest checkpoint can be deleted or rewritten by someone with
    # database rights without `bwc verify` noticing: these bound that window (README,
    # "Threat model"; bench/checkpoint.py measures the cost).
    checkpoint_minutes: int = Field(default=1, ge=0)
    checkpoint_entries: int = Field(default=100, ge=0)
    # How readily the speech search's keyword spotter (pocketsphinx, beside the Whisper
    # passes) takes a stretch of sound for one of the custodian's words: smaller spots more,
    # and more wrongly. 1e-10 was chosen on the bench's development clips (redaction/README.md,
    # "Keyword spotting in the server").
    speech_spot_threshold: float = Field(default=1e-10, gt=0, lt=1)
    # The same for the digit words "zero" to "nine" when spoken numbers are asked for: they
    # are short and common, so they need a stricter threshold; 1e-3 was chosen on the same
    # clips (1e-2 found fewer, 1e-5 muted ~50% more time on no target word).
    speech_spot_digit_threshold: float = Field(default=1e-3, gt=0, lt=1)
    # The face detector's runtime for the video passes of redaction and person-count jobs:
    # "auto" is bfloat16 by OpenVINO on a CPU that computes it natively (13-29% less CPU a
    # redacted frame, the same recall on the bench: redaction/README.md "Speed, fourth
    # pass"), else "float32" (onnxruntime, else OpenCV DNN). Pin "float32" so that workers
    # on different CPUs do the same arithmetic; every manifest and count records which ran.
    # (Checks of one photo, a reference photo's one face or a poster, are float32 always.)
    detect_backend: Literal["auto", "float32", "openvino-bf16", "onnxruntime",
                            "opencv"] = "auto"

    @field_validator("mfa_roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:

        names = [n.strip() for n in value.split(",") if n.strip()]
        unknown = sorted(set(names) - {r.value for r in Role})
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(unknown)}")
        return ",".join(names)

    @field_validator("witness_keys")
    @classmethod
    def _witness_keys(cls, value: str) -> str:
        for text in value.split(","):
            if text.strip():
                WitnessKey.parse(text)
        return value

    @field_validator("agency_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. America/New_York)") from None
        return value

    @property
    def mfa_role_set(self) -> frozenset[str]:
        """The roles whose password logon also needs a one-time code."""
        return frozenset(n for n in self.mfa_roles.split(",") if n)

    @property
    def tsa_urls(self) -> list[str]:
        """The configured TSA URLs, in the order they are tried."""
        return [u.strip() for u in self.tsa_url.split(",") if u.strip()]

    @property
    def witness_urls(self) -> list[str]:
        """The configured witness URLs (each gets every newest head)."""
        return [u.strip() for u in self.witness_url.split(",") if u.strip()]

    @property
    def witness_key_list(self) -> list[WitnessKey]:
        """The configured witness verifier keys."""
        return [WitnessKey.parse(t) for t in self.witness_keys.split(",") if t.strip()]

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: BWC_DATABASE_URL, else SQLite under BWC_HOME."""
        return self.database_url or f"sqlite:///{self.home / 'bwc.db'}"

    @property
    def objects_dir(self) -> Path:
        """Root of the local object store."""
        return self.store_dir or self.home / "objects"

    @property
    def keys_dir(self) -> Path:
        """Directory holding the KEK keyring and the server signing key."""
        return self.kek_dir or self.home / "keys"

    @property
    def c2pa_dir(self) -> Path:
        """The agency's content-credentials CA (root, signing leaf, retired roots): beside the
        KEKs and the signing key, kept the same way (0700, keys 0600)."""
        return self.keys_dir / "c2pa"

    @property
    def uploads_dir(self) -> Path:
        """Where resumable uploads are staged (always ciphertext, never plaintext)."""
        return self.staging_dir or self.home / "staging"

    @property
    def uses_s3(self) -> bool:
        """True when an S3 endpoint is configured."""
        return bool(self.s3_endpoint)


class InvalidSettings(BwcError):
    """A BWC_* environment variable holds a value the setting cannot take."""

    code = "invalid_settings"
    status = 500


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, built on first use; a bad BWC_* value is InvalidSettings
    naming the variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = [{"variable": "BWC_" + ".".join(str(p) for p in e["loc"]).upper(),
                     "problem": e["msg"]} for e in exc.errors()]
        first = problems[0]
        raise InvalidSettings(f"{first['variable']}: {first['problem']}",
                              problems=problems) from None
