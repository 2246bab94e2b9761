"""ImageNet-AB: one XML file per ImageNet-1K train image.

The parser returns the dataset row itself (a ``TypedDict``), so converting a release is parse ->
Arrow with no intermediate objects. Every field the annotation tool is known to write is typed;
anything else is kept, as JSON, in a ``raw`` column rather than dropped.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any, TypedDict

from lxml import etree

from ..schema import IMAGE_SUFFIXES
from ._errors import ByproductError
from ._values import (
    TracePoint,
    plain_trace,
    to_bool,
    to_float,
    to_int,
    to_time,
    to_trace_point,
    to_unit,
)


class Click(TypedDict):
    x: float
    y: float
    time_ms: int


class Hover(TypedDict):
    action: str
    time_ms: int


class Annotation(TypedDict):
    """One ``<metadata>`` block: one worker seeing the image in one annotation session."""

    assignment_id: str | None
    hit_id: str | None
    worker_id: str | None
    selected: bool
    selected_count: int | None
    click: Click | None
    clicks: list[Click]
    estimate_time_ms: int | None
    hovers: list[Hover]
    mouse_trace: list[TracePoint]
    image_width: int | None
    image_height: int | None
    original_image_width: int | None
    original_image_height: int | None
    image_position: str | None
    raw: str | None


class BoundingObject(TypedDict):
    name: str | None
    pose: str | None
    truncated: int | None
    difficult: int | None
    bbox: list[float] | None


class ImageNetABRecord(TypedDict):
    image_id: str
    wnid: str
    click_point: list[float] | None
    clicks: list[list[float]]
    annotations: list[Annotation]
    width: int | None
    height: int | None
    depth: int | None
    source_database: str | None
    segmented: int | None
    objects: list[BoundingObject]
    raw: str | None


# Entities are never resolved and DTDs are refused below: a billion-laughs file stays a few bytes.
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, collect_ids=False
)
_IMAGE_ID = re.compile(r"^(n\d{8})_(\d+)$")


def parse_imagenet_ab_xml(xml: bytes | str | os.PathLike, source: str | None = None) -> ImageNetABRecord:
    """Parse one ImageNet-AB XML file (a path, or its bytes) into a typed row.

    ``source`` names the file in error messages; it defaults to the path. lxml parses it, with
    entities unresolved and DTDs refused; anything malformed raises :class:`ByproductError`.
    """
    if isinstance(xml, bytes):
        return _parse(xml, source or "<bytes>")
    source = source or str(xml)
    return _parse(read_xml_file(xml, source), source)


def read_xml_file(path: str | os.PathLike, source: str) -> bytes:
    """A regular file's bytes, in one open. Non-blocking, so a FIFO is refused instead of waited on."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise ByproductError(source, f"cannot read file ({error.strerror})") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ByproductError(source, "not a regular file")
        data = os.read(descriptor, status.st_size + 1)  # all of it, and its end, in one call
        if len(data) != status.st_size:
            raise ByproductError(source, "the file changed while it was read")
        return data
    except OSError as error:
        raise ByproductError(source, f"cannot read file ({error.strerror})") from None
    finally:
        os.close(descriptor)


