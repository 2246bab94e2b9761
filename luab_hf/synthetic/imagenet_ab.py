"""A synthetic ImageNet-AB release: ``train/``, ``train_xml/``, ``val/``, ``val_shifted/`` in
ImageNet's layout, one XML file per train image in the tool's exact format; and release-sized
XML inputs (a folder, a tarball of 1.28M members) for ingest tests and benchmarks."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from isal import igzip

from ..labels import imagenet_classes
from .annotators import EPOCH_MS, Target, click, mouse_path, worker_ids
from .drawing import Drawn, class_palette, draw_object_image
from .style import Style

#: The release's number of files (ImageNet-1K train images).
FULL_RELEASE = 1_281_167

def _imagenet_xml(rng: np.random.Generator, wnid: str, image_id: str, drawn: Drawn, style: Style,
                  size: int) -> str:
    parts = ["<annotation>"]
    header = [f"  <folder>{wnid}</folder>", f"  <filename>{image_id}</filename>"]
    parts += header if rng.random() < 0.5 else header[::-1]
    if rng.random() < 0.3:  # some files carry the Pascal-VOC fields, as in the release
        x0, y0, x1, y1 = drawn.box
        parts += ["  <source><database>ILSVRC_2012</database></source>",
                  f"  <size><width>{size}</width><height>{size}</height><depth>3</depth></size>",
                  "  <segmented>0</segmented>",
                  f"  <object><name>{wnid}</name><pose>Unspecified</pose><truncated>0</truncated>"
                  f"<difficult>0</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                  f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"]
    missed = bool(style.miss_rate) and rng.random() < style.miss_rate  # every selecting click of the image
    target = Target(drawn.centre, drawn.mask, missed)
    for _ in range(int(rng.integers(*style.metadata_blocks))):
        parts.append(_metadata_block(rng, target, style))
    parts.append("</annotation>")
    return "\n".join(parts) + "\n"


def _metadata_block(rng: np.random.Generator, target: Target, style: Style) -> str:
    """One worker's session with the image, as the tool writes it: epoch-millisecond times, one
    ``<selectedRecord>`` per select (a select-deselect-select leaves two, a select-deselect one
    in an unselected block)."""
    assignment, hit, worker = worker_ids(rng)
    selected = rng.random() >= style.unselected_rate
    shown = EPOCH_MS + int(rng.integers(0, 10**8))
    enter = shown + int(rng.integers(50, 1500))
    def clicked() -> tuple[float, float]:
        return click(rng, target, style.click_noise, style.click_model)

    spot = clicked() if selected else (float(rng.uniform(0, 1)), float(rng.uniform(0, 1)))
    path = mouse_path(rng, spot, enter, style.trace_points)
    records = [(spot, path[-1][0] + int(rng.integers(30, 200)))]
    toggles = rng.random()
    if selected and toggles < 0.15:  # select, deselect, select again a little elsewhere
        records.append((clicked(), records[0][1] + int(rng.integers(300, 1500))))
    elif not selected and toggles < 0.3:  # selected, then deselected
        records[0] = (clicked(), records[0][1])
    elif not selected:
        records = []
    leave = (records[-1][1] if records else path[-1][0]) + int(rng.integers(10, 300))
    lines = ["  <metadata>", f"    <assignment_id>{assignment}</assignment_id>",
             f"    <estimateTime>{leave - shown if selected else 0}</estimateTime>",
             f"    <hit_id>{hit}</hit_id>", f"    <worker_id>{worker}</worker_id>",
             f"    <selected>{selected}</selected>", f"    <selectedCount>{len(records)}</selectedCount>"]
    lines += [f"    <selectedRecord><x>{x}</x><y>{y}</y><time>{t}</time></selectedRecord>" for (x, y), t in records]
    lines += [f"    <hoveredRecord><action>enter</action><time>{enter}</time></hoveredRecord>",
              f"    <hoveredRecord><action>leave</action><time>{leave}</time></hoveredRecord>"]
    lines += [f"    <mouseTracking><time>{t}</time><x>{x}</x><y>{y}</y></mouseTracking>" for t, x, y in path]
    lines.append("  </metadata>")
    return "\n".join(lines)


# --------------------------------------------------------------------------- ImageNet-AB


def pick_wnids(count: int) -> list[str]:
    """``count`` real ImageNet wnids spread over the 1000 classes, in sorted order."""
    wnids, _ = imagenet_classes()
    if not 1 <= count <= len(wnids):
        raise SystemExit(f"--classes must be between 1 and {len(wnids)}")
    step = len(wnids) // count
    return [wnids[i * step] for i in range(count)]


def write_imagenet_ab(out: Path, classes: int, images_per_class: int, seed: int,
                      val_per_class: int | None = None, style: Style = Style()) -> Path:
    """Write ``train/``, ``train_xml/``, ``val/`` and ``val_shifted/`` in ImageNet's layout."""
    rng = np.random.default_rng(seed)
    wnids = pick_wnids(classes)
    palette = class_palette(classes)
    val_per_class = val_per_class or max(1, images_per_class // 4)
    for label, wnid in enumerate(wnids):
        for d in ("train", "train_xml", "val", "val_shifted"):
            (out / d / wnid).mkdir(parents=True, exist_ok=True)
        numbers = rng.choice(100_000, images_per_class + 2 * val_per_class, replace=False)
        for number in numbers[:images_per_class]:
            image_id = f"{wnid}_{number}"
            drawn = draw_object_image(rng, label, classes, style, style.cue_strength, palette)
            drawn.image.save(out / "train" / wnid / f"{image_id}.JPEG", quality=92)
            xml = _imagenet_xml(rng, escape(wnid), image_id, drawn, style, style.image_size)
            (out / "train_xml" / wnid / f"{image_id}.xml").write_text(xml)
        for split, strength, chunk in (("val", style.cue_strength, numbers[images_per_class:images_per_class + val_per_class]),
                                       ("val_shifted", 1.0 / classes, numbers[images_per_class + val_per_class:])):
            for number in chunk:
                drawn = draw_object_image(rng, label, classes, style, strength, palette)
                drawn.image.save(out / split / wnid / f"{wnid}_{number}.JPEG", quality=92)
    return out


#: Files sized like the release's (~2.5 KB each in its tarball, unpacked): a few sessions per
#: image, ~40 mouse-trace points in all.
RELEASE_STYLE = Style(metadata_blocks=(2, 5), trace_points=(9, 18))


def imagenet_ab_xml_files(records: int, seed: int, classes: int = 100,
                          style: Style = RELEASE_STYLE) -> Iterator[tuple[str, bytes]]:
    """``(name, xml)`` of ``records`` XML files in the release's layout, class by class, without
    images: inputs for ingest tests and benchmarks, as many as wanted, as a folder or a tarball."""
    rng = np.random.default_rng(seed)
    wnids = pick_wnids(classes)
    for index in range(records):
        wnid = wnids[index * classes // records]
        image_id = f"{wnid}_{index}"
        centre = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
        x0, y0 = (int(rng.integers(0, 200)) for _ in range(2))
        drawn = Drawn(None, centre, (x0, y0, x0 + int(rng.integers(50, 300)), y0 + int(rng.integers(50, 300))))
        yield f"train_xml/{wnid}/{image_id}.xml", _imagenet_xml(rng, wnid, image_id, drawn, style, 500).encode()


def write_imagenet_ab_xml(out: Path, records: int, seed: int, classes: int = 100, style: Style = RELEASE_STYLE) -> Path:
    """Write :func:`imagenet_ab_xml_files` under ``out`` (``out/train_xml/<wnid>/*.xml``)."""
    for name, xml in imagenet_ab_xml_files(records, seed, classes, style):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(xml)
    return out



def write_release_tarball(path: Path, files: list[tuple[str, bytes]], total: int = FULL_RELEASE) -> Path:
    """A ``.tar.gz`` of ``total`` members: ``files`` again and again, each copy under new image ids
    (``<wnid>_<n + copy * 10^7>``, in the member name and in ``<filename>``), written with ISA-L
    (zlib at level 9 would take minutes)."""
    stride = 10 ** 7
    path.parent.mkdir(parents=True, exist_ok=True)
    with igzip.open(path, "wb", compresslevel=2) as sink:
        for index in range(total):
            copy, position = divmod(index, len(files))
            name, xml = files[position]
            if copy:
                stem = name.rsplit("/", 1)[1].removesuffix(".xml")
                wnid, number = stem.rsplit("_", 1)
                new = f"{wnid}_{int(number) + copy * stride}"
                xml = xml.replace(f"<filename>{stem}</filename>".encode(), f"<filename>{new}</filename>".encode(), 1)
                name = name.replace(stem, new)
            member = tarfile.TarInfo(name)
            member.size = len(xml)
            sink.write(member.tobuf(tarfile.USTAR_FORMAT) + xml + bytes(-len(xml) % tarfile.BLOCKSIZE))
        sink.write(bytes(2 * tarfile.BLOCKSIZE))
    return path
