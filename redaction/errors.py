"""Redaction errors: each a BwcError with a stable code a worker, CLI or API can act on."""

from __future__ import annotations

from bwc_custody.errors import BwcError


class RedactionError(BwcError):
    """Base of every redaction failure."""

    code = "redaction_failed"
    status = 422


class SourceMissing(RedactionError):
    """The input file does not exist or is not a regular file."""

    code = "source_missing"
    status = 404


class NoVideoStream(RedactionError):
    """The file holds no video stream (audio-only, data-only)."""

    code = "no_video_stream"


class CorruptVideo(RedactionError):
    """The file is not a readable video, or its video stream could not be decoded
    completely (garbage bytes, truncated or damaged)."""

    code = "corrupt_video"


class UnsupportedVideo(RedactionError):
    """The video is readable but outside what the redactor supports (e.g. absurd size)."""

    code = "unsupported_video"


class InvalidRegions(RedactionError):
    """The regions file does not follow the regions schema."""

    code = "invalid_regions"


class InvalidReferencePhoto(RedactionError):
    """A keep-face reference photo is unreadable or does not show exactly one face."""

    code = "invalid_reference_photo"


class OutputIsInput(RedactionError):
    """The output path names the original: the original is never overwritten."""

    code = "output_is_input"


class EncodeFailed(RedactionError):
    """ffmpeg could not write the derivative."""

    code = "encode_failed"
    status = 500


class ToolMissing(RedactionError):
    """ffmpeg/ffprobe or the detector model is not installed."""

    code = "tool_missing"
    status = 500


class NoAudioStream(RedactionError):
    """The recording holds no audio stream: there is no speech to find or mute."""

    code = "no_audio_stream"


class InvalidTerms(RedactionError):
    """The terms to find in speech (names, patterns) do not follow the terms schema."""

    code = "invalid_terms"
