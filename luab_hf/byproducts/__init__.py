"""Parsers for the raw annotation-byproduct releases (ImageNet-AB XML, COCO-AB JSON), and the
readers that walk a release record by record."""

from ._errors import ByproductError
from .coco_ab import CocoABRecord, iter_coco_ab_json, parse_coco_ab_record, replay_points
from .coco_instances import Instances, read_instances
from .imagenet_ab import ImageNetABRecord, parse_imagenet_ab_xml
from .imagenet_ab_release import iter_imagenet_ab_files, iter_imagenet_ab_sources

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
