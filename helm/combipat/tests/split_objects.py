#!/usr/bin/env python3
"""split_objects.py CORE.yaml CRS.json FILE.yaml...: the Kubernetes objects of FILEs, the
built-in kinds (for kubernetes-validate) apart from the custom resources (for validate_crs.mjs)."""
import json
import sys

import yaml

BUILT_IN_GROUPS = ("v1", "apps/", "batch/", "policy/", "autoscaling/", "networking.k8s.io/", "rbac.authorization.k8s.io/")


def main(core_path, crs_path, files):
    core, crs = [], []
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc:
                    continue
                api = doc.get("apiVersion", "")
                (core if api == "v1" or api.startswith(BUILT_IN_GROUPS[1:]) else crs).append(doc)
    with open(core_path, "w") as f:
        yaml.safe_dump_all(core, f, sort_keys=False)
    with open(crs_path, "w") as f:
        json.dump(crs, f)
    print(f"{len(core)} built-in objects, {len(crs)} custom resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
