"""Building and publishing the layer; `build_layer.sh` at the top level is the entry point.

- `release/build_layer.sh`: the reproducible layer build (`./build_layer.sh` runs it).
- `release.zipdeterministic`, `release.layer_check`: its helpers, run as scripts with `-I`
  (standard library only, no imports from this repository).
- `release.publish_layer`: `python -m release.publish_layer` (`make layer`).
- `release.sam`, `release/sam.sh`: AWS SAM CLI from its own virtualenv (`make deploy`).
"""
