"""Raw releases -> Hub-layout Parquet datasets, as library code behind ``luab-convert``.

One module per concern: :mod:`.output` (the staged output folder, its card and skip list),
:mod:`.shards` (Parquet shards), :mod:`.pool` (the worker pool), :mod:`.images` (reading and
checking image files), :mod:`.records` (bad records), :mod:`.cli` (flags and the command), and
the converters :mod:`.imagenet_ab`, :mod:`.coco_ab` and :mod:`.synthetic`.

Nothing here imports torch, transformers or timm: a conversion starts in about a second.
"""
