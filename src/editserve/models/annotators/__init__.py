"""The control-map annotators (the ``control`` extension): canny, lineart, scribble, gray
(OpenCV), depth (Depth-Anything-V2-Small) and pose (RT-DETR + ViTPose, drawn as the
OpenPose skeleton). Each turns a picture into the map an edit model reads as an input
picture.

    annotators/
      options.py    each type's options (pydantic, ranges and defaults), parse_options
      registry.py   each type as data: method, weights (hub repo + files), licence
      cache_key.py  map_key: the blob key of a map (input sha256 + type + options)
      configs.py    the checkpoints' architectures, real size and tiny
      tiny.py       the tiny random-weight twins (python -m editserve.models.annotators.tiny)
      runtime/      OpenCV and torch: compute_map (workers only)

options, registry and cache_key import neither torch nor OpenCV: API nodes use them.
"""
