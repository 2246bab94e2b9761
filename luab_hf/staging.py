"""Stage, then rename into place: the one way luab-hf writes a folder a reader may look at.

Conversions and training checkpoints both write into a hidden sibling of the final folder and
rename it into place only once complete, so a crash, a kill or a full disk never leaves a
half-written folder where a reader (``load_dataset``, ``--resume_from_checkpoint latest``) would
find it. Staging folders whose process is gone are removed by the next writer.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path

__all__ = ["claim", "publish", "release_claim", "remove_stale_staging", "staging_path"]


def staging_path(final: Path, owner: int | str | None = None) -> Path:
    """The hidden sibling that becomes ``final``. ``owner`` is the writing process (default:
    this one); the ranks of a distributed run pass one shared name."""
    final = Path(final)
    return final.with_name(f".{final.name}.tmp-{os.getpid() if owner is None else owner}")


def remove_stale_staging(final: Path) -> None:
    """Remove staging folders of ``final`` left by processes that no longer run."""
    final = Path(final)
    if not final.parent.is_dir():
        return
    for leftover in final.parent.glob(f".{final.name}.tmp-*"):
        pid = leftover.name.removeprefix(f".{final.name}.tmp-")
        if pid.isdigit() and not _alive(int(pid)):
            print(f"note: removing {leftover}, left half-written by process {pid}, which no longer runs",
                  file=sys.stderr)
            shutil.rmtree(leftover, ignore_errors=True)


def publish(staging: Path, final: Path, replace: bool) -> None:
    """Rename the complete ``staging`` folder to ``final``.

    With ``replace``, an existing ``final`` is first renamed aside and removed only after the new
    folder is in place, so at every moment one complete folder (old or new) is there; without
    it, an existing ``final`` raises ``FileExistsError``, checked by the rename itself (renaming
    onto a folder that holds anything fails), so no writer replaces another's output.
    """
    staging, final = Path(staging), Path(final)
    if not replace:
        try:
            os.rename(staging, final)  # replaces nothing but an empty folder
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(final) from error
            raise
        return
    if not final.exists():
        staging.rename(final)
        return
    retired = final.with_name(f".{final.name}.old-{os.getpid()}")
    final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


def claim(final: Path) -> Path:
    """Take ``final`` for this process before writing it, with a hidden claim file beside it.

    The claim file is created exclusively (``O_EXCL``), so of two writers racing for one name
    exactly one gets it; a claim whose process is gone (killed) is taken over. Raises
    ``FileExistsError`` when another live process holds it. Returns the claim, for
    :func:`release_claim`.
    """
    final = Path(final)
    marker = final.with_name(f".{final.name}.claim")
    for _ in range(2):
        try:
            descriptor = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = marker.read_text().strip() if marker.is_file() else ""
            if owner.isdigit() and not _alive(int(owner)):
                print(f"note: {marker} was left by process {owner}, which no longer runs (killed?): taking it over",
                      file=sys.stderr)
                marker.unlink(missing_ok=True)
                continue
            raise
        with os.fdopen(descriptor, "w") as handle:
            handle.write(str(os.getpid()))
        return marker
    raise FileExistsError(marker)


def release_claim(marker: Path) -> None:
    """Give a claim back."""
    Path(marker).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
