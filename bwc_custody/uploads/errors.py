"""tus protocol errors; statuses are the ones tus 1.0 prescribes."""

from bwc_custody.errors import BwcError


class TusVersionUnsupported(BwcError):
    code = "tus_version_unsupported"
    status = 412


class OffsetMismatch(BwcError):
    code = "offset_mismatch"
    status = 409


class ChecksumMismatch(BwcError):
    code = "checksum_mismatch"
    status = 460


class ChecksumUnsupported(BwcError):
    code = "checksum_algorithm_unsupported"
    status = 400


class UploadTooLarge(BwcError):
    code = "upload_too_large"
    status = 413


class UploadBusy(BwcError):
    code = "upload_busy"
    status = 423


class UploadNotFound(BwcError):
    code = "upload_not_found"
    status = 404


class UploadIncomplete(BwcError):
    code = "upload_incomplete"
    status = 409


class UploadClosed(BwcError):
    code = "upload_closed"
    status = 409


class BadContentType(BwcError):
    code = "bad_content_type"
    status = 415


class InvalidUploadHeader(BwcError):
    code = "invalid_upload_header"
    status = 400
