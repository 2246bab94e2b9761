"""Raw releases -> Hub-layout Parquet datasets, as library code behind ``luab-convert``.

The converters :mod:`.imagenet_ab` and :mod:`.coco_ab` read their release and turn chunks of
records into rows; everything around that is shared, one module per job:

- :mod:`.driver`: a conversion's skeleton (staged output, one split after another, card, push);
- :mod:`.split`: one split, from chunks to shards, in two passes over :mod:`.pool`'s workers;
- :mod:`.order`: the seeded row order and the shard plan (pure functions);
- :mod:`.staged`: staged files, written per chunk, read and merged by key bucket;
- :mod:`.parquet`: writing a shard's Parquet files;
- :mod:`.options`: the shard and row-group sizes, one object;
- :mod:`.chunks`: what a chunk function returns, and the schema it builds rows in;
- :mod:`.output`, :mod:`.records`, :mod:`.images`, :mod:`.cli`: the output folder, bad
  records, image files, the flags and the command.
"""
