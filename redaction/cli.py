"""`bwc redact`, `bwc worker` and related commands (registered on the main app)."""

from __future__ import annotations

from pathlib import Path

import typer

from bwc_custody.errors import BwcError


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `bwc` app."""

    @app.command("redact")
    def redact(
        src: Path = typer.Argument(..., help="Original video (only read, never changed)."),
        dst: Path = typer.Argument(..., help="Redacted derivative to write (H.264/AAC MP4)."),
        manifest: Path | None = typer.Option(
            None, "--manifest", help="Write the manifest (JSON) here."),
        keep_face: list[Path] = typer.Option(
            [], "--keep-face", help="Reference photo of a person who may stay visible "
            "(repeat for several). Faces not matched are blurred."),
        regions: Path | None = typer.Option(
            None, "--regions", help="JSON of manual boxes, blackout and mute ranges."),
        detect_every: int = typer.Option(3, help="Run the detector on every Nth frame."),
        threshold: float = typer.Option(0.1, help="Detector score threshold (low = safer)."),
        heads: bool = typer.Option(
            False, "--heads", help="Also blur every person's whole head (hair, ears, people "
            "seen from behind); six people a search, a crowded frame searched again in three "
            "parts; where a part is still full it is flagged for review."),
        allow_partial: bool = typer.Option(
            False, help="Redact the decodable part of a truncated/damaged video."),
        overwrite: bool = typer.Option(False, help="Replace DST if it exists."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Blur every face in SRC (except --keep-face people) and write DST."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from bwc_custody.commands import emit, fail
        from redaction.pipeline import RedactOptions, redact_file
        from redaction.regions import Regions, load_regions

        try:
            opts = RedactOptions(detect_every=detect_every, threshold=threshold, heads=heads,
                                 allow_partial=allow_partial, overwrite=overwrite)
            reg = load_regions(regions) if regions else Regions()
            with Progress(TextColumn("redacting"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[fps]} fps"), TimeRemainingColumn(),
                          disable=quiet, transient=True) as bar:
                task = bar.add_task("redact", total=None, fps="-")

                def progress(done: int, total: int | None) -> None:
                    if done % 15 == 0 or done == total:
                        elapsed = bar.tasks[0].elapsed or 0
                        fps = f"{done / elapsed:.1f}" if elapsed else "-"
                        bar.update(task, completed=done, total=total, fps=fps)

                result = redact_file(src, dst, options=opts, regions=reg,
                                     keep_faces=keep_face, manifest_path=manifest,
                                     progress=progress)
        except BwcError as exc:
            fail(exc)
            return
        emit({"output": str(result.output), "manifest": str(result.manifest or ""),
              "source_sha256": result.source_sha256, "output_sha256": result.output_sha256,
              "frames": result.frames, "tracks": result.tracks, "boxes": result.boxes,
              "seconds": round(result.seconds, 2),
              "fps": round(result.frames / result.seconds, 1) if result.seconds else None,
              "warnings": result.warnings})