def _parse(data: bytes, source: str) -> ImageNetABRecord:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # the common encodings, refused before parsing
        raise ByproductError(source, "XML with a DTD or entity declarations is refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise ByproductError(source, f"malformed XML ({error})") from None
    # and on the parsed document, so no encoding (UTF-16, ...) hides a declaration
    if root.getroottree().docinfo.doctype or root.getroottree().docinfo.internalDTD is not None:
        raise ByproductError(source, "XML with a DTD or entity declarations is refused")
    if root.tag != "annotation":
        raise ByproductError(source, f"root element is <{root.tag}>, expected <annotation>")
    return _read_annotation(root, source)


def _text(element: etree._Element) -> str:
    return (element.text or "").strip()


def _to_json(element: etree._Element) -> Any:
    """An unknown element as JSON: its text, or a dict of its children (lists when repeated)."""
    if len(element) == 0:
        return _text(element)
    value: dict[str, Any] = {}
    for child in element:
        value.setdefault(child.tag, []).append(_to_json(child))
    return {key: items[0] if len(items) == 1 else items for key, items in value.items()}


def _dump_raw(raw: dict[str, list[Any]]) -> str | None:
    if not raw:
        return None
    return json.dumps({k: v[0] if len(v) == 1 else v for k, v in raw.items()}, sort_keys=True)


def _fields(element: etree._Element) -> dict[str, str]:
    """The leaf children of a small fixed element (``<size>``, ``<selectedRecord>``) by tag."""
    return {child.tag: _text(child) for child in element}


def _required(fields: dict[str, str], name: str, source: str, where: str) -> str:
    if name not in fields:
        raise ByproductError(source, f"<{where}> has no <{name}>")
    return fields[name]


def _read_annotation(root: etree._Element, source: str) -> ImageNetABRecord:
    folder = filename = source_database = None
    width = height = depth = segmented = None
    annotations: list[Annotation] = []
    objects: list[BoundingObject] = []
    raw: dict[str, list[Any]] = {}
    for child in root:
        tag = child.tag
        if tag == "metadata":
            annotations.append(_read_metadata(child, f"{source} <metadata> #{len(annotations)}"))
        elif tag == "filename":
            filename = _text(child)
        elif tag == "folder":
            folder = _text(child)
        elif tag == "size":
            size = _fields(child)
            width = to_int(size["width"], source, "size/width", minimum=0) if "width" in size else None
            height = to_int(size["height"], source, "size/height", minimum=0) if "height" in size else None
            depth = to_int(size["depth"], source, "size/depth", minimum=0) if "depth" in size else None
        elif tag == "source" and len(child) and child[0].tag == "database" and len(child) == 1:
            source_database = _text(child[0])
        elif tag == "segmented":
            segmented = to_int(_text(child), source, "segmented")
        elif tag == "object":
            objects.append(_read_object(child, source))
        elif isinstance(tag, str):
            raw.setdefault(tag, []).append(_to_json(child))
    return _record(source, filename, folder, annotations, width, height, depth, source_database, segmented,
                   objects, raw)


def _record(source: str, filename: str | None, folder: str | None, annotations: list[Annotation],
            width: int | None, height: int | None, depth: int | None, source_database: str | None,
            segmented: int | None, objects: list[BoundingObject], raw: dict[str, list[Any]]) -> ImageNetABRecord:
    """A row from the root's values, whichever parser read them: the id checks and the click target."""
    image_id = _image_id(filename, source)
    match = _IMAGE_ID.match(image_id)
    if match is None:
        raise ByproductError(source, f"filename {image_id!r} is not of the form <wnid>_<number>")
    wnid = match.group(1)
    if folder and folder != wnid:
        raise ByproductError(source, f"folder {folder!r} does not match filename {image_id!r}")

    clicks = [[a["click"]["x"], a["click"]["y"]] for a in annotations if a["click"] is not None]
    click_point = None
    if clicks:
        click_point = [sum(c[0] for c in clicks) / len(clicks), sum(c[1] for c in clicks) / len(clicks)]
    return ImageNetABRecord(
        image_id=image_id,
        wnid=wnid,
        click_point=click_point,
        clicks=clicks,
        annotations=annotations,
        width=width,
        height=height,
        depth=depth,
        source_database=source_database,
        segmented=segmented,
        objects=objects,
        raw=_dump_raw(raw),
    )


def _image_id(filename: str | None, source: str) -> str:
    """The image id of a ``<filename>``: the name less an image or ``.xml`` suffix."""
    if not filename:
        raise ByproductError(source, "missing <filename>")
    stem, suffix = os.path.splitext(filename)
    return stem if suffix.lower() in IMAGE_SUFFIXES or suffix == ".xml" else filename


def _read_object(element: etree._Element, source: str) -> BoundingObject:
    fields = {child.tag: child for child in element}
    bbox = None
    if "bndbox" in fields:
        box = _fields(fields["bndbox"])
        bbox = [to_float(_required(box, k, source, "bndbox"), source, f"bndbox/{k}") for k in ("xmin", "ymin", "xmax", "ymax")]

    def optional_int(name: str) -> int | None:
        return to_int(_text(fields[name]), source, f"object/{name}") if name in fields else None

    return BoundingObject(
        name=_text(fields["name"]) if "name" in fields else None,
        pose=_text(fields["pose"]) if "pose" in fields else None,
        truncated=optional_int("truncated"),
        difficult=optional_int("difficult"),
        bbox=bbox,
    )


_METADATA_STRINGS = {"assignment_id", "hit_id", "worker_id"}
_METADATA_SIZES = {
    "imageWidth": "image_width",
    "imageHeight": "image_height",
    "originalImageWidth": "original_image_width",
    "originalImageHeight": "original_image_height",
}


_TRACE_FIELDS = ("mouseTracking/time", "mouseTracking/x", "mouseTracking/y")
def _trace_point(element: etree._Element, source: str) -> TracePoint:
    point = {child.tag: child.text for child in element}
    return to_trace_point(point.get("time"), point.get("x"), point.get("y"), source, _TRACE_FIELDS)


def _read_metadata(element: etree._Element, source: str) -> Annotation:
    annotation: dict[str, Any] = dict.fromkeys(_METADATA_STRINGS)
    annotation.update(dict.fromkeys(_METADATA_SIZES.values()))
    selected = selected_count = estimate_time = image_position = None
    clicks: list[Click] = []
    hovers: list[Hover] = []
    raw: dict[str, list[Any]] = {}
    times: list[str | None] = []  # each trace point's texts, while every point is a plain <time><x><y>
    xs: list[str | None] = []
    ys: list[str | None] = []
    plain = True
    for child in element:
        tag = child.tag
        if tag == "mouseTracking":
            if plain:
                try:
                    time, x, y = child
                    plain = time.tag == "time" and x.tag == "x" and y.tag == "y"
                except ValueError:  # not three children
                    plain = False
                if plain:
                    times.append(time.text)
                    xs.append(x.text)
                    ys.append(y.text)
        elif tag == "hoveredRecord":
            hover = _fields(child)
            hovers.append(
                Hover(
                    action=_required(hover, "action", source, tag),
                    time_ms=to_time(_required(hover, "time", source, tag), source, "hoveredRecord/time"),
                )
            )
        elif tag == "selected":
            selected = to_bool(_text(child), source, "selected")
        elif tag == "selectedCount":
            selected_count = to_int(_text(child), source, "selectedCount", minimum=0)
        elif tag == "selectedRecord":
            record = _fields(child)
            clicks.append(Click(
                x=to_unit(_required(record, "x", source, tag), source, "selectedRecord/x"),
                y=to_unit(_required(record, "y", source, tag), source, "selectedRecord/y"),
                time_ms=to_time(_required(record, "time", source, tag), source, "selectedRecord/time"),
            ))
        elif tag == "estimateTime":
            estimate_time = to_time(_text(child), source, "estimateTime")
        elif tag in _METADATA_STRINGS:
            annotation[tag] = _text(child)
        elif tag in _METADATA_SIZES:
            annotation[_METADATA_SIZES[tag]] = to_int(_text(child), source, tag, minimum=0)
        elif tag == "imagePosition":
            image_position = _text(child) if len(child) == 0 else json.dumps(_to_json(child), sort_keys=True)
        elif isinstance(tag, str):
            raw.setdefault(tag, []).append(_to_json(child))
    trace = plain_trace(times, xs, ys) if plain else None
    if trace is None:  # some point or value needs the checked reading, which names what is wrong
        trace = [_trace_point(child, source) for child in element.iterchildren("mouseTracking")]
    if selected is None:
        raise ByproductError(source, "missing <selected>")
    if selected and not clicks:
        raise ByproductError(source, "<selected> is True but there is no <selectedRecord>")
    # Each select appends a record, so a select-deselect(-select) leaves several (or, deselected,
    # records in an unselected block). The published loader's click is a selected block's first.
    annotation.update(
        selected=selected,
        selected_count=selected_count,
        click=clicks[0] if selected else None,
        clicks=clicks,
        estimate_time_ms=estimate_time,
        hovers=hovers,
        mouse_trace=trace,
        image_position=image_position,
        raw=_dump_raw(raw),
    )
    return Annotation(**annotation)
