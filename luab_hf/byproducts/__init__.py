"""Parsers for the raw annotation-byproduct releases (ImageNet-AB XML, COCO-AB JSON)."""

from ._errors import ByproductError
from .coco_ab import CocoABRecord, iter_coco_ab_json, parse_coco_ab_record, replay_points
from .coco_instances import Instances, read_instances
from .imagenet_ab import (
    ImageNetABRecord,
    iter_imagenet_ab_files,
    iter_imagenet_ab_sources,
    parse_imagenet_ab_xml,
)

__all__ = [
    "ByproductError",
    "CocoABRecord",
    "ImageNetABRecord",
    "Instances",
    "iter_coco_ab_json",
    "iter_imagenet_ab_files",
    "iter_imagenet_ab_sources",
    "parse_coco_ab_record",
    "parse_imagenet_ab_xml",
    "read_instances",
    "replay_points",
]
